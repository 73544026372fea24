"""What a KD-RL sweep leaves behind: the configurations ranked by their mean score over seeds, the trials,
a plot of the score against each swept setting, and the best configuration as a ``tbt train`` config.

Written under the sweep's ``--out`` folder from Tune's ``ResultGrid``:

    results.csv, results.md   one row per configuration (its swept settings): the mean and the spread
                              (standard deviation) over its seeds of each trial's best validation score
                              (``TrainConfig.checkpoint_metric``), the seeds' scores, the iterations run,
                              the trials' status; best mean first
    trials.csv                one row per trial: its settings and seed, best and last score, iterations
    score_vs_settings.png     each configuration's mean score (± spread) against each swept setting
    best_config.json          the sweep's base config with the settings its search space fixes and the
                              best configuration's, and the base's own budget and validation cadence:
                              ``tbt train --config`` runs it
    best.json                 the best configuration's scores, and its best trial's checkpoint and student
    best_student.pt           the student of that checkpoint (``tbt export``'s format)

A configuration's seeds are ranked together because one seed's score is not enough to tell settings
apart (the spread between seeds of one configuration is as large as many of the effects a sweep
looks for). Under PBT a trial's settings change as it trains: its row shows the settings it ended with.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tracking_by_trackers.experiments.train.checkpoint_validation import SCORE
from tracking_by_trackers.experiments.train.train_config import TrainConfig
from tracking_by_trackers.experiments.tune.tune_trainable import train_config_of_trial
from tracking_by_trackers.teachers.atomic_io import write_text_atomically

__all__ = [
    "BestConfiguration",
    "NoBestTrial",
    "best_configuration",
    "configurations_table",
    "plot_score_against_settings",
    "trials_table",
    "write_sweep_results",
]

RESULTS_CSV = "results.csv"
RESULTS_MD = "results.md"
TRIALS_CSV = "trials.csv"
PLOT = "score_vs_settings.png"
BEST_CONFIG = "best_config.json"
BEST = "best.json"
BEST_STUDENT = "best_student.pt"

BEST_SCORE = "best_score"
"""A trial's highest validation score over its iterations."""
LAST_SCORE = "last_score"
SCORE_MEAN = "score_mean"
"""A configuration's mean over its seeds of their best scores: what ranks configurations."""
SCORE_SPREAD = "score_std"
"""The standard deviation of those scores over the seeds (NaN with one seed)."""
SEED = "seed"


class NoBestTrial(RuntimeError):
    """No trial of the sweep reported a validation score, or the best one saved no checkpoint."""


@dataclass
class BestConfiguration:
    """The configuration with the highest mean score, and its best trial's best checkpoint."""

    settings: dict[str, Any]
    """The swept settings of the configuration."""
    score_mean: float
    score_std: float
    seeds: list[int]
    trial_id: str
    """Its trial with the highest score."""
    score: float
    iteration: int
    checkpoint: str
    config: dict[str, Any] = field(repr=False)
    """``best_config.json``: the sweep's base ``TrainConfig`` with ``settings`` (a dict)."""
    student: str | None = None
    """The exported student of ``checkpoint``, once written."""


def trials_table(grid, swept: list[str], max_iterations: int | None = None) -> pd.DataFrame:
    """One row per trial, best score first; built from ``ResultGrid.get_dataframe`` (last and best rows).

    ``status`` is ``done``, ``stopped early`` (by the scheduler: fewer than ``max_iterations``) or ``error``.
    """
    columns = ["trial_id", *swept, SEED, BEST_SCORE, "best_iteration", LAST_SCORE, "iterations", "status"]
    last = grid.get_dataframe()
    if last.empty or SCORE not in last:
        return pd.DataFrame(columns=columns)
    best = grid.get_dataframe(filter_metric=SCORE, filter_mode="max")
    table = pd.DataFrame({"trial_id": last["trial_id"]})
    for setting in [*swept, SEED]:
        table[setting] = last[f"config/{setting}"].to_numpy()
    table = table.merge(
        best[["trial_id", SCORE, "training_iteration"]].rename(
            columns={SCORE: BEST_SCORE, "training_iteration": "best_iteration"}
        ),
        on="trial_id",
        how="left",
    )
    table[LAST_SCORE] = last[SCORE].to_numpy()
    table["iterations"] = last["training_iteration"].to_numpy()
    failed = {r.metrics.get("trial_id") for r in grid if r.error and r.metrics}
    table["status"] = [
        "error" if trial in failed else "stopped early" if max_iterations and it < max_iterations else "done"
        for trial, it in zip(table["trial_id"], table["iterations"], strict=True)
    ]
    return table[columns].sort_values(BEST_SCORE, ascending=False, na_position="last").reset_index(drop=True)


def configurations_table(trials: pd.DataFrame, swept: list[str]) -> pd.DataFrame:
    """One row per configuration of ``trials`` (its values of ``swept``), best mean score first: the mean
    and spread of its trials' best scores, their seeds and scores, the most iterations one ran, and
    ``done`` / ``stopped early`` / ``error`` (the worst status of its trials)."""
    columns = [*swept, SCORE_MEAN, SCORE_SPREAD, "seeds", "scores", "iterations", "status"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    keys = swept or [pd.Series(0, index=trials.index)]
    severity = {"done": 0, "stopped early": 1, "error": 2}
    rows = []
    for values, group in trials.sort_values(SEED).groupby(keys, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        scores = group[BEST_SCORE].astype(float)
        rows.append(
            {
                **dict(zip(swept, values, strict=False)),
                SCORE_MEAN: scores.mean(),
                SCORE_SPREAD: scores.std(ddof=1) if scores.count() > 1 else math.nan,
                "seeds": ", ".join(str(int(seed)) for seed in group[SEED]),
                "scores": ", ".join("-" if math.isnan(s) else f"{s:.3f}" for s in scores),
                "iterations": int(group["iterations"].max()),
                "status": max(group["status"], key=severity.__getitem__),
            }
        )
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(SCORE_MEAN, ascending=False, na_position="last").reset_index(drop=True)


def best_configuration(
    grid, trials: pd.DataFrame, configurations: pd.DataFrame, swept: list[str], base: TrainConfig
) -> tuple[BestConfiguration, Any]:
    """The configuration with the highest mean score (its trial with the highest score, and that trial's
    best checkpoint), and that checkpoint as a Ray ``Checkpoint``.

    Raises:
        NoBestTrial: no trial reported a score, or the best trial saved no checkpoint (every trial failed?).
    """
    if configurations.empty or configurations[SCORE_MEAN].isna().all():
        errors = "; ".join(str(r.error).splitlines()[0] for r in grid if r.error) or "none reported"
        raise NoBestTrial(f"no trial of the sweep reported a validation {SCORE} (trial errors: {errors})")
    top = configurations.iloc[0]
    members = trials
    for setting in swept:
        members = members[members[setting] == top[setting]]
    member = members.sort_values(BEST_SCORE, ascending=False).iloc[0]
    result = next(r for r in grid if r.metrics.get("trial_id") == member["trial_id"])
    checkpoint = result.get_best_checkpoint(SCORE, "max")
    if checkpoint is None:
        raise NoBestTrial(f"the best trial ({result.path}) saved no checkpoint")
    trial_settings = train_config_of_trial(result.config).to_dict()
    settings = {setting: trial_settings[setting] for setting in swept}
    return BestConfiguration(
        settings=settings,
        score_mean=float(top[SCORE_MEAN]),
        score_std=float(top[SCORE_SPREAD]),
        seeds=[int(seed) for seed in members[SEED]],
        trial_id=str(member["trial_id"]),
        score=float(member[BEST_SCORE]),
        iteration=int(member["best_iteration"]),
        checkpoint=checkpoint.path,
        config=base.updated(**settings).validate().to_dict(),
    ), checkpoint


def plot_score_against_settings(table: pd.DataFrame, swept: list[str], path: Path) -> None:
    """One panel per swept setting: each configuration's mean score (± its spread over seeds) at its value
    of that setting, coloured by the most iterations one of its trials ran (early-stopped ones are dark)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = swept or ["seeds"]
    width = max(5.0, 3.2 * len(panels))
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 3.6), squeeze=False, sharey=True)
    iterations = table["iterations"].astype(float)
    points = None
    for ax, setting in zip(axes[0], panels, strict=True):
        values = table[setting]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            x = values.astype(float).to_numpy()
            if setting == "lr":
                ax.set_xscale("log")
        else:  # teacher pools, curriculum on/off: one column per distinct value
            labels = [str(_readable(v)) for v in values]
            order = sorted(set(labels))
            x = [order.index(label) for label in labels]
            ax.set_xticks(range(len(order)), order, rotation=30, ha="right", fontsize=8)
            ax.set_xlim(-0.5, len(order) - 0.5)
        ax.errorbar(
            x, table[SCORE_MEAN], yerr=table[SCORE_SPREAD].fillna(0.0), fmt="none", ecolor="grey", zorder=1
        )
        points = ax.scatter(
            x,
            table[SCORE_MEAN],
            c=iterations,
            cmap="viridis",
            vmin=iterations.min(),
            vmax=max(iterations.max(), iterations.min() + 1),
            s=40,
            edgecolors="black",
            zorder=2,
        )
        ax.set(xlabel=setting.replace("_", " "), ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation score, mean over seeds")
    if points is not None:
        fig.colorbar(points, ax=axes[0].tolist(), label="iterations run", fraction=0.05, pad=0.02)
    fig.suptitle("KD-RL sweep: validation score of each configuration", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_sweep_results(
    grid, out: Path, swept: list[str], base: TrainConfig, max_iterations: int | None = None
) -> tuple[pd.DataFrame, BestConfiguration]:
    """Write every file of the module docstring under ``out``; returns the configurations' table and the
    best configuration. ``base`` is the sweep's real-run config with the settings its search space fixes,
    which ``best_config.json`` builds on."""
    from tracking_by_trackers.experiments.evaluation.report import markdown_table
    from tracking_by_trackers.policies.student_export import export_student

    out.mkdir(parents=True, exist_ok=True)
    trials = trials_table(grid, swept, max_iterations)
    trials.to_csv(out / TRIALS_CSV, index=False)
    table = configurations_table(trials, swept)
    table.to_csv(out / RESULTS_CSV, index=False)
    shown = table.assign(**{c: table[c].map(_readable) for c in swept})
    shown.index = pd.RangeIndex(1, len(shown) + 1, name="rank")
    write_text_atomically(out / RESULTS_MD, markdown_table(shown))
    plot_score_against_settings(table, swept, out / PLOT)

    best, checkpoint = best_configuration(grid, trials, table, swept, base)
    with checkpoint.as_directory() as local:  # the trial's checkpoint may live in cloud storage
        best.student = str(export_student(local, out / BEST_STUDENT))
    write_text_atomically(out / BEST_CONFIG, json.dumps(best.config, indent=2) + "\n")
    summary = {
        k: None if isinstance(v, float) and math.isnan(v) else v  # one seed: no spread
        for k, v in best.__dict__.items()
        if k != "config"
    }
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
