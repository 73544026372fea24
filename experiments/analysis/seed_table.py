"""Scores of several runs of one configuration (seeds), per tracker: each run's, their mean and spread.

Usage::

    python -m tracking_by_trackers.experiments.analysis.seed_table runs/seed0 runs/seed1 runs/seed2 [--out T.md]

Reads each run's ``report/per_sequence_scores.csv`` (``tbt train``'s report, or ``tbt evaluate``'s
``report/`` folder given directly) and scores every tracker two ways, from the same per-sequence rows:

- **pooled AO**: the mean IoU over all frames of all sequences (GOT-10k's way), i.e. the per-sequence AOs
  weighted by their frame counts;
- **mean AUC**: the mean over sequences of each sequence's success AUC (OTB's way).

The spread is the sample standard deviation over runs (ddof 1), written ``mean ± sd``; with one run it is
left out. Runs that lack a tracker leave its cell empty.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

__all__ = ["per_run_scores", "seed_table"]

PER_SEQUENCE_FILE = "per_sequence_scores.csv"


def _per_sequence_file(run: Path) -> Path:
    for candidate in (run / "report" / PER_SEQUENCE_FILE, run / PER_SEQUENCE_FILE):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no {PER_SEQUENCE_FILE} in {run}/report or {run}: is it a finished run's folder?"
    )


def per_run_scores(run: str | Path) -> pd.DataFrame:
    """One row per tracker of run ``run``: ``pooled_ao``, ``mean_auc`` and ``sequences``."""
    rows = pd.read_csv(_per_sequence_file(Path(run)))
    rows = rows[rows["frames"] > 0]
    grouped = rows.assign(weighted=rows["AO"] * rows["frames"]).groupby("tracker")
    return pd.DataFrame(
        {
            "pooled_ao": grouped["weighted"].sum() / grouped["frames"].sum(),
            "mean_auc": grouped["success AUC"].mean(),
            "sequences": grouped.size(),
        }
    )


def seed_table(runs: list[str | Path]) -> pd.DataFrame:
    """Per tracker (rows, best mean pooled AO first), each run's pooled AO and mean AUC, then their mean and
    sample standard deviation over the runs."""
    scores = {Path(run).name: per_run_scores(run) for run in runs}
    columns = {}
    for metric in ("pooled_ao", "mean_auc"):
        table = pd.DataFrame({name: score[metric] for name, score in scores.items()})
        for name in table.columns:
            columns[(metric, name)] = table[name]
        columns[(metric, "mean")] = table.mean(axis=1)
        columns[(metric, "sd")] = table.std(axis=1, ddof=1)
    result = pd.DataFrame(columns)
    result.columns = pd.MultiIndex.from_tuples(result.columns, names=["metric", "run"])
    return result.sort_values(("pooled_ao", "mean"), ascending=False)


def to_markdown(table: pd.DataFrame) -> str:
    """``tracker | pooled AO per run … | mean ± sd | mean AUC per run … | mean ± sd``."""
    runs = [run for run in table.columns.get_level_values("run").unique() if run not in ("mean", "sd")]
    with_spread = len(runs) > 1

    def cell(value: float) -> str:
        return "" if pd.isna(value) else f"{value:.3f}"

    header = ["tracker"]
    for label in ("AO", "AUC"):
        header += [f"{label} {run}" for run in runs] + [f"{label} mean" + (" ± sd" if with_spread else "")]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for tracker, row in table.iterrows():
        cells = [str(tracker)]
        for metric in ("pooled_ao", "mean_auc"):
            cells += [cell(row[(metric, run)]) for run in runs]
            mean, sd = row[(metric, "mean")], row[(metric, "sd")]
            cells.append(cell(mean) + (f" ± {sd:.3f}" if with_spread and not pd.isna(sd) else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "runs", nargs="+", help="run folders (tbt train --out) or tbt evaluate report folders"
    )
    parser.add_argument("--out", help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    text = to_markdown(seed_table(args.runs))
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return text


if __name__ == "__main__":
    main()
