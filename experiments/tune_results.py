"""What a KD-RL sweep leaves behind: the trials' table, a plot of AO against each swept setting, the best.

Written under the sweep's ``--out`` folder from Tune's ``ResultGrid``:

    results.csv, results.md        one row per trial: its swept settings, best and last validation AO,
                                   the iterations it ran (fewer when ASHA stopped it), its status
    validation_ao_vs_settings.png  best validation AO of every trial against each swept setting
    best_config.json               the best trial's complete training config: ``tbt train --config`` takes it
    best.json                      the best trial: AO, iteration, checkpoint folder, exported student
    best_student.pt                the student of the best checkpoint (``tbt export``'s format)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.tune_trainable import TRANSFER_SET_ROOT_KEY, train_config_of_trial
from experiments.validation_callback import VALIDATION_AO
from teachers.atomic_io import write_text_atomically

__all__ = [
    "BestTrial",
    "NoBestTrial",
    "best_trial",
    "plot_ao_against_settings",
    "results_table",
    "write_sweep_results",
]

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
PLOT = "validation_ao_vs_settings.png"
BEST_CONFIG = "best_config.json"
BEST = "best.json"
BEST_STUDENT = "best_student.pt"

BEST_AO = "best_validation_ao"
LAST_AO = "last_validation_ao"


class NoBestTrial(RuntimeError):
    """No trial of the sweep reported a validation AO, or the best one saved no checkpoint."""


@dataclass
class BestTrial:
    """The trial with the highest validation AO of the sweep, and its best checkpoint."""

    trial_id: str
    validation_ao: float
    iteration: int
    checkpoint: str
    config: dict[str, Any]
    """The trial's complete ``TrainConfig`` (as a dict)."""
    student: str | None = None
    """The exported student of ``checkpoint``, once written."""


def results_table(grid, swept: list[str], max_iterations: int | None = None) -> pd.DataFrame:
    """One row per trial, best AO first; built from ``ResultGrid.get_dataframe`` (last and best rows).

    ``status`` is ``done``, ``stopped early`` (by ASHA: fewer than ``max_iterations``) or ``error``.
    """
    last = grid.get_dataframe()
    if last.empty:
        return pd.DataFrame(columns=["trial_id", *swept, BEST_AO, LAST_AO, "iterations", "status"])
    best = grid.get_dataframe(filter_metric=VALIDATION_AO, filter_mode="max")
    table = pd.DataFrame({"trial_id": last["trial_id"]})
    for setting in swept:
        table[setting] = last[f"config/{setting}"]
    table = table.merge(
        best[["trial_id", VALIDATION_AO, "training_iteration"]].rename(
            columns={VALIDATION_AO: BEST_AO, "training_iteration": "best_iteration"}
        ),
        on="trial_id",
        how="left",
    )
    table[LAST_AO] = last[VALIDATION_AO].to_numpy()
    table["iterations"] = last["training_iteration"].to_numpy()
    failed = {r.metrics.get("trial_id") for r in grid if r.error and r.metrics}
    table["status"] = [
        "error" if trial in failed else "stopped early" if max_iterations and it < max_iterations else "done"
        for trial, it in zip(table["trial_id"], table["iterations"], strict=True)
    ]
    return table.sort_values(BEST_AO, ascending=False, na_position="last").reset_index(drop=True)


def best_trial(grid) -> BestTrial:
    """The trial with the highest validation AO over all its iterations, and its best checkpoint.

    Raises:
        NoBestTrial: no trial reported a validation AO, or the best saved no checkpoint (every trial failed?).
    """
    reporting = [r for r in grid if r.metrics_dataframe is not None and VALIDATION_AO in r.metrics_dataframe]
    if not reporting:
        errors = "; ".join(str(r.error).splitlines()[0] for r in grid if r.error) or "none reported"
        raise NoBestTrial(f"no trial of the sweep reported {VALIDATION_AO} (trial errors: {errors})")
    result = grid.get_best_result(metric=VALIDATION_AO, mode="max", scope="all", filter_nan_and_inf=True)
    checkpoint = result.get_best_checkpoint(VALIDATION_AO, "max")
    if checkpoint is None:
        raise NoBestTrial(f"the best trial ({result.path}) saved no checkpoint")
    history = result.metrics_dataframe
    row = history.loc[history[VALIDATION_AO].idxmax()]
    config = train_config_of_trial(result.config).to_dict()
    return BestTrial(
        trial_id=str(result.metrics.get("trial_id", Path(result.path).name)),
        validation_ao=float(row[VALIDATION_AO]),
        iteration=int(row["training_iteration"]),
        checkpoint=str(checkpoint.path),
        config=config,
    )


def plot_ao_against_settings(table: pd.DataFrame, swept: list[str], path: Path) -> None:
    """One panel per swept setting: each trial's best validation AO at its value of that setting, coloured
    by the iterations it ran (trials ASHA stopped early are the dark ones)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = swept or ["trial_id"]
    width = max(5.0, 3.2 * len(panels))
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.6), squeeze=False, sharey=True)
    iterations = table["iterations"].astype(float)
    points = None
    for ax, setting in zip(axes[0], panels, strict=True):
        values = table[setting]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            x = values.astype(float)
            if setting == "lr":
                ax.set_xscale("log")
        else:  # teacher pools, curriculum on/off: one column per distinct value
            labels = [str(_readable(v)) for v in values]
            order = sorted(set(labels))
            x = [order.index(label) for label in labels]
            ax.set_xticks(range(len(order)), order, rotation=30, ha="right", fontsize=8)
            ax.set_xlim(-0.5, len(order) - 0.5)
        points = ax.scatter(
            x,
            table[BEST_AO],
            c=iterations,
            cmap="viridis",
            vmin=iterations.min(),
            vmax=max(iterations.max(), iterations.min() + 1),
            s=40,
            edgecolors="black",
        )
        ax.set(xlabel=setting.replace("_", " "), ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("best validation AO (TRAS)")
    if points is not None:
        fig.colorbar(points, ax=axes[0].tolist(), label="iterations run", fraction=0.05, pad=0.02)
    fig.suptitle("KD-RL sweep: validation AO of each trial", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_sweep_results(
    grid, out: Path, swept: list[str], max_iterations: int | None = None
) -> tuple[pd.DataFrame, BestTrial]:
    """Write every file of the module docstring under ``out``; returns the table and the best trial."""
    from experiments.report import markdown_table
    from policies.student_export import export_student

    out.mkdir(parents=True, exist_ok=True)
    table = results_table(grid, swept, max_iterations)
    table.to_csv(out / RESULTS_CSV, index=False)
    shown = table.assign(**{c: table[c].map(_readable) for c in swept if c in table})
    write_text_atomically(out / RESULTS_MD, markdown_table(shown.set_index("trial_id")))
    plot_ao_against_settings(table, swept, out / PLOT)

    best = best_trial(grid)
    best.student = str(export_student(best.checkpoint, out / BEST_STUDENT))
    config = {k: v for k, v in best.config.items() if k != TRANSFER_SET_ROOT_KEY}
    write_text_atomically(out / BEST_CONFIG, json.dumps(config, indent=2) + "\n")
    summary = {k: v for k, v in best.__dict__.items() if k != "config"}
    write_text_atomically(out / BEST, json.dumps(summary, indent=2) + "\n")
    return table, best


def _readable(value: Any) -> Any:
    """Table cells: teacher pools as in the flags (kcf+csrt), curriculum as on/off, short floats."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str):
        return value.replace(",", "+")
    if isinstance(value, float) and not math.isnan(value):
        return f"{value:.3g}"
    return value
