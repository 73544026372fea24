"""The report stage: scores, tables and plots from stored results, re-runnable without tracking again.

Scores are computed once from the result files (``teachers.results_store``) and the sequences' ground
truth; tables and plots are made from those scores. The *oracle* row picks, on every frame, the box of the
member tracker with the highest IoU: the upper bound of any fusion of those trackers.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are written to files, on machines without a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from envs.boxes import iou  # noqa: E402
from envs.sequence import Sequence  # noqa: E402
from experiments.ope_metrics import (  # noqa: E402
    PRECISION_THRESHOLDS_PX,
    SUCCESS_THRESHOLDS,
    SequenceScores,
    pool_scores,
    score_sequence,
    scores_table,
)
from teachers.atomic_io import write_text_atomically  # noqa: E402
from teachers.results_store import read_result  # noqa: E402

ORACLE = "oracle"


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


def per_sequence_table(scores: dict[str, dict[str, SequenceScores]]) -> pd.DataFrame:
    """AO per (sequence, tracker): rows are sequences, columns trackers."""
    return pd.DataFrame(
        {tracker: {seq: s.ao for seq, s in per_seq.items()} for tracker, per_seq in scores.items()}
    )


def markdown_table(table: pd.DataFrame, float_format: str = "{:.3f}") -> str:
    """A GitHub-flavoured Markdown table (pandas' own ``to_markdown`` needs the extra ``tabulate``)."""
    header = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(table.columns)) + "|"]
    # itertuples keeps each column's dtype (iterrows would turn integer counts into floats).
    for index, *row in table.itertuples(name=None):
        cells = [float_format.format(v) if isinstance(v, float) else str(v) for v in row]
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def write_report(
    scores: dict[str, dict[str, SequenceScores]], out_dir: str | Path, mode: str
) -> pd.DataFrame:
    """Write ``scores.csv``, ``scores.md``, ``per_sequence_ao.csv`` and the success and precision plots.

    Returns:
        The pooled scores table (one row per tracker, best AO first).
    """
    out_dir = Path(out_dir)
    table = scores_table(scores, mode)
    write_text_atomically(out_dir / "scores.csv", table.to_csv(float_format="%.6f"))
    write_text_atomically(out_dir / "scores.md", markdown_table(table))
    write_text_atomically(
        out_dir / "per_sequence_ao.csv", per_sequence_table(scores).to_csv(float_format="%.6f")
    )
    _plot_curves(scores, mode, "success", out_dir / "success_plot.png")
    _plot_curves(scores, mode, "precision", out_dir / "precision_plot.png")
    return table
