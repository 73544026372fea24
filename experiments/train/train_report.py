"""Stages 5 and 6 of ``tbt train``: evaluate the trained student on the test videos, write the report.

The report folder holds:

* ``summary.md``: what ran, how long each stage took, the score table, the checks of the bar the
  default run must clear (step 5), and pointers to everything below;
* the evaluation report (``scores.md``/``.csv``, per-sequence tables, success/precision plots,
  ``teacher_share.*``), copied from ``<out>/evaluation/report``;
* ``training_curves.csv`` / ``training_curves.png`` and ``validation.csv``;
* ``student.pt`` (the exported best student) and ``config.json`` (the exact config used).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pandas as pd

from tracking_by_trackers.experiments.evaluation.ope_metrics import COLUMN_AO
from tracking_by_trackers.experiments.train.checkpoint_validation import METRIC_DESCRIPTIONS
from tracking_by_trackers.experiments.train.train_config import TrainConfig
from tracking_by_trackers.teachers.atomic_io import write_text_atomically

__all__ = ["bar_checks", "evaluate_on_test_set", "plot_training_curves", "write_training_report"]

MANIFEST = "evaluation.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate_on_test_set(
    config: TrainConfig, specs: list[str], student: Path, eval_dir: Path, backend: str = "threads"
) -> pd.DataFrame:
    """One-pass evaluation of ``specs`` on the test videos (resumable), in threads or as Ray tasks
    (``backend``, see :mod:`tracking_by_trackers.experiments.evaluation.evaluate`); returns the pooled score table.

    The teachers track the test videos first, once; TRAST and TRASFUST then replay those tracks
    (:func:`~tracking_by_trackers.policies.trackers.factory.replaying_teachers`) instead of running every
    teacher again beside the student. Their boxes are the live trackers' (the replay reproduces each
    teacher's boxes and failures), and the evaluation costs the teachers once instead of three times.
    Their FPS is then not measured here (the report shows "–"); ``tbt evaluate`` measures it live.

    Results of the student's trackers are dropped when the student changed since they were stored (a
    resumed run that trained further), so a report never mixes two students.
    """
    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.experiments.evaluation.evaluate import (
        evaluate_trackers,
        parse_evaluation_trackers,
    )
    from tracking_by_trackers.experiments.evaluation.evaluation_report import report_evaluation
    from tracking_by_trackers.policies.trackers.factory import is_student_tracker_spec, replaying_teachers

    sequences = load_dataset(config.test_dataset)
    results = eval_dir / "results"
    teacher_specs = [spec for spec in specs if not is_student_tracker_spec(spec)]
    student_specs = [replaying_teachers(spec) for spec in specs if is_student_tracker_spec(spec)]
    teachers, _ = parse_evaluation_trackers(
        ",".join(teacher_specs), results_root=config.results_root, model_dir=config.model_dir
    )
    students, student_names = parse_evaluation_trackers(
        ",".join(student_specs), student=student, results_root=results
    )
    names = {
        **dict(zip(teacher_specs, teachers, strict=True)),
        **dict(zip(student_specs, students, strict=True)),
    }
    run_specs = [spec if spec in names else replaying_teachers(spec) for spec in specs]
    manifest = {
        "dataset": config.test_dataset,
        "trackers": [names[spec] for spec in run_specs],
        "specs": {names[spec]: spec for spec in run_specs},
        "student": str(student.resolve()),
        "student_sha256": _sha256(student),
    }
    manifest_path = eval_dir / MANIFEST
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if previous.get("student_sha256") != manifest["student_sha256"]:
            for name in student_names:
                shutil.rmtree(results / sequences[0].benchmark / name, ignore_errors=True)
    eval_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(manifest_path, json.dumps(manifest, indent=2))
    # The teachers' tracks first: the student's trackers replay them.
    evaluate_trackers(sequences, teachers, results, workers=2, backend=backend)
    evaluate_trackers(sequences, students, results, workers=2, backend=backend)
    return report_evaluation(eval_dir, manifest)


def bar_checks(table: pd.DataFrame, partner: str, pool: list[str]) -> list[tuple[str, bool, str]]:
    """The bar of step 5 on a pooled score table: ``(check, passed, figures)`` per point."""
    ao = table[COLUMN_AO]

    def get(name: str) -> float:
        return float(ao.get(name, math.nan))

    tras, trast = get("tras"), get(f"trast-{partner}")
    trasfust, identity, oracle = get(f"trasfust-{'+'.join(pool)}"), get("identity"), get("oracle")
    best_name = max(pool, key=get)
    best, teacher = get(best_name), get(partner)
    return [
        (
            "TRAS AO >= identity AO + 0.15",
            tras >= identity + 0.15,
            f"TRAS {tras:.3f}, identity {identity:.3f} (+{tras - identity:.3f})",
        ),
        ("TRAST AO >= TRAS AO", trast >= tras, f"TRAST {trast:.3f}, TRAS {tras:.3f}"),
        (
            f"TRAST AO >= its teacher's ({partner}) AO - 0.02",
            trast >= teacher - 0.02,
            f"TRAST {trast:.3f}, {partner} {teacher:.3f}",
        ),
        (
            "TRASFUST AO >= best pool teacher's AO - 0.02",
            trasfust >= best - 0.02,
            f"TRASFUST {trasfust:.3f}, {best_name} {best:.3f}; TRASFUST / oracle = {trasfust / oracle:.3f}",
        ),
    ]


def plot_training_curves(curves: pd.DataFrame, validation: pd.DataFrame, path: Path) -> None:
    """Students' mean IoU and validation AO, losses, and throughput against the iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    it = curves["iteration"]
    ax = axes[0]
    ax.plot(it, curves["mean_iou"], color="#1f77b4", alpha=0.35, lw=1, label="students' episodes (mean IoU)")
    ax.plot(
        it,
        curves["mean_iou"].rolling(10, min_periods=1).mean(),
        color="#1f77b4",
        lw=2,
        label="  10-iteration mean",
    )
    for column, colour, label in (
        ("validation_ao", "#d62728", "TRAS AO, validation videos"),
        ("trast_ao", "#ff7f0e", "TRAST AO, validation videos"),
        ("trasfust_ao", "#9467bd", "TRASFUST AO, validation videos"),
    ):
        # Runs validated on TRAS alone have no TRAST/TRASFUST column (or NaN in it).
        if column in validation and validation[column].notna().any():
            ax.plot(validation["iteration"], validation[column], "o-", color=colour, lw=2, label=label)
    ax.set(title="Tracking quality", xlabel="iteration", ylabel="IoU / AO", ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)
    ax = axes[1]
    for key, colour in (("distillation_loss", "#2ca02c"), ("gt_l1", "#9467bd"), ("teacher_l1", "#8c564b")):
        if curves[key].notna().any():
            ax.plot(
                it,
                curves[key].rolling(10, min_periods=1).mean(),
                color=colour,
                lw=2,
                label=key.replace("_", " "),
            )
    ax.set(title="Distillation (10-iteration mean)", xlabel="iteration", ylabel="loss")
    ax.legend(fontsize=8)
    ax = axes[2]
    ax.plot(it, curves["env_steps_per_s"], color="#ff7f0e", lw=1.5, label="env steps/s")
    ax.plot(it, curves["learner_samples_per_s"], color="#17becf", lw=1.5, label="learner samples/s")
    ax.set(title="Throughput", xlabel="iteration", ylabel="per second")
    ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_training_report(
    report: Path,
    config: TrainConfig,
    out: Path,
    state,
    table: pd.DataFrame,
    *,
    specs: list[str],
    partner: str,
    timings: dict[str, float],
) -> None:
    """Assemble ``report`` (see the module docstring)."""
    from tracking_by_trackers.experiments.evaluation.report import COLUMN_FPS, markdown_table

    for item in (out / "evaluation" / "report").iterdir():
        if item.is_file():
            shutil.copyfile(item, report / item.name)
    curves = pd.read_csv(out / "training" / "curves.csv")
    validation = pd.read_csv(out / "training" / "validation.csv")
    curves.to_csv(report / "training_curves.csv", index=False)
    validation.to_csv(report / "validation.csv", index=False)
    plot_training_curves(curves, validation, report / "training_curves.png")
    config.write(report / "config.json")

    checks = bar_checks(table, partner, config.teachers_list())
    stage_lines = "\n".join(f"| {stage} | {seconds / 60:.1f} |" for stage, seconds in timings.items())
    check_lines = "\n".join(
        f"| {name} | {'yes' if ok else '**no**'} | {figures} |" for name, ok, figures in checks
    )
    summary = f"""# tbt train: summary

Student preset `{config.preset}`, ablation `{config.ablation}`, trained {state.iteration} iterations in
{state.train_seconds / 60:.1f} minutes. The best checkpoint on the validation videos
(`{config.validation_dataset}`; {METRIC_DESCRIPTIONS[config.checkpoint_metric]} {state.best_ao:.3f}) came at
iteration {state.best_iteration}; it is the exported student (`student.pt`).

Training videos `{config.dataset}`; test videos `{config.test_dataset}`. Teachers: {config.teachers}
(TRAST pairs the student with `{partner}`, the best teacher on the training videos).

## Scores on the test videos

{markdown_table(table, column_formats={COLUMN_FPS: "{:.1f}"})}
TRAST and TRASFUST replayed the teachers' tracks of the test videos (the same boxes as live teachers), so
their FPS is not measured here ("–"); `tbt evaluate --student student.pt` measures it with live teachers.

## The bar

| check | passed | figures |
|---|---|---|
{check_lines}

## Time per stage (minutes)

| stage | minutes |
|---|---:|
{stage_lines}

## Files

- `scores.md`, `scores.csv`: the table above; `per_sequence_scores.*`, `per_sequence_ao.csv`: per video.
- `success_plot.png`, `precision_plot.png`: OPE plots; `teacher_share.*`: frames TRAST/TRASFUST handed to teachers.
- `training_curves.png`, `training_curves.csv`, `validation.csv`: the training run.
- `student.pt`: the student for `tbt evaluate --student` and `tbt track --student`.
- `config.json`: the exact settings (`tbt train --config config.json` repeats the run).

Trackers evaluated: {", ".join(f"`{s}`" for s in specs)}.
"""
    write_text_atomically(report / "summary.md", summary)
