"""The settings of one ``tbt train`` run: defaults, a config file, command-line overrides, checks.

One flat dataclass, :class:`TrainConfig`, holds everything a run depends on. It is written to
``<out>/config.json`` at the start of a run (the exact config used, for the report and for ``--resume``)
and can be given back with ``--config FILE`` (JSON, or YAML when the file ends in ``.yaml``/``.yml``).
Precedence: defaults < ``--config`` file < command-line flags.

The defaults are the embedded default run: synthetic videos, the four fast OpenCV teachers, the
``small`` student, one env runner of 16 envs (students alternating roles per episode) and the learner in
the driver on a local Ray instance, within 20 minutes on a 2-core CPU. ``TrainConfig.quick()`` is the
shortened run the end-to-end test uses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tracking_by_trackers.experiments.train.checkpoint_validation import CHECKPOINT_METRICS
from tracking_by_trackers.policies.kdrl.kdrl_hyperparameters import HYPERPARAMETERS, check_hyperparameters
from tracking_by_trackers.policies.kdrl.student_roles import ABLATIONS

__all__ = ["REMOVED_SETTINGS", "RENAMED_SETTINGS", "ConfigError", "TrainConfig", "load_config_file"]

RENAMED_SETTINGS = {
    "gpus": "num_gpus_per_learner",
    "env_runner_resources": "custom_resources_per_env_runner",
    "learner_resources": "custom_resources_per_learner",
}
"""Settings of older ``config.json`` files → their names now (RLlib's)."""


class ConfigError(ValueError):
    """An invalid training setting; the message names the setting."""


REMOVED_SETTINGS: dict[str, tuple[tuple[Any, ...], str]] = {
    "value_loss_scale": ((None,), "tried, did not help; L_v is scaled by rl_loss_scale, as in the paper"),
    "critic_from_every_student": (
        (False,),
        "tried, did not help; the critic learns from the autonomous students only, as in the paper",
    ),
    "teacherless_on_all_videos": ((False,), "tried, did not help; every student draws from the transfer set"),
    "handover_prob": ((0.0,), "tried, did not help; no student is handed a teacher's box"),
    "separate_critic": ((None, False), "the critic with its own trunk is the preset 'small-separate-critic'"),
}
"""Settings removed from the code (the README's experiment log and the git history keep them): name →
(the values that had them off, why they went). The ``config.json`` of an earlier run still loads when it
holds one at such a value, since that is what the code now always does; any other value is an error."""


@dataclass
class TrainConfig:
    """Every setting of a training run (see the module docstring)."""

    # Data: where the videos come from (any reader of ``tracking_by_trackers.envs.datasets``).
    dataset: str = "synthetic:videos=240,frames=50,difficulty=0.5,seed=1"
    """Training videos, ``<reader>:<path>``: the teachers track them and the transfer set is cut from them
    (short videos keep more of them above β; docs/experiments.md, 2026-11-21-default-120x50)."""
    validation_dataset: str = "synthetic:videos=10,frames=100,difficulty=0.5,seed=500"
    """Held-out videos on which the best checkpoint is chosen (``checkpoint_metric``)."""
    test_dataset: str = "synthetic:videos=30,frames=100,difficulty=0.5,seed=1000"
    """Held-out videos of the final evaluation and report; never used to choose anything."""
    # Teachers and the transfer set (docs/method.md, *The transfer set*).
    teachers: str = "kcf,csrt,mosse,medianflow"
    """The teacher pool, comma-separated tracker names (``tbt evaluate --trackers`` lists the kinds)."""
    beta: float = 0.5
    """β: a teacher's trajectory joins the transfer set only if its IoU exceeds β on every frame."""
    beta_scope: str = "trajectory"
    """What β judges: ``trajectory``, the whole video (the paper), or ``clip``, each clip-long window of
    it, for real videos too long for any teacher to stay above β throughout (docs/method.md)."""
    clip_length: int = 32
    """Frames per training clip (the longest episode the curriculum grows to)."""
    clips_per_trajectory: int = 5
    """Clips cut at random from each kept trajectory."""
    results_root: str | None = None
    """Root of stored results (GOT-10k layout) for ``results:<TRACKER>`` teachers."""
    model_dir: str | None = None
    """Folder of the OpenCV DNN teachers' ONNX files (``nano``, ``nano_v2``, ``nano_v1``, ``vit``, ``dasiamrpn``;
    NanoTrack's folder holding ``v1/`` and ``v2/``, or a models root holding ``nanotrack/``); default
    ``$TBT_MODEL_DIR``."""
    # The student and KD-RL (docs/method.md, *The student network* and *Training*).
    preset: str = "small"
    """The student, a key of ``tracking_by_trackers.policies.student_model.PRESETS``: ``small`` (trains on a
    CPU), ``paper`` (ResNet-18; needs --imagenet-weights), ``nanotrack`` (NanoTrack v2's backbone, pretrained
    on real video; read from --model-dir) or ``small-separate-critic`` (the critic with its own trunk)."""
    imagenet_weights: str | None = None
    """torchvision's ``resnet18`` state-dict file for the paper preset's backbone, required by --preset paper
    (its batch norm is not trained); read from this path, never downloaded. The ``nanotrack`` preset reads
    its backbone, ``nanotrackv2.pth``, from the model folder (``model_dir``) instead."""
    ablation: str = "kd_rl"
    """Who the students learn from: ``kd_rl`` (the method), or the paper's ablations ``gt_only``, ``kd_gt``,
    ``kd_only`` (``tracking_by_trackers.policies.kdrl.student_roles``)."""
    lr: float = HYPERPARAMETERS["lr"].default
    """RAdam's learning rate at the start of the schedule."""
    final_lr_fraction: float = HYPERPARAMETERS["final_lr_fraction"].default
    """The rate anneals on a cosine from lr to lr × this over the budget, run by the algorithm
    (``tracking_by_trackers.policies.kdrl.lr_schedule``); 1 keeps it constant."""
    t_max: int = HYPERPARAMETERS["t_max"].default
    """Steps per gradient segment (the rollout fragment length) and of the n-step returns."""
    gamma: float = HYPERPARAMETERS["gamma"].default
    """The discount of the n-step returns."""
    distil_fraction: float = HYPERPARAMETERS["distil_fraction"].default
    """The share of students that distil; the others are autonomous."""
    curriculum: bool = HYPERPARAMETERS["curriculum"].default
    """Grow each student's episodes as it beats the teachers (off: the no-curriculum ablation)."""
    curriculum_schedule: dict[str, float] = field(default_factory=dict)
    """Overrides of the curriculum's parameters (keys of ``tracking_by_trackers.policies.kdrl.curriculum.DEFAULT_SCHEDULE``)."""
    rl_loss_scale: float = HYPERPARAMETERS["rl_loss_scale"].default
    """The factor on the actor-critic loss L_π + L_v, against the distillation loss's 1."""
    policy_lag_correction: bool = HYPERPARAMETERS["policy_lag_correction"].default
    """Weight the policy term by V-trace's truncated importance ratio, for IMPALA's stale runners
    (docs/method.md, *Departures from the paper*; off: the paper's plain A3C term)."""
    distil_weight_decay: float = HYPERPARAMETERS["distil_weight_decay"].default
    """The L2 penalty added to the distillation loss only."""
    backbone_lr_scale: float = HYPERPARAMETERS["backbone_lr_scale"].default
    """The backbone's learning rate as a multiple of ``lr``: 1 trains it like the rest, 0 freezes it (for
    a pretrained backbone: its features are kept and the learner skips its backward pass)."""
    train_batch_size: int = HYPERPARAMETERS["train_batch_size"].default
    """Samples per learner update (small batches give the small student more updates)."""
    # Budget: training stops at whichever comes first (the algorithm's budget: ``KDRLConfig.training``).
    iterations: int = 10_000
    """The iteration budget."""
    train_minutes: float = 10.0
    """The training-time budget in minutes (validation and checkpoints not counted)."""
    validate_every: int = 300
    """Iterations between validations and checkpoints; the last iteration is always validated."""
    checkpoint_metric: str = "modes"
    """What chooses the best checkpoint: ``modes``, the mean validation AO of TRAS, TRAST and TRASFUST, or
    ``tras``, TRAS's alone (``tracking_by_trackers.experiments.train.checkpoint_validation``)."""
    # Scale, under RLlib's own names (AlgorithmConfig.env_runners / .learners / .resources); see
    # docs/cluster.md, *Scaling settings*.
    num_env_runners: int = 1
    """Env runner actors (the students); one beside the learner fills a 2-core machine."""
    num_envs_per_env_runner: int = 16
    """Envs each runner steps in one batched forward pass."""
    num_gpus_per_env_runner: float = 0
    """GPUs each env runner reserves, for the student's forward passes (a fraction shares one GPU)."""
    num_learners: int = 0
    """0: the learner runs in the driver; N ≥ 1: learner actors that Ray places on the cluster (data-parallel
    beyond 1); a GPU learner on a GPU-less head needs 1 or more."""
    num_gpus_per_learner: float = 0
    """GPUs each learner uses, at most 1 (N GPUs take num_learners N); with 0 learners, the driver's."""
    num_aggregator_actors_per_learner: int = 0
    """RLlib's aggregator actors per learner, which build train batches off the learner."""
    placement_strategy: str = "PACK"
    """How a Tune trial's actors are placed (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD); outside Tune, pin
    roles with the custom resources."""
    custom_resources_per_env_runner: dict[str, float] = field(default_factory=dict)
    """Custom resources each env runner (and teacher actor) asks for, e.g. ``{"env_runner_node": 0.001}``."""
    custom_resources_per_learner: dict[str, float] = field(default_factory=dict)
    """Custom resources each learner actor asks for, e.g. ``{"learner_node": 0.001}``."""
    num_teacher_actors: int | None = None
    """Teacher actors of stage 2; None sizes the pool from the cluster
    (``tracking_by_trackers.experiments.train.train_pipeline.teacher_pool_size``)."""
    address: str | None = None
    """The Ray cluster to join (``auto``, or host:port); None starts a local instance."""
    seed: int = 0
    """Seeds the algorithm, the students' clip draws and the transfer set's clips."""
    # Where the metrics go besides curves.csv and TensorBoard (``tracking_by_trackers.experiments.train.training_loggers``).
    mlflow_tracking_uri: str | None = None
    """Log every iteration to MLflow at this tracking URI through Ray's integration (the mlflow extra)."""
    mlflow_experiment: str = "tracking-by-trackers"
    """The MLflow experiment the runs are logged under."""
    wandb_project: str | None = None
    """Log every iteration to this Weights & Biases project through Ray's integration (the wandb extra)."""

    @classmethod
    def quick(cls, **overrides: Any) -> TrainConfig:
        """A run of a few minutes on a tiny synthetic set: the shape of the default run, not its quality."""
        settings = {
            "dataset": "synthetic:videos=12,frames=40,difficulty=0.3,seed=1",
            "validation_dataset": "synthetic:videos=2,frames=30,difficulty=0.3,seed=500",
            "test_dataset": "synthetic:videos=3,frames=30,difficulty=0.3,seed=1000",
            "teachers": "kcf,mosse",
            "beta": 0.3,
            "clip_length": 16,
            "train_batch_size": 80,
            "iterations": 4,
            "train_minutes": 2.0,
            "validate_every": 2,
            "num_envs_per_env_runner": 2,
            **overrides,
        }
        return cls(**settings)

    def updated(self, **overrides: Any) -> TrainConfig:
        """A copy with ``overrides`` (``None`` values are ignored: a flag that was not given)."""
        overrides = _without_retired(overrides)
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown}; valid settings: {sorted(known)}")
        overrides = {k: v for k, v in overrides.items() if v is not None}
        _check_types(overrides)
        return dataclasses.replace(self, **overrides)

    @classmethod
    def from_dict(cls, settings: dict[str, Any]) -> TrainConfig:
        """The config a ``config.json`` holds; a setting that was renamed is named with its new name."""
        settings = _without_retired(settings)
        unknown = sorted(set(settings) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {unknown}; valid settings: {sorted(f.name for f in fields(cls))}"
            )
        _check_types(settings)
        return cls(**settings)

    def validate(self) -> TrainConfig:
        """Check every setting; raises :class:`ConfigError` naming the first bad one."""
        from tracking_by_trackers.policies.student_model import PRESETS
        from tracking_by_trackers.teachers.transfer_set import BETA_SCOPES

        checks = [
            (self.preset in PRESETS, f"preset must be one of {sorted(PRESETS)}, got {self.preset!r}"),
            (self.ablation in ABLATIONS, f"ablation must be one of {ABLATIONS}, got {self.ablation!r}"),
            (0.0 <= self.beta < 1.0, f"beta must be in [0, 1), got {self.beta}"),
            (
                self.beta_scope in BETA_SCOPES,
                f"beta_scope must be one of {', '.join(BETA_SCOPES)}, got {self.beta_scope!r}",
            ),
            (self.clip_length >= 2, f"clip_length must be >= 2, got {self.clip_length}"),
            (self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}"),
            (self.train_minutes > 0, f"train_minutes must be > 0, got {self.train_minutes}"),
            (self.validate_every >= 1, f"validate_every must be >= 1, got {self.validate_every}"),
            (
                self.checkpoint_metric in CHECKPOINT_METRICS,
                f"checkpoint_metric must be one of {CHECKPOINT_METRICS}, got {self.checkpoint_metric!r}",
            ),
            (self.num_env_runners >= 0, f"num_env_runners must be >= 0, got {self.num_env_runners}"),
            (self.num_envs_per_env_runner >= 1, "num_envs_per_env_runner must be >= 1"),
            (self.num_learners >= 0, f"num_learners must be >= 0, got {self.num_learners}"),
            (
                0 <= self.num_gpus_per_learner <= 1,
                "num_gpus_per_learner must be in [0, 1]: a learner trains on one device, so N GPUs take "
                f"num_learners N with num_gpus_per_learner 1; got {self.num_gpus_per_learner}",
            ),
            (
                self.num_gpus_per_env_runner >= 0,
                f"num_gpus_per_env_runner must be >= 0, got {self.num_gpus_per_env_runner}",
            ),
            (
                self.num_teacher_actors is None or self.num_teacher_actors >= 1,
                f"num_teacher_actors must be >= 1 or null, got {self.num_teacher_actors}",
            ),
            (bool(self.teachers_list()), "teachers must name at least one teacher"),
            (
                self.placement_strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"),
                f"placement_strategy must be PACK, SPREAD, STRICT_PACK or STRICT_SPREAD, got {self.placement_strategy!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        problem = check_hyperparameters({name: getattr(self, name) for name in HYPERPARAMETERS})
        if problem:
            raise ConfigError(problem)
        from tracking_by_trackers.experiments.train.training_loggers import check_logger_packages

        check_logger_packages(self)
        if self.imagenet_weights is not None and not Path(self.imagenet_weights).is_file():
            raise ConfigError(f"imagenet_weights file {self.imagenet_weights} does not exist")
        if self.backbone_weights() is None:  # raises if the NanoTrack preset's checkpoint is not found
            from torch import nn

            from tracking_by_trackers.policies.backbones import RESNET18_IMAGENET_URL, make_backbone
            from tracking_by_trackers.policies.student_model import preset

            # The student's batch norm runs on stored statistics (tracking_by_trackers.policies.student_model):
            # a backbone that has batch norm and starts from scratch would keep its initial ones (mean 0, var 1).
            backbone = make_backbone(preset(self.preset).backbone)
            if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in backbone.modules()):
                raise ConfigError(
                    f"preset {self.preset!r} needs imagenet_weights (--imagenet-weights FILE, torchvision's "
                    f"{RESNET18_IMAGENET_URL.rsplit('/', 1)[-1]} from {RESNET18_IMAGENET_URL}): its batch norm "
                    "runs on stored statistics, which a backbone trained from scratch would keep at their initial "
                    "mean 0 and variance 1; use preset 'small' to train from scratch"
                )
        return self

    def backbone_weights(self) -> str | None:
        """The pretrained backbone's file, absolute: ``imagenet_weights`` for ResNet-18, NanoTrack's
        ``nanotrackv2.pth`` found in the model folder for the ``nanotrack`` preset, else None.

        Raises:
            ConfigError: the NanoTrack preset's checkpoint is not in the model folder, or none is given.
        """
        from tracking_by_trackers.policies.student_model import preset

        if preset(self.preset).backbone != "nanotrack_v2":
            return str(Path(self.imagenet_weights).resolve()) if self.imagenet_weights else None
        from tracking_by_trackers.policies.nanotrack_backbone import find_nanotrack_checkpoint
        from tracking_by_trackers.teachers.registry import MODEL_DIR_ENV, resolve_model_dir

        model_dir = resolve_model_dir(self.model_dir)
        if model_dir is None:
            raise ConfigError(
                f"preset {self.preset!r} loads NanoTrack v2's pretrained backbone: give the model folder "
                f"(--model-dir, the config's model_dir, or ${MODEL_DIR_ENV})"
            )
        try:
            return str(find_nanotrack_checkpoint(model_dir))
        except FileNotFoundError as error:
            raise ConfigError(f"preset {self.preset!r}: {error}") from None

    def teachers_list(self) -> list[str]:
        return [name.strip() for name in self.teachers.split(",") if name.strip()]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write(self, path: str | os.PathLike) -> None:
        from tracking_by_trackers.teachers.atomic_io import write_text_atomically

        write_text_atomically(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def _check_types(settings: dict[str, Any]) -> None:
    """Raise a ConfigError naming the first setting whose value has the wrong type for its field.

    Config files and ``config.json`` bypass tyro's typed parsing, and a string where a number belongs
    would otherwise fail as a ``TypeError`` inside :meth:`TrainConfig.validate`. An int is a float; a bool
    is neither (``iterations: true`` is a mistake)."""
    hints = typing.get_type_hints(TrainConfig)
    for name, value in settings.items():
        hint = hints[name]
        if typing.get_origin(hint) is dict:
            ok = isinstance(value, dict) and all(
                isinstance(key, str) and _is_instance(item, float) for key, item in value.items()
            )
            expected = "a mapping of names to numbers"
        else:
            kinds = typing.get_args(hint) or (hint,)  # ``int | None`` → (int, NoneType)
            ok = any(_is_instance(value, kind) for kind in kinds)
            expected = " or ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in kinds)
        if not ok:
            raise ConfigError(f"setting {name!r} must be {expected}, got {value!r} ({type(value).__name__})")


_TYPE_NAMES = {
    int: "an integer",
    float: "a number",
    bool: "true or false",
    str: "a string",
    type(None): "null",
}


def _is_instance(value: Any, kind: type) -> bool:
    if kind in (int, float) and isinstance(value, bool):
        return False
    return isinstance(value, (int, float) if kind is float else kind)


def _without_retired(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` less the removed ones that hold their off value; a renamed setting, or a removed one
    that is on, is an error that says what became of it."""
    settings = dict(settings)
    for old, new in RENAMED_SETTINGS.items():
        if old in settings:
            raise ConfigError(f"setting {old!r} is now {new!r} (RLlib's name); rename it in the config")
    for name in sorted(set(settings) & set(REMOVED_SETTINGS)):
        off, why = REMOVED_SETTINGS[name]
        value = settings.pop(name)
        if value not in off:
            raise ConfigError(f"setting {name!r} was removed ({why}); this config sets it to {value!r}")
    return settings


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """The settings in a JSON or YAML file, as a dict (checked against :class:`TrainConfig` later)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            settings = yaml.safe_load(text)
        else:
            settings = json.loads(text)
    except Exception as error:  # json/yaml syntax errors: one message naming the file
        reason = " ".join(str(error).split())  # YAML's messages span lines; tbt prints one
        raise ConfigError(f"cannot parse config file {path}: {reason}") from error
    if not isinstance(settings, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of settings, got {type(settings).__name__}"
        )
    return settings
