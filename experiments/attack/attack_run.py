"""``tbt attack``: attack every sequence, score the trackers on the patched frames, resumably.

docs/attack.md, *Running it*. The work is cut into units, one per (sequence, δ, steps): a unit is done when
its JSON file exists under ``<out>/units/<benchmark>/<sequence>/delta=<δ>/steps=<N>.json``, written
atomically after its patch (``patch_steps=<N>.npy`` beside it). A stopped run, started again with the
same ``--out``, skips the finished units; an attack whose shorter checkpoints are done goes on from the
stored patch of the longest one instead of starting again from grey. The attacks of one (sequence, δ)
are nested: the patch after 20 steps is the patch after 10 steps climbed 10 steps more, so each
(sequence, δ) is climbed once up to its largest step count and the trackers are scored at every
checkpoint on the way. 0 steps is the clean video (no patch), scored once per sequence.

``<out>/attack.json`` records what the results depend on (student, dataset, trackers, frames, margin,
padding); a second run into the same folder with other values is refused, since its units would mix two
experiments. More steps or step sizes may be added to a finished run.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Sequence as SequenceABC
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tracking_by_trackers.envs.sequence import Sequence
from tracking_by_trackers.experiments.attack.attack_report import write_attack_report
from tracking_by_trackers.experiments.attack.background_patch import (
    DEFAULT_MARGIN,
    DEFAULT_PADDING,
    PatchGeometry,
    patched_sequence,
)
from tracking_by_trackers.experiments.attack.patch_attack import PatchAttack
from tracking_by_trackers.experiments.evaluation.evaluate import parse_evaluation_trackers, track_and_record
from tracking_by_trackers.experiments.evaluation.ope_metrics import score_sequence
from tracking_by_trackers.policies.student_export import load_student
from tracking_by_trackers.policies.trackers.student_tracker import resolve_device
from tracking_by_trackers.teachers.atomic_io import write_bytes_atomically, write_text_atomically
from tracking_by_trackers.teachers.registry import RESULTS_PREFIX
from tracking_by_trackers.teachers.tracker import TrackerFactory

__all__ = [
    "DEFAULT_DELTAS",
    "DEFAULT_FRAMES",
    "DEFAULT_STEPS",
    "DEFAULT_TRACKERS",
    "MANIFEST",
    "AttackSettings",
    "parse_deltas",
    "parse_shard",
    "parse_steps",
    "run_attack",
    "shard_sequences",
    "unit_dir",
]

logger = logging.getLogger(__name__)

DEFAULT_STEPS = (0, 10, 20, 50, 100)
"""The paper's Table 1 step counts up to 100 (0: the clean video)."""
DEFAULT_DELTAS = (0.1, 0.2)
"""The paper's two step sizes δ, in pixel value on [0, 1]."""
DEFAULT_TRACKERS = "tras,trast:csrt,trasfust:kcf+csrt"
DEFAULT_FRAMES = 100
"""Frames attacked and scored per sequence, from frame 0 (the paper attacks the first 100); 0: all."""
MANIFEST = "attack.json"
# What the stored units depend on: a resumed run must agree on all of them.
_FIXED_SETTINGS = ("student", "dataset", "trackers", "frames", "margin", "padding")


@dataclass(frozen=True)
class AttackSettings:
    """What ``tbt attack`` runs; see its ``--help`` and docs/attack.md."""

    student: str
    dataset: str
    trackers: tuple[str, ...] = tuple(DEFAULT_TRACKERS.split(","))
    steps: tuple[int, ...] = DEFAULT_STEPS
    deltas: tuple[float, ...] = DEFAULT_DELTAS
    frames: int = DEFAULT_FRAMES
    margin: float = DEFAULT_MARGIN
    padding: float = DEFAULT_PADDING
    max_sequences: int | None = None
    shard: tuple[int, int] | None = None
    """``(K, N)``: attack only sequences K, K + N, K + 2N, … (after ``max_sequences``); None: all."""
    device: str | None = None
    model_dir: str | None = None

    def manifest(self) -> dict:
        values = asdict(self)
        values["student"] = str(Path(self.student).resolve())
        values["trackers"] = list(self.trackers)
        return {key: values[key] for key in _FIXED_SETTINGS}


def parse_steps(text: str) -> tuple[int, ...]:
    """``"0,10,20"`` → ``(0, 10, 20)``; a clear error for anything that is not a list of counts ≥ 0."""
    try:
        steps = tuple(sorted({int(item) for item in text.split(",") if item.strip()}))
    except ValueError:
        raise ValueError(
            f"--steps must be comma-separated whole numbers such as 0,10,20,50,100, got {text!r}"
        ) from None
    if not steps or steps[0] < 0:
        raise ValueError(f"--steps must list step counts >= 0, got {text!r}")
    return steps


def parse_deltas(text: str) -> tuple[float, ...]:
    """``"0.1,0.2"`` → ``(0.1, 0.2)``; every δ must lie in (0, 1] (a step in pixel value on [0, 1])."""
    try:
        deltas = tuple(sorted({float(item) for item in text.split(",") if item.strip()}))
    except ValueError:
        raise ValueError(f"--deltas must be comma-separated numbers such as 0.1,0.2, got {text!r}") from None
    if not deltas or not all(0 < delta <= 1 for delta in deltas):
        raise ValueError(f"--deltas must be step sizes in (0, 1] (pixel values on [0, 1]), got {text!r}")
    return deltas


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"1/4"`` → ``(1, 4)`` (the second of four shards); None stays None; a clear error for anything else."""
    if text is None:
        return None
    index, slash, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        shard = None
    if not slash or shard is None or not 0 <= shard[0] < shard[1]:
        raise ValueError(f"--shard must be K/N with 0 <= K < N, such as 0/2 and 1/2, got {text!r}")
    return shard


def shard_sequences(sequences: list[Sequence], shard: tuple[int, int] | None) -> list[Sequence]:
    """The sequences of ``shard`` ``(K, N)``: every N-th from the K-th, so that N shards split them evenly."""
    if shard is None:
        return sequences
    index, count = shard
    return sequences[index::count]


def unit_dir(out: Path, sequence: Sequence, delta: float) -> Path:
    """The folder of one (sequence, δ)'s units and patches."""
    return out / "units" / sequence.benchmark / sequence.name / f"delta={delta:g}"


def _unit_file(out: Path, sequence: Sequence, delta: float, steps: int) -> Path:
    return unit_dir(out, sequence, delta) / f"steps={steps}.json"


def _patch_file(out: Path, sequence: Sequence, delta: float, steps: int) -> Path:
    return unit_dir(out, sequence, delta) / f"patch_steps={steps}.npy"


def _check_manifest(out: Path, manifest: dict) -> None:
    path = out / MANIFEST
    if path.is_file():
        previous = json.loads(path.read_text())
        differing = [key for key in _FIXED_SETTINGS if previous.get(key) != manifest[key]]
        if differing:
            detail = "; ".join(
                f"{key}: stored {previous.get(key)!r}, now {manifest[key]!r}" for key in differing
            )
            raise ValueError(
                f"{path} holds an attack run with other settings ({detail}); choose another --out"
            )
    write_text_atomically(path, json.dumps(manifest, indent=2))


def _check_tracker_specs(specs: SequenceABC[str]) -> None:
    replayed = [spec for spec in specs if RESULTS_PREFIX in spec]
    if replayed:
        raise ValueError(
            f"--trackers {','.join(replayed)}: stored results were tracked on the clean frames; the attack "
            "needs trackers that run on the patched frames"
        )


def _score(factories: dict[str, TrackerFactory], sequence: Sequence) -> dict[str, float | None]:
    scores = {}
    for name, factory in factories.items():
        result, _ = track_and_record(factory, sequence)
        ao = score_sequence(result.boxes, sequence.gt_boxes, sequence.absent).ao
        scores[name] = None if np.isnan(ao) else float(ao)
    return scores


def _write_unit(path: Path, sequence: Sequence, delta: float, steps: int, **values) -> None:
    unit = {"benchmark": sequence.benchmark, "sequence": sequence.name, "delta": delta, "steps": steps}
    unit["frames"] = len(sequence)
    write_text_atomically(path, json.dumps({**unit, **values}, indent=2))


def _stored_patch(out: Path, sequence: Sequence, delta: float, below: int) -> tuple[int, np.ndarray | None]:
    """The stored patch with the most steps under ``below`` whose unit is done: ``(steps, patch)``, or (0, None)."""
    best = 0
    for path in unit_dir(out, sequence, delta).glob("patch_steps=*.npy"):
        steps = int(path.stem.split("=", 1)[1])
        if best < steps < below and _unit_file(out, sequence, delta, steps).is_file():
            best = steps
    if best == 0:
        return 0, None
    return best, np.load(_patch_file(out, sequence, delta, best))


def _attacked_part(sequence: Sequence, frames: int) -> Sequence:
    return sequence if frames <= 0 or len(sequence) <= frames else sequence.slice(0, frames)


def run_attack(settings: AttackSettings, sequences: list[Sequence], out: str | Path):
    """Attack ``sequences`` (already loaded from ``settings.dataset``) and write the report into ``out``.

    Returns:
        The attack table (:func:`~tracking_by_trackers.experiments.attack.attack_report.attack_table`).

    Raises:
        ValueError: Trackers that replay stored results, a bad tracker spec, or an ``out`` holding a run
            with other settings.
    """
    out = Path(out)
    _check_tracker_specs(settings.trackers)
    device = resolve_device(settings.device)
    network = load_student(settings.student).to(device).eval()
    factories, _ = parse_evaluation_trackers(
        ",".join(settings.trackers), student=network, model_dir=settings.model_dir, device=str(device)
    )
    _check_manifest(out, settings.manifest())
    if settings.max_sequences is not None:
        sequences = sequences[: settings.max_sequences]
    sequences = shard_sequences(sequences, settings.shard)
    sequences = [_attacked_part(sequence, settings.frames) for sequence in sequences]
    total = len(sequences) * len(settings.deltas) * len(settings.steps)
    done = sum(
        _unit_file(out, sequence, delta, steps).is_file()
        for sequence in sequences
        for delta in settings.deltas
        for steps in settings.steps
    )
    with tqdm(total=total, initial=done, desc="attack units", unit="unit") as bar:
        for sequence in sequences:
            _attack_sequence(settings, network, device, factories, sequence, out, bar)
    return write_attack_report(out, list(factories))


def _attack_sequence(settings, network, device, factories, sequence: Sequence, out: Path, bar) -> None:
    missing = {
        delta: [steps for steps in settings.steps if not _unit_file(out, sequence, delta, steps).is_file()]
        for delta in settings.deltas
    }
    if not any(missing.values()):
        return
    if len(sequence) < 2:
        logger.warning(
            "skipping %s/%s: one frame, nothing to attack or score", sequence.benchmark, sequence.name
        )
        bar.update(sum(len(todo) for todo in missing.values()))
        return
    clean_scores = None
    geometry = PatchGeometry.for_sequence(sequence, settings.margin, settings.padding)
    attack = None
    for delta, todo in missing.items():
        if 0 in todo:
            if clean_scores is None:
                started = time.perf_counter()
                clean_scores = _score(factories, sequence)
                clean_seconds = time.perf_counter() - started
            _write_unit(
                _unit_file(out, sequence, delta, 0),
                sequence,
                delta,
                0,
                loss=None,
                attack_seconds=0.0,
                tracking_seconds=clean_seconds,
                mean_iou=clean_scores,
            )
            bar.update(1)
        wanted = [steps for steps in todo if steps > 0]
        if not wanted:
            continue
        if attack is None:
            attack = PatchAttack(network, sequence, geometry, device)
        start_step, start = _stored_patch(out, sequence, delta, min(wanted))
        bar.set_postfix_str(f"{sequence.name} δ={delta:g}")
        started = time.perf_counter()
        for result in attack.run(delta, wanted, start, start_step):
            attack_seconds = time.perf_counter() - started
            buffer = io.BytesIO()
            np.save(buffer, result.patch)
            write_bytes_atomically(_patch_file(out, sequence, delta, result.step), buffer.getvalue())
            started = time.perf_counter()
            scores = _score(factories, patched_sequence(sequence, geometry, result.patch))
            _write_unit(
                _unit_file(out, sequence, delta, result.step),
                sequence,
                delta,
                result.step,
                loss=result.loss,
                attack_seconds=attack_seconds,
                tracking_seconds=time.perf_counter() - started,
                mean_iou=scores,
            )
            bar.update(1)
            started = time.perf_counter()
