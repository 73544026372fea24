"""``tbt train``: the whole pipeline, from videos to a report, resumable stage by stage.

Stages (each prints its progress; a stopped run restarts where it stopped with ``--resume``):

1. videos: the training, validation and test datasets (synthetic by default: nothing is downloaded);
2. teachers: the teacher pool runs as Ray actors over the training videos (``tracking_by_trackers.teachers.teacher_pool``);
   finished (video, teacher) trajectories are stored as they end and never run again. With the default
   ``checkpoint_metric`` the pool also tracks the validation videos once, for TRAST and TRASFUST to
   replay at every validation (``tracking_by_trackers.experiments.train.checkpoint_validation``);
3. transfer set: β filtering and 32-frame clips (``tracking_by_trackers.teachers.transfer_set``); Table 1 is printed;
4. training: KD-RL on Ray with periodic validation that keeps the best checkpoint
   (``tracking_by_trackers.experiments.train.student_training``);
5. evaluation: TRAS, TRAST (with the teacher that tracked the training videos best) and TRASFUST (the
   whole pool) against every teacher, the identity tracker and the oracle on the test videos;
6. report: ``<out>/report/`` with ``summary.md``, the score tables and plots, the training curves, the
   exported student and the exact config used.

Layout of ``<out>``: ``config.json``, ``transfer_set/``, ``validation_teachers/``, ``training/``,
``evaluation/``, ``report/``.

On a cluster (``--address``, or the driver of a Ray job), every stage uses the cluster, not the head: the
teacher pool is sized for the cluster (:func:`teacher_pool_size`), and the validation teachers, every
validation and the final evaluation run as Ray tasks (``tracking_by_trackers.experiments.evaluation.evaluate``, backend ``ray``), which an
autoscaling cluster adds nodes for. On the private Ray instance of a laptop they run in threads of the
driver, which start faster there. GPUs that the cluster does not have and cannot get stop the run before
stage 2 (:func:`tracking_by_trackers.cluster.cluster_resources.check_gpu_request`). ``--out`` must then be storage that every
node sees (docs/cluster.md, *Data, weights and outputs on the nodes*): the validation tasks read the
teachers' stored tracks from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig

__all__ = [
    "best_teacher",
    "check_run_gpus",
    "evaluation_backend",
    "prepare_run_folder",
    "run_teachers",
    "run_training_pipeline",
    "run_validation_teachers",
    "shared_split_warnings",
    "teacher_pool_size",
    "validation_backend",
]

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
VALIDATION_TEACHERS = "validation_teachers"
"""The teachers' tracks of the validation videos, in the GOT-10k results layout."""
# Settings that may change on --resume without invalidating finished work: the budget and the scale.
_RESUMABLE_CHANGES = {
    "iterations",
    "train_minutes",
    "validate_every",
    "num_env_runners",
    "num_envs_per_env_runner",
    "num_gpus_per_env_runner",
    "num_learners",
    "num_gpus_per_learner",
    "num_aggregator_actors_per_learner",
    "placement_strategy",
    "custom_resources_per_env_runner",
    "custom_resources_per_learner",
    "num_teacher_actors",
    "address",
    "mlflow_tracking_uri",
    "mlflow_experiment",
    "wandb_project",
}


# Two of the three datasets holding the same videos, and what that spoils.
_SPLIT_PAIRS = {
    ("dataset", "validation_dataset"): "the best checkpoint would be chosen on videos the student trained on",
    ("dataset", "test_dataset"): "the test scores would be measured on videos the student trained on",
    ("validation_dataset", "test_dataset"): "the checkpoint would be chosen on the test videos",
}


def shared_split_warnings(config: TrainConfig, videos: dict[str, list]) -> list[str]:
    """One message for every two of the training, validation and test datasets that share videos.

    Args:
        config: The run's settings (for the dataset specs the messages name).
        videos: The videos each of the settings ``dataset``, ``validation_dataset`` and ``test_dataset``
            loaded. Two videos are the same when their benchmark, name and ground truth are, so two spellings
            of one folder are caught, and synthetic videos of different seeds or options are not.

    Returns:
        The messages (none when the three datasets are disjoint).
    """
    keys = {
        setting: {_video_key(sequence) for sequence in sequences} for setting, sequences in videos.items()
    }
    messages = []
    for (first, second), spoiled in _SPLIT_PAIRS.items():
        shared = keys[first] & keys[second]
        if not shared:
            continue
        specs = getattr(config, first), getattr(config, second)
        if keys[first] != keys[second]:
            what = f"{first} ({specs[0]}) and {second} ({specs[1]}) share {len(shared)} videos"
        elif specs[0] == specs[1]:
            what = f"{first} and {second} are the same dataset ({specs[0]})"
        else:
            what = f"{first} ({specs[0]}) and {second} ({specs[1]}) are the same dataset"
        messages.append(f"{what}: {spoiled}")
    return messages


def _video_key(sequence) -> tuple[str, str, str]:
    digest = hashlib.sha256(np.ascontiguousarray(sequence.gt_boxes, dtype=np.float64).tobytes()).hexdigest()
    return sequence.benchmark, sequence.name, digest


def _stage(number: int, title: str) -> float:
    print(f"\n== stage {number}/6: {title} ==", flush=True)
    return time.perf_counter()


def prepare_run_folder(out: Path, config: TrainConfig, resume: bool) -> TrainConfig:
    """Write ``config.json`` for a new run, or check it against ``config`` for a resumed one.

    A resumed run keeps the data and method settings it was started with and takes only the budget and
    scale settings (:data:`_RESUMABLE_CHANGES`) from ``config``: its checkpoint, transfer set and curriculum
    were made with the stored ones, and ``config`` cannot tell a flag given again from a default, so that
    ``tbt train --resume --out DIR`` alone must work. Every setting it keeps against ``config`` is printed
    on one line, stored and given values side by side (docs/bad_input.md).
    """
    config_path = out / CONFIG_FILE
    if config_path.is_file() and not resume:
        raise ConfigError(f"{out} already holds a run; resume it with --resume or choose another --out")
    if resume:
        if not config_path.is_file():
            raise ConfigError(f"nothing to resume: {config_path} does not exist")
        try:
            stored_settings = json.loads(config_path.read_text())
        except ValueError as error:
            raise ConfigError(f"cannot resume: {config_path} is not valid JSON ({error})") from None
        try:
            stored = TrainConfig.from_dict(stored_settings)
        except ConfigError as error:
            raise ConfigError(f"cannot resume: {config_path}: {error}") from None
        kept = {
            key: (getattr(stored, key), value)
            for key, value in config.to_dict().items()
            if value != getattr(stored, key) and key not in _RESUMABLE_CHANGES
        }
        config = stored.updated(**{k: v for k, v in config.to_dict().items() if k in _RESUMABLE_CHANGES})
        if kept:
            listed = ", ".join(f"{key} {old!r} (given {new!r})" for key, (old, new) in sorted(kept.items()))
            print(
                f"resuming {out} with its stored settings: {listed}; on --resume only budget and scale "
                f"settings change ({', '.join(sorted(_RESUMABLE_CHANGES))}); start a new --out to change "
                "the others"
            )
    out.mkdir(parents=True, exist_ok=True)
    config.write(config_path)
    return config


def best_teacher(transfer_rows, teachers: list[str]) -> str:
    """The teacher with the highest mean IoU over the training videos (the TRAST partner)."""
    rows = transfer_rows[transfer_rows["teacher"].isin(teachers)]
    means = rows.groupby("teacher")["iou"].mean()
    return str(means.idxmax())


def run_training_pipeline(config: TrainConfig, out: str | Path, resume: bool = False) -> Path:
    """Run every stage (see the module docstring); returns the report folder."""
    from tracking_by_trackers.cluster.ray_runtime import init_ray
    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.teachers.transfer_set import TransferSetClipSource, table1

    out = Path(out).resolve()
    config = config.validate()
    wall = time.perf_counter()
    init_ray(config.address)
    # Before anything is written or run. The GPU settings are scale settings, which a resumed run takes
    # from ``config``, not from the stored one.
    check_run_gpus(config)
    config = prepare_run_folder(out, config, resume)
    backend = evaluation_backend()
    print(
        "Ray: "
        + (
            "joined a cluster; the evaluations run as Ray tasks"
            if backend == "ray"
            else "a private instance; the evaluations run in threads of the driver"
        ),
        flush=True,
    )
    timings: dict[str, float] = {}

    started = _stage(1, "videos")
    train_videos = load_dataset(config.dataset)
    validation_videos = load_dataset(config.validation_dataset)
    test_videos = load_dataset(config.test_dataset)
    for label, videos, spec in (
        ("training", train_videos, config.dataset),
        ("validation", validation_videos, config.validation_dataset),
        ("test", test_videos, config.test_dataset),
    ):
        print(f"{label}: {len(videos)} videos, {sum(len(v) for v in videos)} frames ({spec})")
    splits = {"dataset": train_videos, "validation_dataset": validation_videos, "test_dataset": test_videos}
    for message in shared_split_warnings(config, splits):
        logger.warning(message)
    timings["videos"] = time.perf_counter() - started

    started = _stage(2, f"teachers ({config.teachers}) on the training videos")
    store = run_teachers(config, train_videos, out / "transfer_set")
    if config.checkpoint_metric == "modes":
        print(
            "the same teachers on the validation videos (replayed by TRAST and TRASFUST at every validation)"
        )
        run_validation_teachers(config, validation_videos, out / VALIDATION_TEACHERS, backend=backend)
    timings["teachers"] = time.perf_counter() - started

    started = _stage(3, f"transfer set (beta {config.beta:g})")
    rows = store.read_all()
    print(
        table1(
            rows,
            betas=[config.beta],
            clip_length=config.clip_length,
            clips_per_trajectory=config.clips_per_trajectory,
            beta_scope=config.beta_scope,
        ).to_string(float_format="{:.3f}".format)
    )
    if config.ablation != "gt_only":
        # Fails here, with its explanation, rather than on every env runner.
        source = TransferSetClipSource(
            rows,
            train_videos,
            beta=config.beta,
            clip_length=config.clip_length,
            clips_per_trajectory=config.clips_per_trajectory,
            seed=config.seed,
            teachers=config.teachers_list(),
            beta_scope=config.beta_scope,
        )
        print(f"{len(source)} clips of {config.clip_length} frames from {len(source.kept)} kept trajectories")
    partner = best_teacher(rows, config.teachers_list())
    print(f"TRAST's teacher: {partner} (best mean IoU on the training videos)")
    timings["transfer_set"] = time.perf_counter() - started

    started = _stage(
        4, f"training ({config.preset} student, {config.ablation}, {config.train_minutes:g} min budget)"
    )
    from tracking_by_trackers.experiments.train.checkpoint_validation import validator_for_run
    from tracking_by_trackers.experiments.train.student_training import EXPORTED_STUDENT, train_student

    validator = validator_for_run(
        config,
        validation_videos,
        partner=partner,
        teacher_results=out / VALIDATION_TEACHERS,
        backend=validation_backend(config, backend),
    )
    where = "as Ray tasks" if validator.backend == "ray" else "in threads of the driver"
    print(f"validations run {where}", flush=True)
    state = train_student(config, out / "transfer_set", validator, out / "training")
    print(
        f"trained {state.iteration} iterations in {state.train_seconds / 60:.1f} min; best validation "
        f"{validator.describe()} {state.best_ao:.3f} at iteration {state.best_iteration}"
    )
    timings["training"] = time.perf_counter() - started

    report = out / "report"
    report.mkdir(parents=True, exist_ok=True)
    student = report / EXPORTED_STUDENT
    shutil.copyfile(Path(state.best_checkpoint) / EXPORTED_STUDENT, student)

    started = _stage(5, "evaluation on the test videos")
    from tracking_by_trackers.experiments.train.train_report import (
        evaluate_on_test_set,
        write_training_report,
    )

    specs = _evaluation_specs(config, partner)
    evaluation = evaluate_on_test_set(config, specs, student, out / "evaluation", backend=backend)
    timings["evaluation"] = time.perf_counter() - started

    _stage(6, "report")
    timings["total"] = time.perf_counter() - wall
    write_training_report(
        report, config, out, state, evaluation, specs=specs, partner=partner, timings=timings
    )
    print(f"\nreport: {report / 'summary.md'}")
    return report


def _evaluation_specs(config: TrainConfig, partner: str) -> list[str]:
    teachers = config.teachers_list()
    return ["tras", f"trast:{partner}", f"trasfust:{'+'.join(teachers)}", *teachers, "identity"]


def run_teachers(config: TrainConfig, videos, root: Path):
    """Stage 2: the teacher pool over ``videos`` into the transfer-set store at ``root`` (resumable)."""
    from tracking_by_trackers.teachers.registry import parse_tracker_specs
    from tracking_by_trackers.teachers.teacher_pool import TeacherPool
    from tracking_by_trackers.teachers.transfer_store import TransferSetStore

    store = TransferSetStore(root)
    store.write_manifest(config.dataset, config.teachers_list())
    factories = parse_tracker_specs(
        config.teachers, results_root=config.results_root, model_dir=config.model_dir
    )
    jobs = sum(not store.has(v.benchmark, v.name, name) for v in videos for name in factories)
    pool = TeacherPool(
        teacher_pool_size(config, jobs), resources_per_actor=config.custom_resources_per_env_runner
    )
    print(f"{jobs} (video, teacher) pairs to run on {len(pool.actors)} teacher actors")
    try:
        report = pool.build(videos, factories, store)
    finally:
        pool.shutdown()  # frees the actors' CPUs for the env runners of the next stage
    print(f"{report.ran} trajectories run, {report.skipped} already stored, {len(report.failed)} failed")
    for video, teacher, message in report.bad_input:
        print(f"skipped {teacher} on {video}: {message}")
    return store


def run_validation_teachers(config: TrainConfig, videos, root: Path, backend: str = "threads") -> int:
    """The teacher pool over the validation videos, stored under ``root`` in the GOT-10k results layout
    (resumable: stored tracks are not run again), in threads or as Ray tasks (``backend``); returns the
    number of tracks run."""
    from tracking_by_trackers.experiments.evaluation.evaluate import evaluate_trackers
    from tracking_by_trackers.teachers.registry import parse_tracker_specs

    factories = parse_tracker_specs(
        config.teachers, results_root=config.results_root, model_dir=config.model_dir
    )
    return evaluate_trackers(videos, factories, root, backend=backend)


def teacher_pool_size(config: TrainConfig, jobs: int) -> int:
    """Stage 2's actors: ``num_teacher_actors`` if set, else one per CPU of the cluster or per env runner
    of stage 4, whichever is more, and never more than the ``jobs`` to run (at least 1).

    The env runners count because a cluster that grows on demand (a KubeRay head with no CPUs and worker
    groups from 0) has no CPUs when the run starts: the pool's waiting actors make its autoscaler add the
    nodes that the env runners, which ask for the same custom resources, then train on. Actors that never
    find room hold no job (``tracking_by_trackers.teachers.teacher_pool``).
    """
    from tracking_by_trackers.teachers.teacher_pool import default_pool_size

    if config.num_teacher_actors is not None:
        size = config.num_teacher_actors
    else:
        size = default_pool_size(cpus_wanted=config.num_env_runners)
    return max(1, min(size, jobs))


def evaluation_backend() -> str:
    """``"ray"`` on a cluster this run joined, ``"threads"`` on its private Ray instance (see the module
    docstring)."""
    from tracking_by_trackers.cluster.ray_runtime import joined_cluster

    return "ray" if joined_cluster() else "threads"


def validation_backend(config: TrainConfig, backend: str) -> str:
    """The backend of the validations during training: ``backend``, unless that is ``"ray"`` on a cluster
    whose CPUs the env runners and learners take all of, with no autoscaler to add more; validation tasks
    would then wait for a CPU until training ends, and the driver's threads run them instead."""
    if backend != "ray":
        return backend
    from tracking_by_trackers.cluster.cluster_resources import cluster_capacity

    # RLlib gives each env runner 1 CPU, and each learner actor 1 CPU unless it has a GPU.
    busy = config.num_env_runners + (config.num_learners if config.num_gpus_per_learner == 0 else 0)
    return "ray" if cluster_capacity().reachable("CPU") - busy >= 1 else "threads"


def check_run_gpus(config: TrainConfig) -> None:
    """Stop the run, with one line, if it asks for GPUs that the cluster has not and cannot get
    (:func:`tracking_by_trackers.cluster.cluster_resources.check_gpu_request`); raises :class:`ConfigError`."""
    from tracking_by_trackers.cluster.cluster_resources import GPURequestError, check_gpu_request

    learners_are_actors = config.num_learners > 0
    try:
        check_gpu_request(
            {
                "learners": config.num_learners * config.num_gpus_per_learner,
                "env runners": config.num_env_runners * config.num_gpus_per_env_runner,
            },
            driver_gpus=0 if learners_are_actors else config.num_gpus_per_learner,
        )
    except GPURequestError as error:
        raise ConfigError(str(error)) from None
