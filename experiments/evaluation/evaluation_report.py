"""The report of a one-pass evaluation, rebuilt from its stored results alone (``tbt evaluate``/``report``).

:func:`report_evaluation` reads ``<out>/results`` (the GOT-10k layout written by
``tracking_by_trackers.experiments.evaluation.evaluate``) as the evaluation's manifest describes it, scores every tracker, adds the
oracle fusion of the teachers and TRAST/TRASFUST's hand-over shares, writes ``<out>/report`` and prints
the pooled table.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.evaluation.member_choices import member_share_table
from tracking_by_trackers.experiments.evaluation.ope_metrics import MEAN_OVER_SEQUENCES, POOL_FRAMES
from tracking_by_trackers.experiments.evaluation.report import (
    COLUMN_FPS,
    markdown_table,
    member_share_markdown,
    read_timings,
    score_results,
    write_report,
)
from tracking_by_trackers.policies.trackers.factory import is_student_tracker_spec
from tracking_by_trackers.teachers.identity_tracker import IdentityTracker
from tracking_by_trackers.teachers.registry import RESULTS_PREFIX

__all__ = ["pooling_mode", "report_evaluation"]

logger = logging.getLogger(__name__)

# GOT-10k and the synthetic set pool frames; the OTB family averages per-sequence scores.
_SEQUENCE_MEAN_BENCHMARKS = {"OTB", "UAV123", "UAV123_10fps", "LaSOT", "VOT"}


def pooling_mode(sequences) -> str:
    """How a benchmark pools its sequences: over frames (GOT-10k, synthetic) or as a mean of sequences."""
    benchmarks = {sequence.benchmark for sequence in sequences}
    return MEAN_OVER_SEQUENCES if benchmarks <= _SEQUENCE_MEAN_BENCHMARKS else POOL_FRAMES


def report_evaluation(out: Path, manifest: dict) -> pd.DataFrame:
    """Score the stored results under ``out`` and write ``out/report``; returns the pooled table."""
    sequences = load_dataset(manifest["dataset"])
    trackers = manifest["trackers"]
    # Manifests written before student trackers existed have no specs: their names were their specs.
    specs = {name: manifest.get("specs", {}).get(name, name) for name in trackers}
    student_trackers = [name for name in trackers if is_student_tracker_spec(specs[name])]
    # Replayed tracks, and student trackers whose teachers are replayed, have no FPS worth reporting.
    replayed = [name for name in trackers if RESULTS_PREFIX in specs[name]]
    # The oracle fuses the teachers: the student's trackers are what it is compared with, not members.
    oracle_of = [name for name in trackers if name != IdentityTracker.name and name not in student_trackers]
    mode = pooling_mode(sequences)
    started = time.perf_counter()
    results = out / "results"
    scores = score_results(results, sequences, trackers, oracle_of=oracle_of)
    timings = read_timings(results, sequences, trackers, replayed=replayed)
    shares = member_share_table(results, sequences, student_trackers)
    table = write_report(scores, out / "report", mode, timings=timings, member_shares=shares)
    print(f"\n{len(sequences)} sequences, pooled over {'frames' if mode == POOL_FRAMES else 'sequences'}:\n")
    print(markdown_table(table, column_formats={COLUMN_FPS: "{:.1f}"}))
    if len(shares):
        print("share of the tracked frames whose box came from each member (TRAST / TRASFUST):\n")
        print(member_share_markdown(shares))
    logger.info("scored in %.1f s", time.perf_counter() - started)
    extra = ", teacher_share.*" if len(shares) else ""
    print(
        f"report written to {out / 'report'} (scores.md, scores.csv, per_sequence_scores.md, "
        f"per_sequence_ao.csv, *_plot.png{extra})"
    )
    return table
