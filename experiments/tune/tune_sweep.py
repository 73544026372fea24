"""``tbt tune``: a Ray Tune sweep of KD-RL, ranked on the score ``tbt train`` chooses checkpoints with.

    tbt tune [--config FILE] [--dataset …] [--num-samples 8] [--max-iterations 100] [--validate-every 5]
             [--lr loguniform:1e-4:3e-3] [--beta 0.3,0.5] [--t-max 5,10] [--distil-fraction 0.25,0.5,0.75]
             [--curriculum on,off] [--teacher-pools kcf+csrt+mosse+medianflow,kcf+csrt] [--grid]
             [--scheduler asha|pbt] [--seeds 3] [--storage-path s3://bucket/sweeps]
             [--gpus-per-trial 0] [--out runs/tune] [--resume]

A trial is a ``tbt train`` run with the trial's settings and a shortened budget: the algorithm, its
learning-rate schedule and budget, the validator and its checkpoint metric are those of ``tbt train``
(``tracking_by_trackers.experiments.tune.tune_trainable``); only the budget (``--max-iterations``, or the base config's
``train_minutes`` if that runs out first) and the validation cadence (``--validate-every``) are the
sweep's own.

Steps:

1. the teachers of every pool run once, as Ray actors, over the training videos into one transfer set
   (``<out>/transfer_set``; resumable), and every (β, pool) a trial may draw is checked to give clips;
   with the ``modes`` checkpoint metric they also track the validation videos once
   (``<out>/validation_teachers``), and each pool's TRAST partner is its best teacher on the training
   videos, as in ``tbt train``;
2. Ray Tune trains one KD-RL algorithm per trial. Every trial reports the validation ``score``
   (``TrainConfig.checkpoint_metric``: by default the mean AO of TRAS, TRAST and TRASFUST) every
   ``--validate-every`` iterations and is checkpointed as often, keeping its best checkpoints. The
   scheduler (``--scheduler``) is ASHA, which stops the trials that fall behind at its rungs, or
   population-based training (PBT), which every ``--perturbation-interval`` iterations copies the
   weights of the trials ahead into those behind and perturbs their learning rate. With ``--seeds`` every
   configuration runs once per seed (the random settings are drawn once and shared by its seeds);
3. ``<out>/results.{csv,md}`` (configurations ranked by their mean score over seeds, with its spread),
   ``trials.csv``, ``score_vs_settings.png``, ``best_config.json`` (the base config with the best
   configuration's settings and the base's own budget and validation cadence: ``tbt train --config``
   runs it as it is), ``best.json`` and ``best_student.pt`` (``tracking_by_trackers.experiments.tune.tune_results``).

Tune's own files (its experiment state, the trials' results, TensorBoard files and checkpoints) are
under ``--storage-path`` (a local path or a URI such as ``s3://bucket/sweeps`` or ``gs://…``, resolved
by pyarrow's filesystems as Tune resolves it), in ``<storage>/sweep``; by default ``<out>/sweep``. MLflow
and W&B log the trials too with ``--mlflow-tracking-uri`` / ``--wandb-project``
(``tracking_by_trackers.experiments.train.training_loggers``).

An interrupted sweep (killed driver, Ctrl-C, lost node) continues with ``--resume``: ``Tuner.restore``
restarts the unfinished and failed trials from their latest checkpoints with the settings stored in
``<out>/sweep.json`` (flags given with ``--resume`` are ignored); finished trials are not run again
(docs/cluster.md, *Resuming teacher builds, evaluations and sweeps*).

On a multi-node cluster ``--out`` must be a folder every node sees (the shared ``/mnt/tbt/runs`` of
docs/cluster.md): the env runners read the transfer set from it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tracking_by_trackers.experiments.train.checkpoint_validation import METRIC_DESCRIPTIONS, SCORE
from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig, load_config_file
from tracking_by_trackers.experiments.train.training_loggers import (
    add_logger_arguments,
    tune_logger_callbacks,
)
from tracking_by_trackers.experiments.tune.tune_search_space import (
    DEFAULT_SEARCH_SPACE,
    parse_values,
    search_space,
    swept_settings,
    teacher_pools,
    teachers_union,
)
from tracking_by_trackers.experiments.tune.tune_trainable import (
    PARTNERS_KEY,
    PLACEMENT_STRATEGY_KEY,
    TRANSFER_SET_ROOT_KEY,
    VALIDATION_TEACHERS_KEY,
    SweepKDRL,
)
from tracking_by_trackers.teachers.atomic_io import write_text_atomically

__all__ = [
    "SCHEDULERS",
    "SweepOutcome",
    "SweepSettings",
    "add_tune_arguments",
    "build_scheduler",
    "check_out_folder",
    "check_trial_fits",
    "experiment_path",
    "parse_seeds",
    "prepare_sweep_data",
    "run_config",
    "run_sweep",
    "run_tune",
    "search_algorithm",
    "settings_from_args",
    "storage_location",
]

logger = logging.getLogger(__name__)

SETTINGS_FILE = "sweep.json"
SWEEP_VALIDATE_EVERY = 5
EXPERIMENT_NAME = "sweep"
TRANSFER_SET = "transfer_set"
VALIDATION_TEACHERS = "validation_teachers"
SCHEDULERS = ("asha", "pbt")
# How often Tune saves the experiment's state (which trials finished), in seconds: Tune's environment
# variable, read when the sweep starts.
EXPERIMENT_STATE_PERIOD_ENV = "TUNE_GLOBAL_CHECKPOINT_S"
EXPERIMENT_STATE_PERIOD_S = "1"
# The search-space flags: flag name → the TrainConfig setting it sweeps.
_SPACE_FLAGS = {
    "lr": "lr",
    "beta": "beta",
    "t_max": "t_max",
    "distil_fraction": "distil_fraction",
    "curriculum": "curriculum",
    "teacher_pools": "teachers",
}
# Flags that set the fixed (unswept) training settings of every trial and of best_config.json:
# flag name → TrainConfig field.
_BASE_FLAGS = {
    "dataset": "dataset",
    "validation_dataset": "validation_dataset",
    "checkpoint_metric": "checkpoint_metric",
    "preset": "preset",
    "clip_length": "clip_length",
    "train_batch_size": "train_batch_size",
    "num_env_runners": "num_env_runners",
    "num_envs_per_env_runner": "num_envs_per_env_runner",
    "num_learners": "num_learners",
    "gpus_per_trial": "num_gpus_per_learner",
    "seed": "seed",
    "mlflow_tracking_uri": "mlflow_tracking_uri",
    "mlflow_experiment": "mlflow_experiment",
    "wandb_project": "wandb_project",
}


@dataclass
class SweepSettings:
    """Everything a sweep depends on; stored as ``<out>/sweep.json`` so that ``--resume`` rebuilds it."""

    base: dict[str, Any] = field(default_factory=lambda: TrainConfig().to_dict())
    """The training settings every trial shares, and the budget and validation cadence of the real run
    that ``best_config.json`` describes (a :class:`TrainConfig` as a dict)."""
    space: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEARCH_SPACE))
    """Swept setting → its spec string (``tracking_by_trackers.experiments.tune.tune_search_space``)."""
    num_samples: int = 8
    max_iterations: int = 100
    """A trial's iteration budget: its learning rate anneals over it (or over the base's
    ``train_minutes``, if that runs out first)."""
    validate_every: int = SWEEP_VALIDATE_EVERY
    """A trial's iterations between validations and checkpoints (the schedulers compare fresh scores)."""
    scheduler: str = "asha"
    grace_period: int = 10
    """ASHA's first rung, and PBT's burn-in (iterations before its first perturbation)."""
    reduction_factor: float = 2.0
    perturbation_interval: int = 10
    """PBT: iterations between a trial's perturbations."""
    seeds: list[int] | None = None
    """Every configuration runs once per seed; None: once, with the base's seed."""
    grid: bool = False
    max_concurrent_trials: int | None = None
    checkpoints_to_keep: int = 2
    placement_strategy: str = "PACK"
    storage_path: str | None = None
    """Where Tune keeps the experiment: a local path or a URI (``s3://…``, ``gs://…``); None: ``--out``."""

    def base_config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.base)

    def trial_config(self) -> TrainConfig:
        """A trial's fixed settings: the base with the sweep's budget and validation cadence."""
        return self.base_config().updated(iterations=self.max_iterations, validate_every=self.validate_every)

    def run_config_base(self) -> TrainConfig:
        """What ``best_config.json`` builds on: the base with the settings the search space fixes (a
        single value), which every trial trained with."""
        fixed = {}
        for setting, spec in self.space.items():
            kind, values = parse_values(setting, spec)
            if kind == "choice" and len(values) == 1:
                fixed[setting] = values[0]
        return self.base_config().updated(**fixed)

    def seed_list(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.base_config().seed]

    def validate(self) -> SweepSettings:
        """Check the settings; raises :class:`ConfigError` naming the first bad one."""
        self.trial_config().validate()
        for setting, spec in self.space.items():
            parse_values(setting, spec)
        seeds = self.seed_list()
        checks = [
            (self.num_samples >= 1, f"num_samples must be >= 1, got {self.num_samples}"),
            (self.max_iterations >= 1, f"max_iterations must be >= 1, got {self.max_iterations}"),
            (self.validate_every >= 1, f"validate_every must be >= 1, got {self.validate_every}"),
            (self.scheduler in SCHEDULERS, f"scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}"),
            (self.grace_period >= 1, f"grace_period must be >= 1, got {self.grace_period}"),
            (self.reduction_factor > 1, f"reduction_factor must be > 1, got {self.reduction_factor}"),
            (self.perturbation_interval >= 1, "perturbation_interval must be >= 1"),
            (len(set(seeds)) == len(seeds), f"seeds must differ, got {seeds}"),
            (self.checkpoints_to_keep >= 1, "checkpoints_to_keep must be >= 1"),
            (
                self.placement_strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"),
                f"placement_strategy must be PACK, SPREAD, STRICT_PACK or STRICT_SPREAD, "
                f"got {self.placement_strategy!r}",
            ),
        ]
        if self.scheduler == "pbt":
            checks += [
                (
                    "lr" in swept_settings(self.space),
                    f"PBT perturbs the learning rate: give --lr a range or a list, got {self.space.get('lr')!r}",
                ),
                (
                    len(seeds) == 1,
                    "PBT copies weights between trials, so a trial does not stay on its seed: run a PBT "
                    "sweep once per --seed instead of --seeds",
                ),
            ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        rung = self.perturbation_interval if self.scheduler == "pbt" else self.grace_period
        if rung % self.validate_every:
            logger.warning(
                "%s %d is not a multiple of validate_every %d: the scheduler will compare some trials on "
                "a score measured up to %d iterations earlier",
                "perturbation_interval" if self.scheduler == "pbt" else "grace_period",
                rung,
                self.validate_every,
                self.validate_every - 1,
            )
        return self

    def write(self, path: Path) -> None:
        write_text_atomically(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> SweepSettings:
        return cls(**json.loads(path.read_text()))


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` returns: Tune's result grid, the configurations' table and the best one."""

    grid: Any
    table: Any
    best: Any
    settings: SweepSettings


def parse_seeds(text: str, first: int = 0) -> list[int]:
    """``--seeds``: a count N (the seeds ``first`` … ``first`` + N − 1) or a comma-separated list."""
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--seeds: expected a count or a list such as 0,1,2, got {text!r}") from None
    if "," in text:
        seeds = numbers
    elif numbers and numbers[0] >= 1:
        seeds = list(range(first, first + numbers[0]))
    else:
        raise ConfigError(f"--seeds: a count must be >= 1, got {text!r}")
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ConfigError(f"--seeds: expected distinct seeds, got {text!r}")
    return seeds


def storage_location(storage_path: str | None, out: str | Path) -> str:
    """Where Tune keeps the sweep: a URI (``s3://…``, ``gs://…``, ``file://…``) as it is, for pyarrow to
    resolve as Tune does; a plain path made absolute; ``out`` when none is given."""
    if storage_path is None:
        return str(Path(out).resolve())
    if "://" in storage_path:
        return storage_path
    return str(Path(storage_path).resolve())


def experiment_path(settings: SweepSettings, out: str | Path) -> str:
    """The sweep's Tune experiment (what ``Tuner.restore`` reads): ``<storage>/sweep``."""
    return storage_location(settings.storage_path, out).rstrip("/") + "/" + EXPERIMENT_NAME


def prepare_sweep_data(settings: SweepSettings, out: Path) -> dict[str, Any]:
    """Step 1 of the module docstring (resumable); returns the trial-config entries that point at it.

    Raises:
        ConfigError: a (β, pool) a trial may draw that gives no clips.
    """
    import pandas as pd

    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.experiments.train.train_pipeline import (
        best_teacher,
        run_teachers,
        run_validation_teachers,
    )
    from tracking_by_trackers.teachers.transfer_set import TransferSetClipSource

    base = settings.base_config()
    pools = teacher_pools(settings.space, base.teachers)
    union = base.updated(teachers=teachers_union(pools))
    videos = load_dataset(base.dataset)
    print(f"teachers {union.teachers} on {len(videos)} training videos ({base.dataset})", flush=True)
    store = run_teachers(union, videos, out / TRANSFER_SET)
    rows = store.read_all()
    betas = parse_values("beta", settings.space["beta"])[1] if "beta" in settings.space else [base.beta]
    clips: dict[tuple[float, str], int] = {}
    for beta in betas:
        for pool in pools:
            try:
                source = TransferSetClipSource(
                    rows,
                    videos,
                    beta=beta,
                    clip_length=base.clip_length,
                    clips_per_trajectory=base.clips_per_trajectory,
                    seed=base.seed,
                    teachers=pool.split(","),
                    beta_scope=base.beta_scope,
                )
            except ValueError as error:
                raise ConfigError(
                    f"beta {beta:g} with teacher pool {pool.replace(',', '+')}: {error}"
                ) from None
            clips[(beta, pool)] = len(source)
    table = pd.DataFrame(
        [{"beta": beta, "teachers": pool.replace(",", "+"), "clips": n} for (beta, pool), n in clips.items()]
    )
    print(f"clips of {base.clip_length} frames per (beta, teacher pool):\n{table.to_string(index=False)}")
    entries: dict[str, Any] = {TRANSFER_SET_ROOT_KEY: str((out / TRANSFER_SET).resolve())}
    if base.checkpoint_metric == "modes":
        validation = load_dataset(base.validation_dataset)
        print(
            f"teachers {union.teachers} on the {len(validation)} validation videos (for TRAST and TRASFUST)"
        )
        run_validation_teachers(union, validation, out / VALIDATION_TEACHERS)
        entries[VALIDATION_TEACHERS_KEY] = str((out / VALIDATION_TEACHERS).resolve())
        entries[PARTNERS_KEY] = {pool: best_teacher(rows, pool.split(",")) for pool in pools}
        print("TRAST's teacher per pool:", json.dumps(entries[PARTNERS_KEY]))
    return entries


def _param_space(settings: SweepSettings, data: dict[str, Any]) -> dict[str, Any]:
    from ray import tune

    seeds = settings.seed_list()
    return {
        **settings.trial_config().to_dict(),
        **search_space(settings.space, grid=settings.grid),
        "seed": tune.grid_search(seeds) if len(seeds) > 1 else seeds[0],
        **data,
        PLACEMENT_STRATEGY_KEY: settings.placement_strategy,
    }


def build_scheduler(settings: SweepSettings):
    """ASHA or PBT on the validation score (PBT perturbs ``lr`` within its search-space spec)."""
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining

    if settings.scheduler == "asha":
        return ASHAScheduler(
            time_attr="training_iteration",
            metric=SCORE,
            mode="max",
            max_t=settings.max_iterations,
            grace_period=settings.grace_period,
            reduction_factor=settings.reduction_factor,
        )
    kind, values = parse_values("lr", settings.space["lr"])
    lr = search_space({"lr": settings.space["lr"]})["lr"] if kind != "choice" else values
    return PopulationBasedTraining(
        time_attr="training_iteration",
        metric=SCORE,
        mode="max",
        perturbation_interval=settings.perturbation_interval,
        burn_in_period=settings.grace_period,
        hyperparam_mutations={"lr": lr},
    )


def run_config(settings: SweepSettings, out: str | Path, callbacks: list) -> Any:
    """The sweep's ``tune.RunConfig``: where Tune keeps it, the trials' checkpoints, the loggers."""
    from ray import tune

    return tune.RunConfig(
        name=EXPERIMENT_NAME,
        storage_path=storage_location(settings.storage_path, out),
        checkpoint_config=tune.CheckpointConfig(
            # PBT clones other trials' checkpoints: Tune warns that keeping 2 or fewer can delete one before
            # the trial that exploits it has restored it.
            num_to_keep=settings.checkpoints_to_keep
            if settings.scheduler == "asha"
            else max(settings.checkpoints_to_keep, 4),
            checkpoint_score_attribute=SCORE,
            checkpoint_score_order="max",
            checkpoint_frequency=settings.validate_every,
            checkpoint_at_end=True,
        ),
        # RLlib restarts env runners but not learners: a failed trial restarts from its checkpoint.
        failure_config=tune.FailureConfig(max_failures=1),
        callbacks=[*tune_logger_callbacks(settings.base_config(), EXPERIMENT_NAME), *callbacks],
        verbose=1,
    )


def search_algorithm(settings: SweepSettings) -> Any:
    """Tune's grid and random search, running at most ``max_concurrent_trials`` trials at once.

    The seeds are a grid axis: the random settings are drawn once and shared across the seeds. The limit
    goes to the generator itself: Tune ignores ``TuneConfig(max_concurrent_trials=…)`` (with a warning)
    when a ``BasicVariantGenerator`` is passed in.
    """
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(
        constant_grid_search=True, max_concurrent=settings.max_concurrent_trials or 0
    )


def _new_tuner(settings: SweepSettings, out: Path, data: dict[str, Any], callbacks: list) -> Any:
    from ray import tune

    return tune.Tuner(
        SweepKDRL,
        param_space=_param_space(settings, data),
        tune_config=tune.TuneConfig(
            num_samples=settings.num_samples,
            scheduler=build_scheduler(settings),
            search_alg=search_algorithm(settings),
        ),
        run_config=run_config(settings, out, callbacks),
    )


def check_trial_fits(settings: SweepSettings, resources: dict[str, float]) -> None:
    """Refuse a sweep whose trials need more CPUs or GPUs than ``resources`` (a fixed, local Ray instance's
    ``ray.cluster_resources()``): Tune would otherwise wait forever for a trial it can never start."""
    trial = {**settings.base, TRANSFER_SET_ROOT_KEY: "", PLACEMENT_STRATEGY_KEY: settings.placement_strategy}
    bundles = SweepKDRL.default_resource_request(trial).bundles
    for kind in ("CPU", "GPU"):
        needed = sum(bundle.get(kind, 0) for bundle in bundles)
        if needed > resources.get(kind, 0):
            raise ConfigError(
                f"each trial needs {needed:g} {kind}{'' if needed == 1 else 's'} (its driver and learner, and "
                f"{settings.base['num_env_runners']} env runners of 1 CPU) but this Ray instance has "
                f"{resources.get(kind, 0):g}; lower --num-env-runners or --gpus-per-trial, or join a "
                "cluster with --address"
            )


def check_out_folder(out: str | Path, resume: bool) -> None:
    """Refuse to start a sweep over another one, or to resume one that was never started (ConfigError)."""
    settings_path = Path(out) / SETTINGS_FILE
    if resume and not settings_path.is_file():
        raise ConfigError(
            f"nothing to resume in {out}: no sweep was started there ({SETTINGS_FILE} is missing)"
        )
    if not resume and settings_path.is_file():
        raise ConfigError(f"{out} already holds a sweep; continue it with --resume or choose another --out")


def run_sweep(
    settings: SweepSettings, out: str | Path, resume: bool = False, callbacks: list | None = None
) -> SweepOutcome:
    """Run (or, with ``resume``, continue) the sweep of the module docstring; needs Ray initialised.

    ``callbacks`` are Ray Tune callbacks of a new sweep (tests interrupt one with them); a resumed sweep
    keeps the callbacks it started with (Tune restores them with its run config).

    Raises:
        ConfigError: bad settings, a folder that already holds a sweep (without ``resume``) or holds none
            (with it), or a (β, pool) that gives no clips.
        Exception: whatever stopped Tune's driver loop before the sweep's end (a failing callback, Ctrl-C):
            the trials' checkpoints and Tune's experiment state stay, and ``resume=True`` continues.
    """
    from ray import tune

    from tracking_by_trackers.experiments.tune.tune_results import write_sweep_results

    out = Path(out).resolve()
    settings_path = out / SETTINGS_FILE
    check_out_folder(out, resume)
    if resume:
        settings = SweepSettings.read(settings_path)
        print(f"resuming the sweep in {out} with its stored settings ({settings_path})", flush=True)
        if callbacks:
            # Tuner.restore brings back the pickled run config, callbacks included; it takes no new ones.
            logger.warning("callbacks given to a resumed sweep are ignored: it keeps those it started with")
    settings.validate()
    # Tune saves which trials finished every 10 s or more by default: a driver killed in between leaves a
    # state in which a finished trial is still running, and --resume would train it on from its last
    # checkpoint. Every second instead (Tune's own setting, unless the user set it); docs/cluster.md.
    os.environ.setdefault(EXPERIMENT_STATE_PERIOD_ENV, EXPERIMENT_STATE_PERIOD_S)
    experiment = experiment_path(settings, out)
    if resume and tune.Tuner.can_restore(experiment):
        tuner = tune.Tuner.restore(
            experiment, trainable=SweepKDRL, resume_unfinished=True, resume_errored=True
        )
    else:  # a new sweep, or one stopped before Tune recorded its experiment: (re)start the trials
        data = prepare_sweep_data(settings, out)  # resumes half-built teacher tracks
        settings.write(settings_path)
        tuner = _new_tuner(settings, out, data, list(callbacks or []))
    grid = tuner.fit()
    swept = swept_settings(settings.space)
    table, best = write_sweep_results(grid, out, swept, settings.run_config_base(), settings.max_iterations)
    return SweepOutcome(grid=grid, table=table, best=best, settings=settings)


def add_tune_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The flags of ``tbt tune`` (see the module docstring); ``parser.set_defaults(func=...)`` is the caller's."""
    defaults = SweepSettings()
    space = parser.add_argument_group(
        "search space",
        "a list of choices (a,b,c), a distribution (loguniform:LOW:HIGH, uniform:LOW:HIGH, "
        "lr and distil-fraction only), or one value to fix the setting",
    )
    space.add_argument("--lr", default=DEFAULT_SEARCH_SPACE["lr"], help="RAdam learning rate (%(default)s)")
    space.add_argument(
        "--beta", default=DEFAULT_SEARCH_SPACE["beta"], help="β of the transfer set (%(default)s)"
    )
    space.add_argument(
        "--t-max", default=DEFAULT_SEARCH_SPACE["t_max"], help="steps per segment (%(default)s)"
    )
    space.add_argument(
        "--distil-fraction",
        default=DEFAULT_SEARCH_SPACE["distil_fraction"],
        help="share of distilling students (%(default)s)",
    )
    space.add_argument(
        "--curriculum",
        default=DEFAULT_SEARCH_SPACE["curriculum"],
        help="episode-length curriculum (%(default)s)",
    )
    space.add_argument(
        "--teacher-pools",
        default=DEFAULT_SEARCH_SPACE["teachers"],
        help="teacher pools, comma-separated, members joined by '+' (%(default)s)",
    )
    space.add_argument(
        "--grid", action="store_true", help="try every combination of the lists (num-samples times each)"
    )
    sweep = parser.add_argument_group("sweep")
    sweep.add_argument("--out", default="runs/tune", help="output folder (%(default)s)")
    sweep.add_argument("--resume", action="store_true", help="continue the interrupted sweep in --out")
    sweep.add_argument(
        "--storage-path",
        help="where Tune keeps the experiment and the trials' checkpoints: a path or a URI such as "
        "s3://bucket/sweeps or gs://bucket/sweeps (default: --out)",
    )
    sweep.add_argument("--num-samples", type=int, default=defaults.num_samples, help="trials (%(default)s)")
    sweep.add_argument(
        "--seeds",
        help="run every configuration once per seed and rank configurations by their mean score: a count "
        "N (seeds --seed … --seed+N-1) or a list such as 0,1,2 (default: once, with --seed)",
    )
    sweep.add_argument(
        "--max-iterations",
        type=int,
        default=defaults.max_iterations,
        help="a trial's iteration budget, over which its learning rate anneals (%(default)s)",
    )
    sweep.add_argument(
        "--validate-every",
        type=int,
        default=defaults.validate_every,
        help="a trial's iterations between validations and checkpoints (%(default)s; best_config.json "
        "keeps the base config's)",
    )
    sweep.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default=defaults.scheduler,
        help="asha stops trials that fall behind; pbt copies the leaders' weights into the trials behind "
        "and perturbs their learning rate (%(default)s)",
    )
    sweep.add_argument(
        "--grace-period",
        type=int,
        default=defaults.grace_period,
        help="ASHA's first rung, PBT's burn-in, in iterations (%(default)s)",
    )
    sweep.add_argument("--reduction-factor", type=float, default=defaults.reduction_factor, help="ASHA's")
    sweep.add_argument(
        "--perturbation-interval",
        type=int,
        default=defaults.perturbation_interval,
        help="PBT: iterations between perturbations (%(default)s)",
    )
    sweep.add_argument("--max-concurrent-trials", type=int, help="default: as many as the resources allow")
    sweep.add_argument(
        "--placement-strategy",
        default=defaults.placement_strategy,
        choices=["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"],
        help="how each trial's driver, env runners and learners spread over the nodes (%(default)s)",
    )
    sweep.add_argument("--address", help="join a running Ray cluster (e.g. auto) instead of starting one")
    sweep.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    trial = parser.add_argument_group(
        "every trial", "the fixed settings of every trial, and of best_config.json (default: tbt train's)"
    )
    trial.add_argument(
        "--config", help="a JSON/YAML training-config file: the base of every trial and of best_config.json"
    )
    trial.add_argument("--dataset", help="training videos")
    trial.add_argument("--validation-dataset", help="the videos every validation tracks")
    trial.add_argument(
        "--checkpoint-metric",
        choices=tuple(METRIC_DESCRIPTIONS),
        help="the validation score trials are ranked on and checkpoints chosen by: modes (the mean AO of "
        "TRAS, TRAST and TRASFUST, the default) or tras",
    )
    trial.add_argument("--preset", help="student preset (default: small)")
    trial.add_argument("--clip-length", type=int)
    trial.add_argument("--train-batch-size", type=int)
    trial.add_argument("--num-env-runners", type=int, help="env runners (students) per trial, 1 CPU each")
    trial.add_argument("--num-envs-per-env-runner", type=int)
    trial.add_argument("--num-learners", type=int, help="learner actors per trial (0: in the trial's driver)")
    trial.add_argument("--gpus-per-trial", type=float, help="GPUs per learner of each trial")
    trial.add_argument("--seed", type=int)
    add_logger_arguments(parser)
    return parser


def settings_from_args(args: argparse.Namespace) -> SweepSettings:
    """The :class:`SweepSettings` the parsed flags describe (defaults < ``--config`` file < flags)."""
    base = TrainConfig()
    if args.config:
        base = base.updated(**load_config_file(args.config))
    base = base.updated(**{name: getattr(args, flag) for flag, name in _BASE_FLAGS.items()})
    return SweepSettings(
        base=base.to_dict(),
        space={name: getattr(args, flag) for flag, name in _SPACE_FLAGS.items()},
        num_samples=args.num_samples,
        max_iterations=args.max_iterations,
        validate_every=args.validate_every,
        scheduler=args.scheduler,
        grace_period=args.grace_period,
        reduction_factor=args.reduction_factor,
        perturbation_interval=args.perturbation_interval,
        seeds=parse_seeds(args.seeds, first=base.seed) if args.seeds else None,
        grid=args.grid,
        max_concurrent_trials=args.max_concurrent_trials,
        placement_strategy=args.placement_strategy,
        storage_path=args.storage_path,
    )


def run_tune(args: argparse.Namespace) -> int:
    """``tbt tune``: 0 when the sweep ended with a best checkpoint, 1 when it did not, 2 on bad settings."""
    import ray
    from ray.tune import TuneError

    from tracking_by_trackers.cluster.ray_runtime import init_ray
    from tracking_by_trackers.experiments.cli import error_line
    from tracking_by_trackers.experiments.tune.tune_results import BEST_CONFIG, PLOT, RESULTS_MD, NoBestTrial

    try:
        settings = settings_from_args(args)
        if not args.resume:  # a resumed sweep keeps its stored settings whatever the flags say
            settings.validate()
        check_out_folder(args.out, args.resume)  # before starting Ray, which takes seconds
    except ConfigError as error:
        print(error_line(error), file=sys.stderr)
        return 2
    started_ray = not ray.is_initialized()
    init_ray(args.address, num_cpus=args.num_cpus)
    try:
        if args.address is None and not args.resume:  # a cluster may autoscale; this machine will not
            check_trial_fits(settings, ray.cluster_resources())
        outcome = run_sweep(settings, args.out, resume=args.resume)
    except ConfigError as error:
        print(error_line(error), file=sys.stderr)
        return 2
    except (TuneError, KeyboardInterrupt) as error:
        print(
            f"the sweep stopped before its end ({error!r}); continue it with: tbt tune --resume --out {args.out}",
            file=sys.stderr,
        )
        return 1
    except NoBestTrial as error:
        print(error_line(error), file=sys.stderr)
        return 1
    finally:
        if started_ray:
            ray.shutdown()
    out = Path(args.out)
    metric = METRIC_DESCRIPTIONS[outcome.settings.base_config().checkpoint_metric]
    print(f"\n{len(outcome.table)} configurations (best mean validation score, {metric}, first):\n")
    print((out / RESULTS_MD).read_text())
    best = outcome.best
    spread = "" if len(best.seeds) < 2 else f" ± {best.score_std:.3f} over seeds {best.seeds}"
    print(f"best configuration: {json.dumps(best.settings)}: score {best.score_mean:.3f}{spread}")
    print(f"its best trial {best.trial_id}: score {best.score:.3f} at iteration {best.iteration}")
    print(f"best checkpoint: {best.checkpoint}")
    print(f"best student: {best.student}")
    print(f"train it: tbt train --config {out / BEST_CONFIG}")
    print(f"results: {out / RESULTS_MD}, {out / PLOT}, {out / BEST_CONFIG}")
    return 0
