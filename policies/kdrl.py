"""The KD-RL algorithm (knowledge distillation + actor-critic) as an RLlib new-API-stack algorithm.

Base: IMPALA (RLLIB-NOTES "Why IMPALA is the base"): its asynchronous env runners, background learner
and pull-based weight sync are the modern form of the paper's A3C students; V-trace lives only in
``IMPALATorchLearner.compute_loss_for_module``, which :class:`~policies.torch.kdrl_torch_learner.
KDRLTorchLearner` replaces. ``vtrace`` stays True because IMPALA's ``validate()`` refuses False; it is
unused.

Pieces:

* env: :data:`~policies.student_env.ENV_NAME` (registered here) builds a ``StudentEnv``: a
  ``TrackingEnv`` whose infos carry the student's role (from the runner's ``worker_index`` and the
  ablation, ``policies.student_roles``) and whose clip length follows the student's curriculum
  (``policies.curriculum``);
* env-to-module: ``AddGTActionToModuleBatch`` prepended, so autonomous students sample from
  N(μ, |μ − a_gt|) and distilling ones act with μ;
* learner connector: ``AddKDRLColumnsToTrainBatch`` inserted right after
  ``AddOneTsToEpisodesAndTruncate``;
* learner: ``KDRLTorchLearner`` (per-role losses, RAdam);
* callbacks: ``KDRLMetricsCallback`` (students' mean IoU and reward, curriculum length, throughput).

The KD-RL settings reach the envs through ``env_config`` (:meth:`KDRLConfig._sync_env_config`), because
the env, not the learner, decides what each student does.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.impala.impala import IMPALA, IMPALAConfig
from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.annotations import override
from ray.tune.registry import register_env

from policies.connectors import AddGTActionToModuleBatch, AddKDRLColumnsToTrainBatch
from policies.curriculum import DEFAULT_SCHEDULE, EpisodeLengthCurriculum
from policies.kdrl_metrics import KDRLMetricsCallback
from policies.student_env import ABLATION_KEY, CURRICULUM_KEY, DISTIL_FRACTION_KEY, ENV_NAME, make_kdrl_env
from policies.student_roles import ABLATIONS

__all__ = ["ABLATIONS", "KDRL", "KDRLConfig", "max_seq_len_for"]

register_env(ENV_NAME, make_kdrl_env)


def max_seq_len_for(t_max: int) -> int:
    """The ``max_seq_len`` (train-batch row length) for fragments of ``t_max`` steps: ``t_max + 2``.

    RLlib's env runner fills a fragment of ``t_max × num_envs`` steps and does not count a sub-env's
    reset as one, so a vector step in which some sub-envs reset is made up by one more: a sub-env that did
    not reset then holds t_max + 1 steps, and the learner connector appends the bootstrap state. A chunk
    outgrows that only when some sub-env resets twice within t_max + 1 vector steps, that is on episodes
    shorter than t_max steps (the curriculum's first clips are 3 steps long); RLlib then splits it over two
    rows, and the learner leaves out the one step whose next state lies in the next row
    (:func:`policies.kdrl_losses.n_step_returns`) instead of training it toward 0.
    """
    return int(t_max) + 2


class KDRLConfig(IMPALAConfig):
    """Configuration of :class:`KDRL`; paper defaults (SPEC "Training").

    Example::

        config = (
            KDRLConfig()
            .environment(ENV_NAME, env_config={"crop_size": 64, "clip_length": 16})
            .env_runners(num_env_runners=2)
            .training(lr=1e-3, distil_fraction=0.5)
        )
        algo = config.build_algo()
    """

    def __init__(self, algo_class: type | None = None):
        super().__init__(algo_class=algo_class or KDRL)
        # Paper values overriding IMPALA's defaults.
        self.rollout_fragment_length = 5  # t_max
        self.gamma = 1.0
        self.lr = 1e-6  # RAdam; small presets and short runs need larger values
        self.grad_clip = None  # no gradient clipping in the paper
        self.entropy_coeff = 0.0  # no entropy term
        self.min_time_s_per_iteration = 0
        # KD-RL settings.
        self.distil_weight_decay = 1e-4
        self.rl_loss_scale = 1e-3
        # Not in the paper (its A3C students have no policy lag): corrects IMPALA's stale runners, without
        # which the actor-critic term undid the distillation (README, "What the default run taught us").
        self.policy_lag_correction = True
        self.distil_fraction = 0.5
        self.curriculum = True
        self.curriculum_schedule: dict[str, Any] = dict(DEFAULT_SCHEDULE)
        self.ablation = "kd_rl"
        self._sync_env_config()
        self.callbacks(KDRLMetricsCallback)
        self.rl_module(
            rl_module_spec=RLModuleSpec(module_class=_student_module_class()),
            model_config={"preset": "small"},
        )

    @property
    @override(IMPALAConfig)
    def _model_config_auto_includes(self) -> dict[str, Any]:
        # RLlib's hook for model settings an algorithm derives: max_seq_len follows t_max, and a
        # "max_seq_len" the user puts in model_config still wins (validate checks it).
        derived = super()._model_config_auto_includes
        if isinstance(self.rollout_fragment_length, int):
            derived = derived | {"max_seq_len": max_seq_len_for(self.rollout_fragment_length)}
        return derived

    @override(IMPALAConfig)
    def training(
        self,
        *,
        t_max: int | None = NotProvided,
        distil_weight_decay: float | None = NotProvided,
        rl_loss_scale: float | None = NotProvided,
        distil_fraction: float | None = NotProvided,
        curriculum: bool | None = NotProvided,
        curriculum_schedule: dict[str, Any] | None = NotProvided,
        ablation: str | None = NotProvided,
        policy_lag_correction: bool | None = NotProvided,
        **kwargs: Any,
    ) -> KDRLConfig:
        """IMPALA's settings plus KD-RL's.

        Args:
            t_max: steps per gradient segment (the rollout fragment length), 5.
            distil_weight_decay: L2 penalty on the distillation term only, 1e-4.
            rl_loss_scale: factor on (L_π + L_v), 1e-3.
            distil_fraction: share of distilling students (env runners), ½ (ablations ``kd_only`` and
                ``gt_only`` make every student distil).
            curriculum: episode-length curriculum on/off (off is the "no curriculum" ablation).
            curriculum_schedule: the curriculum's parameters, keys of
                :data:`policies.curriculum.DEFAULT_SCHEDULE` (missing keys keep their defaults).
            ablation: one of :data:`ABLATIONS` (``policies.student_roles``).
            policy_lag_correction: score autonomous actions with the runner's σ and weight the policy
                term by V-trace's truncated importance ratio (``policies.kdrl_losses``), True.
            **kwargs: IMPALA/AlgorithmConfig ``training`` arguments (``lr``, ``gamma``, …).
        """
        super().training(**kwargs)
        if t_max is not NotProvided:
            self.rollout_fragment_length = t_max
        if distil_weight_decay is not NotProvided:
            self.distil_weight_decay = distil_weight_decay
        if rl_loss_scale is not NotProvided:
            self.rl_loss_scale = rl_loss_scale
        if distil_fraction is not NotProvided:
            self.distil_fraction = distil_fraction
        if curriculum is not NotProvided:
            self.curriculum = curriculum
        if curriculum_schedule is not NotProvided:
            self.curriculum_schedule = {**DEFAULT_SCHEDULE, **curriculum_schedule}
        if ablation is not NotProvided:
            self.ablation = ablation
        if policy_lag_correction is not NotProvided:
            self.policy_lag_correction = policy_lag_correction
        self._sync_env_config()
        return self

    @override(IMPALAConfig)
    def environment(self, *args: Any, **kwargs: Any) -> KDRLConfig:
        super().environment(*args, **kwargs)
        self._sync_env_config()
        return self

    def _sync_env_config(self) -> None:
        """The env decides each student's role and episode length: carry those settings in ``env_config``."""
        self.env_config = {
            **(self.env_config or {}),
            DISTIL_FRACTION_KEY: self.distil_fraction,
            ABLATION_KEY: self.ablation,
            CURRICULUM_KEY: dict(self.curriculum_schedule) if self.curriculum else None,
        }

    @override(IMPALAConfig)
    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.distil_fraction <= 1.0:
            self._value_error(f"distil_fraction must be in [0, 1], got {self.distil_fraction}")
        if self.ablation not in ABLATIONS:
            self._value_error(f"ablation must be one of {ABLATIONS}, got {self.ablation!r}")
        if self.curriculum:
            try:
                EpisodeLengthCurriculum.from_schedule(self.curriculum_schedule, max_length=32)
            except (TypeError, ValueError) as error:
                self._value_error(f"curriculum_schedule: {error}")
        if self.distil_weight_decay < 0 or self.rl_loss_scale < 0:
            self._value_error("distil_weight_decay and rl_loss_scale must be >= 0")
        if not 0.0 <= self.gamma <= 1.0:
            self._value_error(f"gamma must be in [0, 1], got {self.gamma}")
        if self.rollout_fragment_length == "auto" or int(self.rollout_fragment_length) < 1:
            self._value_error("rollout_fragment_length (t_max) must be a positive integer")
        model_config = self.model_config or {}
        max_seq_len = model_config.get("max_seq_len")
        shortest = max_seq_len_for(int(self.rollout_fragment_length))
        if max_seq_len is None or max_seq_len < shortest:
            self._value_error(
                f"model_config['max_seq_len'] ({max_seq_len}) must be at least rollout_fragment_length + 2 "
                f"({shortest}): a fragment in which some sub-env resets gives the others t_max + 1 steps, which "
                "must share a row with their bootstrap step (leave max_seq_len out to get this value)"
            )
        crop = (self.env_config or {}).get("crop_size")
        if crop is not None and self.env == ENV_NAME:
            from policies.torch.student_torch_rl_module import student_config

            expected = student_config(model_config).crop_size
            if int(crop) != expected:
                self._value_error(f"env_config crop_size {crop} != the student's crop size {expected}")

    @override(IMPALAConfig)
    def get_default_learner_class(self):
        from policies.torch.kdrl_torch_learner import KDRLTorchLearner

        return KDRLTorchLearner

    @override(IMPALAConfig)
    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=_student_module_class())

    @override(IMPALAConfig)
    def build_env_to_module_connector(self, env=None, spaces=None, device=None):
        pipeline = super().build_env_to_module_connector(env=env, spaces=spaces, device=device)
        pipeline.prepend(AddGTActionToModuleBatch())
        return pipeline

    @override(IMPALAConfig)
    def build_learner_connector(self, input_observation_space, input_action_space, device=None):
        connector = super().build_learner_connector(input_observation_space, input_action_space, device)
        if self.add_default_connectors_to_learner_pipeline:
            connector.insert_after(AddOneTsToEpisodesAndTruncate, AddKDRLColumnsToTrainBatch())
        else:
            connector.append(AddKDRLColumnsToTrainBatch())
        return connector


def _student_module_class():
    from policies.torch.student_torch_rl_module import StudentTorchRLModule

    return StudentTorchRLModule


class KDRL(IMPALA):
    """KD-RL: IMPALA's asynchronous machinery with the KD-RL learner (no V-trace)."""

    @classmethod
    @override(IMPALA)
    def get_default_config(cls) -> KDRLConfig:
        return KDRLConfig()
