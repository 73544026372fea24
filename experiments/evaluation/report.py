"""The report stage: scores, tables and plots from stored results, re-runnable without tracking again.

Scores are computed once from the result files (``tracking_by_trackers.teachers.results_store``) and the sequences' ground
truth; tables and plots are made from those scores. The *oracle* row picks, on every frame, the box of the
member tracker with the highest IoU: the upper bound of any fusion of those trackers.

Speed: a tracker's FPS is the number of tracked frames divided by the seconds spent in ``update`` (frame
0's ``init`` and frame reading left out), pooled over sequences; NaN for stored results of published
trackers (no times, or the times of a replay, which say nothing about the tracker).

TRAST and TRASFUST add the paper's Fig. 6: the fraction of frames handed to the teachers and each
member's share (:mod:`tracking_by_trackers.experiments.evaluation.member_choices`), as a table and a bar plot.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are written to files, on machines without a display
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tracking_by_trackers.envs.boxes import iou  # noqa: E402
from tracking_by_trackers.envs.sequence import Sequence  # noqa: E402
from tracking_by_trackers.experiments.evaluation.member_choices import (  # noqa: E402
    COLUMN_HANDED_TO_TEACHERS,
    COLUMN_TRACKED_FRAMES,
)
from tracking_by_trackers.experiments.evaluation.ope_metrics import (  # noqa: E402
    COLUMN_NUM_SEQUENCES,
    PRECISION_THRESHOLDS_PX,
    SUCCESS_THRESHOLDS,
    SequenceScores,
    pool_scores,
    score_sequence,
    scores_table,
)
from tracking_by_trackers.policies.trackers.student_tracker import STUDENT  # noqa: E402
from tracking_by_trackers.teachers.atomic_io import write_text_atomically  # noqa: E402
from tracking_by_trackers.teachers.results_store import read_result  # noqa: E402

ORACLE = "oracle"
COLUMN_FPS = "FPS"
# What a Markdown cell shows for a missing number (a replay's speed, a member a tracker does not have).
MISSING = "–"
_STUDENT_COLOUR = "#7f7f7f"


@dataclass(frozen=True)
class Timing:
    """Tracked frames (after frame 0, with a measured time) and the seconds their updates took."""

    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.frames and self.seconds > 0 else float("nan")


def oracle_boxes(boxes_by_tracker: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """Per frame, the box of the tracker with the highest IoU with the ground truth.

    Args:
        boxes_by_tracker: ``(K, N, 4)`` boxes of K trackers on N frames.
        gt_boxes: ``(N, 4)``.

    Returns:
        ``(N, 4)``; on frames without ground truth (all IoUs 0) the first tracker's box.
    """
    best = iou(boxes_by_tracker, gt_boxes[None]).argmax(axis=0)
    return np.take_along_axis(boxes_by_tracker, best[None, :, None], axis=0)[0]


def score_results(
    results_root: str | Path,
    sequences: SequenceABC[Sequence],
    tracker_names: SequenceABC[str],
    oracle_of: SequenceABC[str] = (),
) -> dict[str, dict[str, SequenceScores]]:
    """``{tracker: {sequence: scores}}`` for every tracker, plus :data:`ORACLE` over ``oracle_of``."""
    scores: dict[str, dict[str, SequenceScores]] = {name: {} for name in tracker_names}
    if len(oracle_of) >= 2:
        scores[ORACLE] = {}
    for sequence in sequences:
        boxes = {
            name: read_result(results_root, sequence.benchmark, name, sequence.name).boxes
            for name in {*tracker_names, *oracle_of}
        }
        for name in tracker_names:
            scores[name][sequence.name] = score_sequence(boxes[name], sequence.gt_boxes, sequence.absent)
        if ORACLE in scores:
            fused = oracle_boxes(np.stack([boxes[name] for name in oracle_of]), sequence.gt_boxes)
            scores[ORACLE][sequence.name] = score_sequence(fused, sequence.gt_boxes, sequence.absent)
    return scores


def read_timings(
    results_root: str | Path,
    sequences: SequenceABC[Sequence],
    tracker_names: SequenceABC[str],
    replayed: SequenceABC[str] = (),
) -> dict[str, dict[str, Timing]]:
    """``{tracker: {sequence: Timing}}`` from the stored per-frame times; no frames for ``replayed`` ones."""
    timings: dict[str, dict[str, Timing]] = {}
    for name in tracker_names:
        timings[name] = {}
        for sequence in sequences:
            times = read_result(results_root, sequence.benchmark, name, sequence.name).times[1:]
            measured = times[np.isfinite(times)] if name not in replayed else times[:0]
            timings[name][sequence.name] = Timing(len(measured), float(measured.sum()))
    return timings


def pooled_fps(per_sequence: dict[str, Timing]) -> float:
    """Frames over seconds, summed over sequences (so long sequences weigh more, as frames do)."""
    return Timing(
        sum(t.frames for t in per_sequence.values()), sum(t.seconds for t in per_sequence.values())
    ).fps


def per_sequence_table(scores: dict[str, dict[str, SequenceScores]]) -> pd.DataFrame:
    """AO per (sequence, tracker): rows are sequences, columns trackers."""
    return pd.DataFrame(
        {tracker: {seq: s.ao for seq, s in per_seq.items()} for tracker, per_seq in scores.items()}
    )


def per_sequence_scores_table(
    scores: dict[str, dict[str, SequenceScores]], timings: dict[str, dict[str, Timing]] | None = None
) -> pd.DataFrame:
    """Every score of every (sequence, tracker), with FPS: one row each, by sequence, best AO first.

    Returns:
        A DataFrame indexed by sequence (index name ``"sequence"``) with a ``tracker`` column and the
        columns of :func:`~tracking_by_trackers.experiments.evaluation.ope_metrics.scores_table` (``frames``, not ``sequences``), plus
        ``FPS`` when ``timings`` are given.
    """
    tables = []
    for sequence in dict.fromkeys(seq for per_seq in scores.values() for seq in per_seq):
        table = scores_table({tracker: {sequence: per_seq[sequence]} for tracker, per_seq in scores.items()})
        table = table.drop(columns=COLUMN_NUM_SEQUENCES)
        if timings is not None:
            table[COLUMN_FPS] = [
                timings[t][sequence].fps if t in timings else float("nan") for t in table.index
            ]
        tables.append(table.reset_index().assign(sequence=sequence).set_index("sequence"))
    return pd.concat(tables) if tables else pd.DataFrame()


def markdown_table(
    table: pd.DataFrame, float_format: str = "{:.3f}", column_formats: dict[str, str] | None = None
) -> str:
    """A GitHub-flavoured Markdown table (pandas' own ``to_markdown`` needs the extra ``tabulate``).

    Floats use ``float_format`` unless ``column_formats`` names their column; NaN shows as "–".
    """
    formats = [(column_formats or {}).get(str(column), float_format) for column in table.columns]
    header = [table.index.name or "", *map(str, table.columns)]
    # Numbers right-aligned, text (tracker names in a per-sequence table) left-aligned.
    alignments = [
        "---:" if pd.api.types.is_numeric_dtype(table[column]) else "---" for column in table.columns
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", *alignments]) + "|"]
    # itertuples keeps each column's dtype (iterrows would turn integer counts into floats).
    for index, *row in table.itertuples(name=None):
        cells = [
            (MISSING if np.isnan(v) else fmt.format(v)) if isinstance(v, float) else str(v)
            for v, fmt in zip(row, formats, strict=True)
        ]
        lines.append("| " + " | ".join([str(index), *cells]) + " |")
    return "\n".join(lines) + "\n"


def _plot_curves(scores, mode: str, kind: str, path: Path) -> None:
    pooled = {tracker: pool_scores(per_seq, mode) for tracker, per_seq in scores.items()}
    if kind == "success":
        x, attr, score_attr = SUCCESS_THRESHOLDS, "success_curve", "success_auc"
        xlabel, title = "Overlap threshold", "Success plots of OPE"
    else:
        x, attr, score_attr = PRECISION_THRESHOLDS_PX, "precision_curve", "precision_20px"
        xlabel, title = "Location error threshold (px)", "Precision plots of OPE"
    order = sorted(pooled, key=lambda t: -np.nan_to_num(getattr(pooled[t], score_attr), nan=-1))
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for rank, tracker in enumerate(order):
        curve = getattr(pooled[tracker], attr)
        style = "--" if tracker == ORACLE else "-"
        ax.plot(
            x,
            curve,
            style,
            linewidth=2.2 if rank == 0 else 1.6,
            label=f"{tracker} [{getattr(pooled[tracker], score_attr):.3f}]",
        )
    ax.set(
        xlabel=xlabel,
        ylabel="Success rate" if kind == "success" else "Precision",
        title=title,
        xlim=(x[0], x[-1]),
        ylim=(0, 1.02),
    )
    ax.grid(True, linestyle=":", alpha=0.6)
    ax.legend(loc="lower left" if kind == "success" else "lower right", fontsize=9, frameon=True)
    fig.tight_layout()
    _save_figure(fig, path)


def _plot_member_shares(shares: pd.DataFrame, path: Path) -> None:
    """Horizontal stacked bars: per tracker, each member's share of the tracked frames (paper, Fig. 6)."""
    members = [c for c in shares.columns if c not in (COLUMN_TRACKED_FRAMES, COLUMN_HANDED_TO_TEACHERS)]
    teachers = [m for m in members if m != STUDENT]
    palette = plt.get_cmap("tab10").colors
    colours = {STUDENT: _STUDENT_COLOUR, **{m: palette[i % len(palette)] for i, m in enumerate(teachers)}}
    # Most hand-over at the top.
    order = shares.sort_values(COLUMN_HANDED_TO_TEACHERS, kind="stable").index
    fig, ax = plt.subplots(figsize=(7.2, 1.2 + 0.55 * len(order)), dpi=120)
    for row, tracker in enumerate(order):
        left = 0.0
        for member in members:
            share = shares.loc[tracker, member]
            if not share > 0:
                continue
            ax.barh(row, share, left=left, color=colours[member], edgecolor="white", height=0.62)
            if share >= 0.06:
                text_colour = "white" if member == STUDENT or colours[member] != palette[1] else "black"
                ax.text(
                    left + share / 2,
                    row,
                    f"{share:.0%}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color=text_colour,
                )
            left += share
    ax.set_yticks(range(len(order)), labels=list(order))
    ax.set(xlim=(0, 1), xlabel="Share of the tracked frames whose box came from the member")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title("Whose box the student's trackers output", fontsize=11)
    handles = [matplotlib.patches.Patch(color=colours[m], label=m) for m in members]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    _save_figure(fig, path)


def _save_figure(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def write_report(
    scores: dict[str, dict[str, SequenceScores]],
    out_dir: str | Path,
    mode: str,
    timings: dict[str, dict[str, Timing]] | None = None,
    member_shares: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Write the report's tables and plots to ``out_dir``.

    Always: ``scores.csv`` / ``scores.md`` (pooled, one row per tracker), ``per_sequence_scores.csv`` /
    ``per_sequence_scores.md`` (every score per sequence and tracker), ``per_sequence_ao.csv`` (AO,
    sequences × trackers) and ``success_plot.png`` / ``precision_plot.png``. With ``member_shares`` (from
    :func:`tracking_by_trackers.experiments.evaluation.member_choices.member_share_table`, not empty): ``teacher_share.csv`` /
    ``teacher_share.md`` and ``teacher_share.png``.

    Args:
        scores: ``{tracker: {sequence: scores}}`` from :func:`score_results`.
        out_dir: The report folder.
        mode: How to pool sequences (:data:`~tracking_by_trackers.experiments.evaluation.ope_metrics.POOL_FRAMES` or
            :data:`~tracking_by_trackers.experiments.evaluation.ope_metrics.MEAN_OVER_SEQUENCES`).
        timings: From :func:`read_timings`; adds an ``FPS`` column (NaN for trackers without timings).
        member_shares: The TRAST / TRASFUST hand-over table.

    Returns:
        The pooled scores table (one row per tracker, best AO first).
    """
    out_dir = Path(out_dir)
    table = scores_table(scores, mode)
    if timings is not None:
        table[COLUMN_FPS] = [pooled_fps(timings[t]) if t in timings else float("nan") for t in table.index]
    formats = {COLUMN_FPS: "{:.1f}"}
    write_text_atomically(out_dir / "scores.csv", table.to_csv(float_format="%.6f"))
    write_text_atomically(out_dir / "scores.md", markdown_table(table, column_formats=formats))
    per_sequence = per_sequence_scores_table(scores, timings)
    write_text_atomically(out_dir / "per_sequence_scores.csv", per_sequence.to_csv(float_format="%.6f"))
    write_text_atomically(
        out_dir / "per_sequence_scores.md", markdown_table(per_sequence, column_formats=formats)
    )
    write_text_atomically(
        out_dir / "per_sequence_ao.csv", per_sequence_table(scores).to_csv(float_format="%.6f")
    )
    _plot_curves(scores, mode, "success", out_dir / "success_plot.png")
    _plot_curves(scores, mode, "precision", out_dir / "precision_plot.png")
    if member_shares is not None and len(member_shares):
        write_text_atomically(out_dir / "teacher_share.csv", member_shares.to_csv(float_format="%.6f"))
        write_text_atomically(out_dir / "teacher_share.md", member_share_markdown(member_shares))
        _plot_member_shares(member_shares, out_dir / "teacher_share.png")
    return table


def member_share_markdown(shares: pd.DataFrame) -> str:
    """The hand-over table in Markdown, fractions as percentages."""
    percent = {c: "{:.1%}" for c in shares.columns if c != COLUMN_TRACKED_FRAMES}
    return markdown_table(shares, column_formats=percent)
