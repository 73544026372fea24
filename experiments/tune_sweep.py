"""``tbt tune``: a Ray Tune sweep of KD-RL with ASHA early stopping on TRAS's validation AO.

    tbt tune [--dataset …] [--num-samples 8] [--max-iterations 100] [--validate-every 5]
             [--lr loguniform:1e-4:3e-3] [--beta 0.3,0.5] [--t-max 5,10] [--distil-fraction 0.25,0.5,0.75]
             [--curriculum on,off] [--teacher-pools kcf+csrt+mosse+medianflow,kcf+csrt] [--grid]
             [--gpus-per-trial 0] [--out runs/tune] [--resume]

Steps:

1. the teachers of every pool run once, as Ray actors, over the training videos into one transfer set
   (``<out>/transfer_set``; resumable); every (β, pool) a trial may draw is checked to give clips;
2. Ray Tune trains one KD-RL algorithm per trial (:class:`~experiments.tune_trainable.SweepKDRL`, whose
   config each trial builds from its sampled settings: β and the pool select its clips from the shared
   transfer set). Every trial reports ``validation_ao`` (TRAS on the validation videos, every
   ``validate_every`` iterations); ASHA stops the trials that fall behind at its rungs; each trial is
   checkpointed every ``validate_every`` iterations and at its end, keeping its best checkpoints;
3. ``<out>/results.{csv,md}``, ``validation_ao_vs_settings.png``, ``best_config.json`` (a complete
   ``tbt train --config`` file), ``best.json`` and ``best_student.pt`` (``experiments.tune_results``).

Tune's own files are under ``<out>/sweep``. An interrupted sweep (killed driver, Ctrl-C, lost node)
continues with ``--resume``: ``Tuner.restore`` restarts the unfinished and failed trials from their latest
checkpoints with the settings stored in ``<out>/sweep.json`` (flags given with ``--resume`` are ignored).

On a multi-node cluster ``--out`` must be a folder every node sees (the shared ``/mnt/tbt/runs`` of
docs/cluster.md): the env runners read the transfer set from it, and Tune writes the trials' checkpoints
there from whichever node runs them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from experiments.train_config import ConfigError, TrainConfig, load_config_file
from experiments.tune_search_space import (
    DEFAULT_SEARCH_SPACE,
    parse_values,
    search_space,
    swept_settings,
    teacher_pools,
    teachers_union,
)
from experiments.tune_trainable import PLACEMENT_STRATEGY_KEY, TRANSFER_SET_ROOT_KEY, SweepKDRL
from experiments.validation_callback import VALIDATION_AO
from teachers.atomic_io import write_text_atomically

__all__ = [
    "SweepOutcome",
    "SweepSettings",
    "add_tune_arguments",
    "build_transfer_set",
    "check_out_folder",
    "check_trial_fits",
    "run_sweep",
    "run_tune",
    "settings_from_args",
]

logger = logging.getLogger(__name__)

SETTINGS_FILE = "sweep.json"
SWEEP_VALIDATE_EVERY = 5
EXPERIMENT_NAME = "sweep"
TRANSFER_SET = "transfer_set"
# The search-space flags: flag name → the TrainConfig setting it sweeps.
_SPACE_FLAGS = {
    "lr": "lr",
    "beta": "beta",
    "t_max": "t_max",
    "distil_fraction": "distil_fraction",
    "curriculum": "curriculum",
    "teacher_pools": "teachers",
}
# Flags that set the fixed (unswept) training settings of every trial: flag name → TrainConfig field.
_BASE_FLAGS = {
    "dataset": "dataset",
    "validation_dataset": "validation_dataset",
    "preset": "preset",
    "clip_length": "clip_length",
    "train_batch_size": "train_batch_size",
    "validate_every": "validate_every",
    "num_env_runners": "num_env_runners",
    "num_envs_per_env_runner": "num_envs_per_env_runner",
    "num_learners": "num_learners",
    "gpus_per_trial": "num_gpus_per_learner",
    "seed": "seed",
}


@dataclass
class SweepSettings:
    """Everything a sweep depends on; stored as ``<out>/sweep.json`` so that ``--resume`` rebuilds it."""

    base: dict[str, Any] = field(default_factory=lambda: TrainConfig().to_dict())
    """The training settings every trial shares (a :class:`TrainConfig` as a dict)."""
    space: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEARCH_SPACE))
    """Swept setting → its spec string (``experiments.tune_search_space``)."""
    num_samples: int = 8
    max_iterations: int = 100
    grace_period: int = 10
    """ASHA's first rung (iterations); trials are compared on the AO of their latest validation."""
    reduction_factor: float = 2.0
    grid: bool = False
    max_concurrent_trials: int | None = None
    checkpoints_to_keep: int = 2
    placement_strategy: str = "PACK"

    def base_config(self) -> TrainConfig:
        return TrainConfig(**self.base)

    def validate(self) -> SweepSettings:
        """Check the settings; raises :class:`ConfigError` naming the first bad one."""
        self.base_config().validate()
        for setting, spec in self.space.items():
            parse_values(setting, spec)
        checks = [
            (self.num_samples >= 1, f"num_samples must be >= 1, got {self.num_samples}"),
            (self.max_iterations >= 1, f"max_iterations must be >= 1, got {self.max_iterations}"),
            (self.grace_period >= 1, f"grace_period must be >= 1, got {self.grace_period}"),
            (self.reduction_factor > 1, f"reduction_factor must be > 1, got {self.reduction_factor}"),
            (self.checkpoints_to_keep >= 1, "checkpoints_to_keep must be >= 1"),
            (
                self.placement_strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"),
                f"placement_strategy must be PACK, SPREAD, STRICT_PACK or STRICT_SPREAD, "
                f"got {self.placement_strategy!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        every = self.base_config().validate_every
        if self.grace_period % every:
            logger.warning(
                "grace_period %d is not a multiple of validate_every %d: ASHA will compare some trials on "
                "an AO measured up to %d iterations earlier",
                self.grace_period,
                every,
                every - 1,
            )
        return self

    def write(self, path: Path) -> None:
        write_text_atomically(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> SweepSettings:
        return cls(**json.loads(path.read_text()))


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` returns: Tune's result grid, the trials' table and the best trial."""

    grid: Any
    table: Any
    best: Any
    settings: SweepSettings


def build_transfer_set(settings: SweepSettings, root: Path) -> None:
    """Run every teacher of every pool once over the training videos (resumable), then check that each
    (β, pool) a trial may draw yields clips, so that a bad combination fails here and not in a trial."""
    import pandas as pd

    from envs.datasets import load_dataset
    from experiments.train_pipeline import run_teachers
    from teachers.transfer_set import TransferSetClipSource

    base = settings.base_config()
    pools = teacher_pools(settings.space, base.teachers)
    videos = load_dataset(base.dataset)
    print(f"teachers {teachers_union(pools)} on {len(videos)} training videos ({base.dataset})", flush=True)
    store = run_teachers(base.updated(teachers=teachers_union(pools)), videos, root)
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


def _param_space(settings: SweepSettings, transfer_set_root: Path) -> dict[str, Any]:
    return {
        **settings.base,
        **search_space(settings.space, grid=settings.grid),
        TRANSFER_SET_ROOT_KEY: str(transfer_set_root.resolve()),
        PLACEMENT_STRATEGY_KEY: settings.placement_strategy,
    }


def _new_tuner(settings: SweepSettings, out: Path, callbacks: list) -> Any:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    every = settings.base_config().validate_every
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        metric=VALIDATION_AO,
        mode="max",
        max_t=settings.max_iterations,
        grace_period=settings.grace_period,
        reduction_factor=settings.reduction_factor,
    )
    return tune.Tuner(
        SweepKDRL,
        param_space=_param_space(settings, out / TRANSFER_SET),
        tune_config=tune.TuneConfig(
            num_samples=settings.num_samples,
            scheduler=scheduler,
            max_concurrent_trials=settings.max_concurrent_trials,
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT_NAME,
            storage_path=str(out.resolve()),
            stop={"training_iteration": settings.max_iterations},
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=settings.checkpoints_to_keep,
                checkpoint_score_attribute=VALIDATION_AO,
                checkpoint_score_order="max",
                checkpoint_frequency=every,
                checkpoint_at_end=True,
            ),
            # RLlib restarts env runners but not learners: a failed trial restarts from its checkpoint.
            failure_config=tune.FailureConfig(max_failures=1),
            callbacks=callbacks,
            verbose=1,
        ),
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

    from experiments.tune_results import write_sweep_results

    out = Path(out).resolve()
    settings_path = out / SETTINGS_FILE
    experiment = out / EXPERIMENT_NAME
    check_out_folder(out, resume)
    if resume:
        settings = SweepSettings.read(settings_path)
        print(f"resuming the sweep in {out} with its stored settings ({settings_path})", flush=True)
        if callbacks:
            # Tuner.restore brings back the pickled run config, callbacks included; it takes no new ones.
            logger.warning("callbacks given to a resumed sweep are ignored: it keeps those it started with")
    settings.validate()
    if resume and tune.Tuner.can_restore(str(experiment)):
        tuner = tune.Tuner.restore(
            str(experiment), trainable=SweepKDRL, resume_unfinished=True, resume_errored=True
        )
    else:  # a new sweep, or one stopped before Tune recorded its experiment: (re)start the trials
        build_transfer_set(settings, out / TRANSFER_SET)  # resumes a half-built transfer set
        settings.write(settings_path)
        tuner = _new_tuner(settings, out, list(callbacks or []))
    grid = tuner.fit()
    swept = swept_settings(settings.space)
    table, best = write_sweep_results(grid, out, swept, settings.max_iterations)
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
    sweep.add_argument("--num-samples", type=int, default=defaults.num_samples, help="trials (%(default)s)")
    sweep.add_argument(
        "--max-iterations",
        type=int,
        default=defaults.max_iterations,
        help="iterations per trial (%(default)s)",
    )
    sweep.add_argument(
        "--grace-period", type=int, default=defaults.grace_period, help="ASHA's first rung (%(default)s)"
    )
    sweep.add_argument("--reduction-factor", type=float, default=defaults.reduction_factor)
    sweep.add_argument("--max-concurrent-trials", type=int, help="default: as many as the resources allow")
    sweep.add_argument(
        "--placement-strategy",
        default=defaults.placement_strategy,
        choices=["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"],
        help="how each trial's driver, env runners and learners spread over the nodes (%(default)s)",
    )
    sweep.add_argument("--address", help="join a running Ray cluster (e.g. auto) instead of starting one")
    sweep.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    trial = parser.add_argument_group("every trial")
    trial.add_argument("--config", help="a JSON/YAML training-config file: the trials' fixed settings")
    trial.add_argument("--dataset", help="training videos (default: tbt train's)")
    trial.add_argument("--validation-dataset", help="videos of the validation AO (default: tbt train's)")
    trial.add_argument("--preset", help="student preset (default: small)")
    trial.add_argument("--clip-length", type=int)
    trial.add_argument("--train-batch-size", type=int)
    trial.add_argument(
        "--validate-every",
        type=int,
        help=f"iterations between validations and checkpoints (default {SWEEP_VALIDATE_EVERY})",
    )
    trial.add_argument(
        "--num-env-runners", type=int, help="env runners (students) per trial, 1 CPU each (default 2)"
    )
    trial.add_argument("--num-envs-per-env-runner", type=int)
    trial.add_argument("--num-learners", type=int, help="learner actors per trial (0: in the trial's driver)")
    trial.add_argument("--gpus-per-trial", type=float, help="GPUs per learner of each trial")
    trial.add_argument("--seed", type=int)
    return parser


def settings_from_args(args: argparse.Namespace) -> SweepSettings:
    """The :class:`SweepSettings` the parsed flags describe (defaults < ``--config`` file < flags)."""
    # tbt train validates every 300 iterations; ASHA needs fresh AOs at its rungs, so a sweep validates (and
    # checkpoints) more often unless the config file or a flag says otherwise.
    base = TrainConfig(validate_every=SWEEP_VALIDATE_EVERY)
    if args.config:
        base = base.updated(**load_config_file(args.config))
    base = base.updated(**{name: getattr(args, flag) for flag, name in _BASE_FLAGS.items()})
    # best_config.json is a `tbt train` config: it trains as long as the sweep's trials did.
    base = base.updated(iterations=args.max_iterations)
    return SweepSettings(
        base=base.to_dict(),
        space={name: getattr(args, flag) for flag, name in _SPACE_FLAGS.items()},
        num_samples=args.num_samples,
        max_iterations=args.max_iterations,
        grace_period=args.grace_period,
        reduction_factor=args.reduction_factor,
        grid=args.grid,
        max_concurrent_trials=args.max_concurrent_trials,
        placement_strategy=args.placement_strategy,
    )


def run_tune(args: argparse.Namespace) -> int:
    """``tbt tune``: 0 when the sweep ended with a best checkpoint, 1 when it did not, 2 on bad settings."""
    import ray
    from ray.tune import TuneError

    from cluster.ray_runtime import init_ray
    from experiments.tune_results import RESULTS_MD, NoBestTrial

    try:
        settings = settings_from_args(args)
        if not args.resume:  # a resumed sweep keeps its stored settings whatever the flags say
            settings.validate()
        check_out_folder(args.out, args.resume)  # before starting Ray, which takes seconds
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started_ray = not ray.is_initialized()
    init_ray(args.address, num_cpus=args.num_cpus)
    try:
        if args.address is None and not args.resume:  # a cluster may autoscale; this machine will not
            check_trial_fits(settings, ray.cluster_resources())
        outcome = run_sweep(settings, args.out, resume=args.resume)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (TuneError, KeyboardInterrupt) as error:
        print(
            f"the sweep stopped before its end ({error!r}); continue it with: tbt tune --resume --out {args.out}",
            file=sys.stderr,
        )
        return 1
    except NoBestTrial as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if started_ray:
            ray.shutdown()
    out = Path(args.out)
    print(f"\n{len(outcome.table)} trials (best validation AO first):\n")
    print((out / RESULTS_MD).read_text())
    best = outcome.best
    print(f"best trial {best.trial_id}: validation AO {best.validation_ao:.3f} at iteration {best.iteration}")
    swept = swept_settings(outcome.settings.space)
    print("best config:", json.dumps({k: best.config[k] for k in swept}))
    print(f"best checkpoint: {best.checkpoint}")
    print(f"best student: {best.student}")
    print(
        f"results: {out / 'results.md'}, {out / 'validation_ao_vs_settings.png'}, {out / 'best_config.json'}"
    )
    return 0
