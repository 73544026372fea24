"""The attack's table and plot, in the style of the paper's Table 1 and Fig. 6, from the stored results.

Each finished (sequence, δ, steps) is one JSON file (:mod:`~tracking_by_trackers.experiments.attack.attack_run`);
this module reads them all and writes:

- ``attack_per_sequence.csv``: one row per (sequence, δ, steps, tracker) with its mean IoU;
- ``attack_table.csv`` / ``attack_table.md``: mean IoU over sequences (each sequence's mean over its
  scored frames first, as the paper averages), one row per attack (steps, δ), one column per tracker,
  and the number of sequences behind each row. 0 steps is the clean video, the same for every δ, so it
  is one row;
- ``attack_plot.png``: mean IoU against attack steps, one panel per δ, one line per tracker.

Mean IoU is the project's AO on [0, 1] (:func:`~tracking_by_trackers.experiments.evaluation.ope_metrics.score_sequence`);
the paper prints it in percent.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # written to files, on machines without a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from tracking_by_trackers.experiments.evaluation.report import MISSING, markdown_table  # noqa: E402
from tracking_by_trackers.teachers.atomic_io import write_bytes_atomically, write_text_atomically  # noqa: E402

__all__ = [
    "COLUMN_DELTA",
    "COLUMN_MEAN_IOU",
    "COLUMN_SEQUENCES",
    "COLUMN_STEPS",
    "attack_table",
    "read_unit_results",
    "write_attack_report",
]

COLUMN_DELTA = "delta"
COLUMN_STEPS = "steps"
COLUMN_TRACKER = "tracker"
COLUMN_MEAN_IOU = "mean_iou"
COLUMN_SEQUENCES = "sequences"
UNIT_GLOB = "units/**/steps=*.json"
"""Where :mod:`~tracking_by_trackers.experiments.attack.attack_run` stores a finished unit, under the output folder."""


def read_unit_results(out: str | Path) -> pd.DataFrame:
    """Every stored unit of ``out`` as rows ``benchmark, sequence, delta, steps, tracker, mean_iou``."""
    rows = []
    for path in sorted(Path(out).glob(UNIT_GLOB)):
        unit = json.loads(path.read_text())
        for tracker, value in unit["mean_iou"].items():
            rows.append(
                {
                    "benchmark": unit["benchmark"],
                    "sequence": unit["sequence"],
                    COLUMN_DELTA: float(unit["delta"]),
                    COLUMN_STEPS: int(unit["steps"]),
                    COLUMN_TRACKER: tracker,
                    COLUMN_MEAN_IOU: float("nan") if value is None else float(value),
                }
            )
    columns = ["benchmark", "sequence", COLUMN_DELTA, COLUMN_STEPS, COLUMN_TRACKER, COLUMN_MEAN_IOU]
    return pd.DataFrame(rows, columns=columns)


def attack_table(per_sequence: pd.DataFrame, trackers: list[str] | None = None) -> pd.DataFrame:
    """Mean IoU over sequences per (δ, steps) and tracker, with the count of sequences.

    Sequences whose mean IoU is NaN (no scored frame) are left out of the mean. Rows are sorted by δ,
    then steps; columns follow ``trackers`` (default: the order they first appear in).
    """
    if per_sequence.empty:
        return pd.DataFrame(columns=[COLUMN_DELTA, COLUMN_STEPS, *(trackers or []), COLUMN_SEQUENCES])
    trackers = trackers or list(dict.fromkeys(per_sequence[COLUMN_TRACKER]))
    keys = [COLUMN_DELTA, COLUMN_STEPS]
    means = per_sequence.pivot_table(
        index=keys, columns=COLUMN_TRACKER, values=COLUMN_MEAN_IOU, aggfunc="mean", dropna=False
    )
    table = means.reindex(columns=[t for t in trackers if t in means.columns])
    table[COLUMN_SEQUENCES] = per_sequence.groupby(keys)["sequence"].nunique()
    table.columns.name = None
    return table.reset_index().sort_values(keys, kind="stable").reset_index(drop=True)


def _paper_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the paper lays it out: one clean row (0 steps), then each δ's attacks."""
    clean = table[table[COLUMN_STEPS] == 0].head(1).assign(**{COLUMN_DELTA: MISSING})
    attacks = table[table[COLUMN_STEPS] > 0].astype({COLUMN_DELTA: object})
    rows = pd.concat([clean, attacks], ignore_index=True)
    rows[COLUMN_STEPS] = [("0 (clean)" if steps == 0 else str(steps)) for steps in rows[COLUMN_STEPS]]
    rows[COLUMN_DELTA] = [value if value == MISSING else f"{value:g}" for value in rows[COLUMN_DELTA]]
    return rows.set_index(COLUMN_STEPS)


def _plot(table: pd.DataFrame, trackers: list[str], path: Path) -> None:
    deltas = sorted(table.loc[table[COLUMN_STEPS] > 0, COLUMN_DELTA].unique())
    clean = table[table[COLUMN_STEPS] == 0].head(1)
    fig, axes = plt.subplots(
        1, max(len(deltas), 1), figsize=(5.2 * max(len(deltas), 1), 4.0), dpi=120, squeeze=False
    )
    for ax, delta in zip(axes[0], deltas or [None], strict=True):
        rows = pd.concat([clean, table[(table[COLUMN_DELTA] == delta) & (table[COLUMN_STEPS] > 0)]])
        for tracker in trackers:
            ax.plot(rows[COLUMN_STEPS], rows[tracker], "o-", linewidth=1.6, label=tracker)
        ax.set(
            xlabel="Attack steps",
            ylabel="Mean IoU",
            ylim=(0, 1),
            title="clean" if delta is None else f"δ = {delta:g}",
        )
        ax.grid(True, linestyle=":", alpha=0.6)
    axes[0][0].legend(loc="upper right", fontsize=9)
    fig.suptitle("Background-patch attack on the student", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomically(path, buffer.getvalue())


def write_attack_report(out: str | Path, trackers: list[str] | None = None) -> pd.DataFrame:
    """Write the per-sequence CSV, the table (CSV and Markdown) and the plot into ``out``; the table."""
    out = Path(out)
    per_sequence = read_unit_results(out)
    table = attack_table(per_sequence, trackers)
    write_text_atomically(
        out / "attack_per_sequence.csv", per_sequence.to_csv(index=False, float_format="%.6f")
    )
    write_text_atomically(out / "attack_table.csv", table.to_csv(index=False, float_format="%.6f"))
    if not table.empty:
        shown = [c for c in table.columns if c not in (COLUMN_DELTA, COLUMN_STEPS)]
        write_text_atomically(
            out / "attack_table.md",
            markdown_table(
                _paper_rows(table)[[COLUMN_DELTA, *shown]], column_formats={COLUMN_SEQUENCES: "{:.0f}"}
            ),
        )
        _plot(table, [c for c in shown if c != COLUMN_SEQUENCES], out / "attack_plot.png")
    return table
