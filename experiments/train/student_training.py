"""Stage 4 of ``tbt train``: KD-RL training with periodic validation, checkpoints and resume.

Layout under ``<out>/training/``::

    curves.csv          one row per iteration (tracking_by_trackers.policies.kdrl.kdrl_metrics.SUMMARY_KEYS)
    validation.csv      iteration, the AOs of TRAS, TRAST, TRASFUST on the validation videos, the score
                        that chooses checkpoints, training seconds
    tensorboard/        TensorBoard event files: every iteration's result and validation
                        (tracking_by_trackers.experiments.train.training_loggers; MLflow and W&B too when the config asks)
    state.json          iteration, training seconds, best iteration and score, latest checkpoint
    checkpoints/iter_000040/   KDRL.save_to_path (+ student.pt, its exported student)

The algorithm owns the learning-rate schedule and the budget (``tracking_by_trackers.policies.kdrl.lr_schedule``): this loop trains
until a result says ``done``. Every ``validate_every`` iterations (and at the end) the algorithm is
checkpointed, its student exported, and the run's
:class:`~tracking_by_trackers.experiments.train.checkpoint_validation.CheckpointValidator` tracks the validation videos once; the
checkpoint with the best score is kept as the best, and only the best and the latest checkpoints stay on
disk. ``state.json`` is written last, atomically, so a killed run resumes from the latest finished
checkpoint: the curve rows after it are dropped, and the algorithm, rebuilt from the (possibly extended)
config and restored from the checkpoint, goes on with the same iteration count, training time spent and
place on the learning-rate curve.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tracking_by_trackers.experiments.train.checkpoint_validation import (
    SCORE,
    VALIDATION_KEYS,
    CheckpointValidator,
    validation_row,
)
from tracking_by_trackers.experiments.train.train_config import TrainConfig
from tracking_by_trackers.experiments.train.training_loggers import TrainingLoggers
from tracking_by_trackers.policies.kdrl.kdrl_metrics import SUMMARY_KEYS, summarize
from tracking_by_trackers.policies.kdrl.lr_schedule import TRAINED_SECONDS
from tracking_by_trackers.policies.student_export import export_student
from tracking_by_trackers.teachers.atomic_io import write_text_atomically

__all__ = ["VALIDATION_COLUMNS", "TrainingState", "build_algorithm_config", "train_student"]

logger = logging.getLogger(__name__)

EXPORTED_STUDENT = "student.pt"
VALIDATION_COLUMNS = ("iteration", *VALIDATION_KEYS, "train_s")
"""``validation.csv``: ``validation_ao`` is TRAS's AO; ``score`` is what chooses the best checkpoint
(``tracking_by_trackers.experiments.train.checkpoint_validation.VALIDATION_KEYS``, the names a Tune trial reports them under)."""


@dataclass
class TrainingState:
    """What ``state.json`` records (see the module docstring)."""

    iteration: int = 0
    train_seconds: float = 0.0
    best_iteration: int = 0
    best_ao: float = -1.0
    """The best checkpoint's validation score (``TrainConfig.checkpoint_metric``; named for TRAS's AO, the
    first metric, so that older runs' ``state.json`` still resume)."""
    latest_checkpoint: str | None = None
    best_checkpoint: str | None = None

    @classmethod
    def read(cls, path: Path) -> TrainingState:
        return cls(**json.loads(path.read_text())) if path.is_file() else cls()

    def write(self, path: Path) -> None:
        write_text_atomically(path, json.dumps(self.__dict__, indent=2) + "\n")


# Both clip sources are cached per process: every env of an env runner calls its ``clip_source`` partial, and
# without the cache each of the runner's envs would read every parquet file of the transfer set again, which
# dominated the runner's start-up (docs/experiments.md, 2026-11-22-default-run). The sources are read-only
# (``sample`` draws with the calling env's own generator and returns views), so the envs can share one.


@functools.lru_cache(maxsize=4)
def gt_clip_source(dataset: str):
    """All videos of ``dataset`` with no teacher at all: the clips of the GT-only ablation (one per
    process)."""
    from tracking_by_trackers.envs.clip_sources import SequenceClipSource
    from tracking_by_trackers.envs.datasets import load_dataset

    return SequenceClipSource(load_dataset(dataset))


@functools.lru_cache(maxsize=4)
def transfer_clip_source(
    root: str,
    beta: float,
    clip_length: int,
    clips_per_trajectory: int,
    seed: int,
    teachers: tuple[str, ...],
    beta_scope: str = "trajectory",
):
    """The clips of the transfer set stored under ``root`` (one per process; see
    :meth:`~tracking_by_trackers.teachers.transfer_set.TransferSetClipSource.from_store`)."""
    from tracking_by_trackers.teachers.transfer_set import TransferSetClipSource

    return TransferSetClipSource.from_store(
        root,
        beta=beta,
        clip_length=clip_length,
        clips_per_trajectory=clips_per_trajectory,
        seed=seed,
        teachers=list(teachers),
        beta_scope=beta_scope,
    )


def build_algorithm_config(config: TrainConfig, transfer_set_root: Path):
    """The :class:`~tracking_by_trackers.policies.kdrl.kdrl.KDRLConfig` of a run.

    The clip source travels as a ``functools.partial`` that every env calls: it loads the transfer set and
    its videos where the env lives (once per process), so neither the frames nor the boxes are pickled
    into the config (and into every checkpoint).
    """
    from tracking_by_trackers.policies.kdrl.kdrl import KDRLConfig
    from tracking_by_trackers.policies.kdrl.student_env import ENV_NAME
    from tracking_by_trackers.policies.student_model import preset

    if config.ablation == "gt_only":
        clip_source = functools.partial(gt_clip_source, config.dataset)
    else:
        clip_source = functools.partial(
            transfer_clip_source,
            str(transfer_set_root),
            beta=config.beta,
            clip_length=config.clip_length,
            clips_per_trajectory=config.clips_per_trajectory,
            seed=config.seed,
            teachers=tuple(config.teachers_list()),
            beta_scope=config.beta_scope,
        )
    env_config = {
        "clip_source": clip_source,
        "crop_size": preset(config.preset).crop_size,
        "clip_length": config.clip_length,
    }
    model_config = {"preset": config.preset}  # KDRLConfig derives max_seq_len from t_max
    weights = config.backbone_weights()
    if weights:
        model_config["backbone_weights"] = weights
    algo_config = (
        KDRLConfig()
        .environment(
            ENV_NAME,
            env_config=env_config,
        )
        .env_runners(
            num_env_runners=config.num_env_runners,
            num_envs_per_env_runner=config.num_envs_per_env_runner,
            num_gpus_per_env_runner=config.num_gpus_per_env_runner,
            custom_resources_per_env_runner=dict(config.custom_resources_per_env_runner),
        )
        .learners(
            num_learners=config.num_learners,
            num_gpus_per_learner=config.num_gpus_per_learner,
            num_aggregator_actors_per_learner=config.num_aggregator_actors_per_learner,
            custom_resources_per_learner=dict(config.custom_resources_per_learner),
        )
        .resources(placement_strategy=config.placement_strategy)
        .rl_module(model_config=model_config)
        .training(
            lr=config.lr,
            t_max=config.t_max,
            gamma=config.gamma,
            distil_fraction=config.distil_fraction,
            curriculum=config.curriculum,
            ablation=config.ablation,
            rl_loss_scale=config.rl_loss_scale,
            policy_lag_correction=config.policy_lag_correction,
            distil_weight_decay=config.distil_weight_decay,
            backbone_lr_scale=config.backbone_lr_scale,
            train_batch_size_per_learner=config.train_batch_size,
            budget_iterations=config.iterations,
            budget_minutes=config.train_minutes,
            final_lr_fraction=config.final_lr_fraction,
        )
        .reporting(
            min_train_timesteps_per_iteration=config.train_batch_size, metrics_num_episodes_for_smoothing=16
        )
        .fault_tolerance(restart_failed_env_runners=True, delay_between_env_runner_restarts_s=5.0)
        .debugging(seed=config.seed)
    )
    if config.curriculum_schedule:
        algo_config.training(curriculum_schedule=config.curriculum_schedule)
    return algo_config


class _CurveWriter:
    """Appends iteration rows to ``curves.csv``, dropping rows past ``keep_until`` on resume."""

    def __init__(self, path: Path, keep_until: int):
        self.path = path
        rows = []
        if path.is_file():
            with path.open(newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if float(row["iteration"]) <= keep_until]
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=SUMMARY_KEYS)
            writer.writeheader()
            writer.writerows(rows)

    def append(self, row: dict[str, float]) -> None:
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=SUMMARY_KEYS).writerow(row)


def _progress_line(row: dict[str, float], budget_s: float) -> str:
    def fmt(key: str, spec: str) -> str:
        value = row[key]
        return "-" if math.isnan(value) else format(value, spec)

    return (
        f"iter {int(row['iteration']):4d} | {row['train_s'] / 60:5.1f}/{budget_s / 60:.0f} min | "
        f"IoU {fmt('mean_iou', '.3f')} | reward {fmt('mean_reward', '+.2f')} | "
        f"distil {fmt('distillation_loss', '.3f')} (mask {fmt('mask_rate', '.2f')}) | "
        f"policy {fmt('policy_loss', '+.2f')} value {fmt('value_loss', '.2f')} | "
        f"episode {fmt('episode_len_mean', '.1f')} steps | lr {fmt('lr', '.1e')} | "
        f"{fmt('env_steps_per_s', '.0f')} env steps/s, {fmt('learner_samples_per_s', '.0f')} samples/s"
    )


def train_student(
    config: TrainConfig, transfer_set_root: Path, validator: CheckpointValidator, out: Path
) -> TrainingState:
    """Train (or resume) until the algorithm's budget (``config.iterations`` or ``config.train_minutes``)
    is spent; returns the final state.

    The best checkpoint's exported student is ``state.best_checkpoint / student.pt``.
    """
    # Absolute: RLlib's save_to_path reads a relative path as a URI and refuses it.
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.json"
    state = TrainingState.read(state_path)
    checkpoints = out / "checkpoints"
    budget_s = config.train_minutes * 60.0
    # Built from this run's config, so that a resume with a larger budget or another scale takes it.
    algo = build_algorithm_config(config, transfer_set_root).build_algo()
    if state.latest_checkpoint and Path(state.latest_checkpoint).is_dir():
        print(f"resuming training from iteration {state.iteration} ({state.latest_checkpoint})")
        algo.restore_from_path(state.latest_checkpoint)
    else:
        state = TrainingState()
    curves = _CurveWriter(out / "curves.csv", keep_until=state.iteration)
    validation_path = out / "validation.csv"
    _start_validation_file(validation_path)
    loggers = TrainingLoggers(config, out, run_name=out.parent.name)
    done = algo.budget_progress >= 1.0
    try:
        while not done:
            result = algo.train()
            done = bool(result["done"])
            state.iteration = int(result["training_iteration"])
            state.train_seconds = float(result[TRAINED_SECONDS])
            row = {**summarize(result), "time_s": state.train_seconds}
            curves.append(row)
            print(_progress_line({**row, "train_s": state.train_seconds}, budget_s), flush=True)
            logged = dict(result)
            if state.iteration % config.validate_every == 0 or done:
                stale, scores = _checkpoint_and_validate(algo, state, checkpoints, validator, validation_path)
                state.write(state_path)
                # Only now that state.json no longer names them: a kill never leaves it pointing nowhere.
                for old in stale:
                    shutil.rmtree(old, ignore_errors=True)
                logged.update(scores)
            loggers.log(logged, step=state.iteration)
    finally:
        loggers.close()
        algo.stop()
    return state


def _start_validation_file(path: Path) -> None:
    """Create ``validation.csv``, or bring a file from before TRAST and TRASFUST were validated up to
    :data:`VALIDATION_COLUMNS` (their AOs empty) so that resumed rows line up with the header."""
    if not path.is_file():
        path.write_text(",".join(VALIDATION_COLUMNS) + "\n")
        return
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) == VALIDATION_COLUMNS:
            return
        rows = list(reader)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=VALIDATION_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows({key: row.get(key, "") for key in VALIDATION_COLUMNS} for row in rows)


def _checkpoint_and_validate(
    algo, state: TrainingState, checkpoints: Path, validator: CheckpointValidator, validation_path: Path
) -> tuple[set[str], dict[str, float]]:
    """Checkpoint, export, validate, update ``state``; returns the checkpoints no longer needed and the
    validation's row (``tracking_by_trackers.experiments.train.checkpoint_validation.validation_row``)."""
    path = checkpoints / f"iter_{state.iteration:06d}"
    if path.exists():  # left by a run killed between saving and recording it
        shutil.rmtree(path)
    algo.save_to_path(path)
    student = export_student(path, path / EXPORTED_STUDENT)
    started = time.perf_counter()
    scores = validator(student)
    aos = validation_row(scores)  # TRAST and TRASFUST NaN ("nan") with the "tras" metric
    with validation_path.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=VALIDATION_COLUMNS).writerow(
            {
                "iteration": state.iteration,
                **{key: f"{value:.6f}" for key, value in aos.items()},
                "train_s": f"{state.train_seconds:.1f}",
            }
        )
    improved = aos[SCORE] > state.best_ao
    by_tracker = ", ".join(f"{mode.upper()} {ao:.3f}" for mode, ao in scores.aos.items())
    print(
        f"validation at iteration {state.iteration}: {by_tracker} on {len(validator.sequences)} videos; "
        f"{validator.describe()} {scores.score:.3f} ({time.perf_counter() - started:.1f} s)"
        f"{' - best so far' if improved else ''}",
        flush=True,
    )
    previous = {state.latest_checkpoint, state.best_checkpoint}
    if improved:
        state.best_ao, state.best_iteration, state.best_checkpoint = scores.score, state.iteration, str(path)
    state.latest_checkpoint = str(path)
    return previous - {state.latest_checkpoint, state.best_checkpoint, None}, aos
