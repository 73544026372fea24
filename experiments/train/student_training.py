"""Stage 4 of ``tbt train``: KD-RL training with periodic validation, checkpoints and resume.

Layout under ``<out>/training/``::

    curves.csv          one row per iteration (tracking_by_trackers.policies.kdrl.kdrl_metrics.SUMMARY_KEYS)
    validation.csv      iteration, the AOs of TRAS, TRAST, TRASFUST on the validation videos, the score
                        that chooses checkpoints, training seconds
    tensorboard/        TensorBoard event files: every iteration's result and validation
                        (tracking_by_trackers.experiments.train.training_loggers; MLflow and W&B too when the config asks)
    state.json          iteration, training seconds, best iteration and score, latest checkpoint
    checkpoints/iter_000040/   KDRL.save_to_path (+ student.pt, its exported student, training_state.json,
                        the state.json it was written with, and manifest.json, every file's size and hash)

The algorithm owns the learning-rate schedule and the budget (``tracking_by_trackers.policies.kdrl.lr_schedule``): this loop trains
until a result says ``done``. Every ``validate_every`` iterations (and at the end) the algorithm is
checkpointed, its student exported, and the run's
:class:`~tracking_by_trackers.experiments.train.checkpoint_validation.CheckpointValidator` tracks the validation videos once; the
checkpoint with the best score is kept as the best, and only the best and the latest checkpoints stay on
disk. A checkpoint folder is written atomically (``tracking_by_trackers.experiments.train.checkpoint_files``) and
``state.json`` last, atomically, so a killed run resumes from the latest finished checkpoint: the curve and
validation rows after it are dropped, and the algorithm, rebuilt from the (possibly extended) config and
restored from the checkpoint, goes on with the same iteration count, training time spent, place on the
learning-rate curve and students' curricula (``tracking_by_trackers.policies.kdrl.student_states``). A latest
checkpoint that no longer matches its manifest is skipped, with a logged line, for the newest one that does.

Faults (docs/rllib.md, *Faults*): RLlib restarts an env runner that dies (:data:`ENV_RUNNER_FAULT_TOLERANCE`),
and training goes on; a dead learner actor stops the run with :class:`TrainingStopped`, which names the
checkpoint ``tbt train --resume`` goes on from.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from tracking_by_trackers.experiments.train.checkpoint_files import (
    MANIFEST,
    checkpoint_problem,
    remove_unfinished_checkpoints,
    write_checkpoint_atomically,
)
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

__all__ = [
    "ENV_RUNNER_FAULT_TOLERANCE",
    "VALIDATION_COLUMNS",
    "TrainingState",
    "TrainingStopped",
    "build_algorithm_config",
    "train_student",
]

logger = logging.getLogger(__name__)

EXPORTED_STUDENT = "student.pt"
CHECKPOINT_STATE = "training_state.json"
"""In every checkpoint folder: the :class:`TrainingState` it was written with (a resume that falls back to
an older checkpoint goes on from it)."""
ENV_RUNNER_FAULT_TOLERANCE = {
    # A lost runner (a crash, a preempted spot node) comes back with the same worker_index, and so the same
    # role; its students take the last checkpoint's state (tracking_by_trackers.policies.kdrl.student_states).
    "restart_failed_env_runners": True,
    # Runs last days on preemptible nodes, so restarts are routine; the cap only stops a runner that dies
    # at every start (a bug) from being restarted for ever.
    "max_num_env_runner_restarts": 100,
    # RLlib's default is 60 s; a runner's process starts in seconds, and the others sample meanwhile.
    "delay_between_env_runner_restarts_s": 5.0,
    # Failed health probes in a row before the run gives up: enough for a node's replacement to boot.
    "num_consecutive_env_runner_failures_tolerance": 100,
    "env_runner_health_probe_timeout_s": 30.0,
    # A restarted runner gets the module and connector states and its students' state within this time.
    "env_runner_restore_timeout_s": 300.0,
    # An exception inside a sub-env is a bug or bad data, which the clip sources skip with a logged line
    # before the env sees it: let it restart the whole runner, visibly, rather than the sub-env silently.
    "restart_failed_sub_environments": False,
}
"""RLlib's ``AlgorithmConfig.fault_tolerance`` settings of every run (``tbt train``, ``tbt tune``, ``tbt
submit``), set here only."""


class TrainingStopped(RuntimeError):
    """Training cannot go on in this process (a learner actor died); the message names the checkpoint that
    ``tbt train --resume`` continues from."""


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
        .fault_tolerance(**ENV_RUNNER_FAULT_TOLERANCE)
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
                rows = [row for row in csv.DictReader(handle) if _iteration(row) <= keep_until]
        # Atomically: a run killed right here must still find the rows it keeps.
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=SUMMARY_KEYS, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomically(path, text.getvalue())

    def append(self, row: dict[str, float]) -> None:
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=SUMMARY_KEYS).writerow(row)


def _iteration(row: dict) -> float:
    """A CSV row's iteration; infinite for a row cut short by a kill (so that it is dropped)."""
    try:
        return float(row["iteration"])
    except (TypeError, ValueError):
        return math.inf


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

    Raises:
        TrainingStopped: a learner actor died (RLlib does not restart learners); resume the run.
    """
    # Absolute: RLlib's save_to_path reads a relative path as a URI and refuses it.
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.json"
    checkpoints = out / "checkpoints"
    state = resume_point(TrainingState.read(state_path), checkpoints)
    budget_s = config.train_minutes * 60.0
    # Built from this run's config, so that a resume with a larger budget or another scale takes it.
    algo = build_algorithm_config(config, transfer_set_root).build_algo()
    if state.latest_checkpoint:
        print(f"resuming training from iteration {state.iteration} ({state.latest_checkpoint})")
        algo.restore_from_path(state.latest_checkpoint)
    curves = _CurveWriter(out / "curves.csv", keep_until=state.iteration)
    validation_path = out / "validation.csv"
    _start_validation_file(validation_path, keep_until=state.iteration)
    loggers = TrainingLoggers(config, out, run_name=out.parent.name)
    done = algo.budget_progress >= 1.0
    reported_restarts = 0
    try:
        _print_processes(algo)
        while not done:
            result = _train_one_iteration(algo, config, state, out)
            for restart in algo.recreated_runners[reported_restarts:]:
                print(_restart_line(restart), flush=True)
            reported_restarts = len(algo.recreated_runners)
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


def resume_point(state: TrainingState, checkpoints: Path) -> TrainingState:
    """The state to go on from: ``state`` (``state.json``) if its latest checkpoint is complete, else that of
    the newest complete checkpoint in ``checkpoints`` (with a logged line), else a fresh start.

    Also removes the temporary folders of checkpoint writes a killed run left behind (logged).
    """
    for leftover in remove_unfinished_checkpoints(checkpoints):
        logger.warning("removed %s, a checkpoint whose write a stopped run did not finish", leftover)
    if not state.latest_checkpoint:
        return TrainingState()
    latest = Path(state.latest_checkpoint)
    problem = checkpoint_problem(latest)
    if problem is None:
        return state
    if latest.is_dir() and not (latest / MANIFEST).exists() and not (latest / CHECKPOINT_STATE).exists():
        # Written before checkpoints had manifests, when state.json named a checkpoint only once it was saved.
        logger.info("checkpoint %s predates manifests: resuming from it unverified", latest)
        return state
    for candidate in sorted(checkpoints.glob("iter_*"), reverse=True):
        if candidate == latest or not candidate.is_dir():
            continue
        if checkpoint_problem(candidate) is None and (candidate / CHECKPOINT_STATE).is_file():
            older = TrainingState.read(candidate / CHECKPOINT_STATE)
            logger.warning(
                "skipping checkpoint %s: %s; resuming from %s (iteration %d) instead",
                latest,
                problem,
                candidate,
                older.iteration,
            )
            return older
    logger.warning(
        "skipping checkpoint %s: %s; no other complete checkpoint, training starts afresh", latest, problem
    )
    return TrainingState()


def _train_one_iteration(algo, config: TrainConfig, state: TrainingState, out: Path) -> dict:
    """``algo.train()``, with a learner actor's death turned into :class:`TrainingStopped`.

    RLlib restarts env runners but not learners: IMPALA's asynchronous update only logs that it took the
    dead learner "out of service" and trains on without it (or fails later with an unrelated error), and
    the module's weights and optimiser state died with it. So with learner actors every iteration ends with
    a probe of them, and the run resumes from its last checkpoint.
    """
    try:
        result = algo.train()
    except Exception as error:
        dead = _dead_learner(algo, config)
        if dead is None:
            raise
        raise _learner_died(dead, state, out) from error
    dead = _dead_learner(algo, config)
    if dead is not None:
        raise _learner_died(dead, state, out)
    return result


def _dead_learner(algo, config: TrainConfig) -> str | None:
    """How a learner actor failed its probe (``Type: message``), or None when they all answer (or the
    learner is the driver's)."""
    if config.num_learners < 1 or algo.learner_group.is_local:
        return None
    results = algo.learner_group.foreach_learner(_pid_and_node, healthy_only=False, timeout_seconds=60.0)
    for result in results:
        if not result.ok:
            error = result.get()
            return f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"
    return None


def _learner_died(reason: str, state: TrainingState, out: Path) -> TrainingStopped:
    where = (
        f"resume from {state.latest_checkpoint} (iteration {state.iteration}) with "
        f"`tbt train --resume --out {out.parent}`"
        if state.latest_checkpoint
        else f"no checkpoint was written yet: start again with `tbt train --resume --out {out.parent}`"
    )
    return TrainingStopped(
        f"a learner actor died during iteration {state.iteration + 1} ({reason}); RLlib does not restart "
        f"learners, so training stopped: {where}"
    )


def _roles(report: dict) -> str:
    from tracking_by_trackers.policies.kdrl.student_roles import ROLE_NAMES

    return ",".join(sorted({ROLE_NAMES.get(role, str(role)) for role in report["roles"]})) or "-"


def _curriculum_lengths(report: dict) -> str:
    lengths = [str(s["curriculum"]["length"]) for s in report["states"] if s.get("curriculum")]
    return ",".join(lengths) or "off"


def _print_processes(algo) -> None:
    """One line per env runner and learner: where it runs, under which pid (what an operator kills or looks
    for in the node's logs), and each runner's role."""
    import os

    for report in sorted(algo.students_report(), key=lambda r: r["worker_index"]):
        if report["states"]:  # RLlib's local runner beside remote ones has no envs
            print(
                f"env runner {report['worker_index']}: pid {report['pid']} on node {report['node'][:8]}, "
                f"role {_roles(report)}, curriculum lengths {_curriculum_lengths(report)}",
                flush=True,
            )
    if algo.learner_group.is_local:
        print(f"learner: in the driver, pid {os.getpid()}", flush=True)
        return
    for index, result in enumerate(algo.learner_group.foreach_learner(_pid_and_node)):
        pid, node = result.get()
        print(f"learner {index}: pid {pid} on node {node[:8]}", flush=True)


def _pid_and_node(_learner) -> tuple[int, str]:
    import os

    import ray

    return os.getpid(), ray.get_runtime_context().get_node_id()


def _restart_line(report: dict) -> str:
    source = (
        f"students from the checkpoint of iteration {report['from_iteration']}"
        if report.get("from_iteration") is not None
        else "fresh students (no checkpoint yet)"
    )
    return (
        f"env runner {report['worker_index']} restarted: pid {report['pid']} on node {report['node'][:8]}, "
        f"role {_roles(report)}, curriculum lengths {_curriculum_lengths(report)}, {source}"
    )


def _start_validation_file(path: Path, keep_until: int | None = None) -> None:
    """Create ``validation.csv``; for a resumed run, drop the rows past iteration ``keep_until`` (validated
    by a run killed before it recorded their checkpoint) and bring a file from before TRAST and TRASFUST
    were validated up to :data:`VALIDATION_COLUMNS` (their AOs empty), so that resumed rows line up."""
    if not path.is_file():
        path.write_text(",".join(VALIDATION_COLUMNS) + "\n")
        return
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fieldnames = tuple(reader.fieldnames or ())
        rows = list(reader)
    kept = [row for row in rows if keep_until is None or _iteration(row) <= keep_until]
    if fieldnames == VALIDATION_COLUMNS and len(kept) == len(rows):
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=VALIDATION_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: row.get(key, "") for key in VALIDATION_COLUMNS} for row in kept)
    write_text_atomically(path, text.getvalue())


def _checkpoint_and_validate(
    algo, state: TrainingState, checkpoints: Path, validator: CheckpointValidator, validation_path: Path
) -> tuple[set[str], dict[str, float]]:
    """Checkpoint, export, validate, update ``state``; returns the checkpoints no longer needed and the
    validation's row (``tracking_by_trackers.experiments.train.checkpoint_validation.validation_row``).

    The checkpoint folder is sealed (``checkpoint_files.write_checkpoint_atomically``) once it holds the
    validated state, so that it can stand in for ``state.json`` on a resume.
    """
    path = checkpoints / f"iter_{state.iteration:06d}"
    previous = {state.latest_checkpoint, state.best_checkpoint}
    aos: dict[str, float] = {}

    def write(folder: Path) -> None:
        algo.save_to_path(folder)
        student = export_student(folder, folder / EXPORTED_STUDENT)
        aos.update(_validate(student, state, validator, validation_path, path))
        state.write(folder / CHECKPOINT_STATE)

    write_checkpoint_atomically(path, write)
    return previous - {state.latest_checkpoint, state.best_checkpoint, None}, aos


def _validate(
    student, state: TrainingState, validator: CheckpointValidator, validation_path: Path, checkpoint: Path
) -> dict[str, float]:
    """Validate ``student``, append its row, and record ``checkpoint`` in ``state`` (as the best too, if it
    is); returns the row's AOs."""
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
    if improved:
        state.best_ao, state.best_iteration, state.best_checkpoint = (
            scores.score,
            state.iteration,
            str(checkpoint),
        )
    state.latest_checkpoint = str(checkpoint)
    return aos
