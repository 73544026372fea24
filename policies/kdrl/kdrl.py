"""The KD-RL algorithm (knowledge distillation + actor-critic) as an RLlib new-API-stack algorithm.

Base: IMPALA (docs/rllib.md, *Why IMPALA*): its asynchronous env runners, background learner
and pull-based weight sync are the modern form of the paper's A3C students; V-trace lives only in
``IMPALATorchLearner.compute_loss_for_module``, which :class:`~tracking_by_trackers.policies.kdrl.torch.kdrl_torch_learner.
KDRLTorchLearner` replaces. ``vtrace`` stays True because IMPALA's ``validate()`` refuses False; it is
unused.

Pieces:

* env: :data:`~tracking_by_trackers.policies.kdrl.student_env.ENV_NAME` (registered here) builds a ``StudentEnv``: a
  ``TrackingEnv`` whose infos carry the student's role (from the runner's ``worker_index`` and the
  ablation, ``tracking_by_trackers.policies.kdrl.student_roles``) and whose clip length follows the student's curriculum
  (``tracking_by_trackers.policies.kdrl.curriculum``);
* env-to-module: ``AddGTActionToModuleBatch`` prepended, so autonomous students sample from
  N(μ, |μ − a_gt|) and distilling ones act with μ;
* learner connector: ``AddKDRLColumnsToTrainBatch`` inserted right after
  ``AddOneTsToEpisodesAndTruncate``;
* learner: ``KDRLTorchLearner`` (per-role losses, RAdam);
* callbacks: ``KDRLMetricsCallback`` (students' mean IoU and reward, curriculum length, throughput);
* the learning-rate schedule and the training budget (``tracking_by_trackers.policies.kdrl.lr_schedule``): :class:`KDRL` anneals
  the learners' rate after every iteration and reports ``done`` once the budget is spent, so every driver
  that builds the algorithm from its config trains on the same curve.

The KD-RL settings reach the envs through ``env_config`` (:meth:`KDRLConfig._sync_env_config`), because
the env, not the learner, decides what each student does.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.algorithms.impala.impala import IMPALA, IMPALAConfig
from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.utils.annotations import override
from ray.tune.registry import register_env

from tracking_by_trackers.policies.kdrl.connectors import AddGTActionToModuleBatch, AddKDRLColumnsToTrainBatch
from tracking_by_trackers.policies.kdrl.curriculum import DEFAULT_SCHEDULE, EpisodeLengthCurriculum
from tracking_by_trackers.policies.kdrl.kdrl_hyperparameters import HYPERPARAMETERS, check_hyperparameters
from tracking_by_trackers.policies.kdrl.kdrl_metrics import KDRLMetricsCallback
from tracking_by_trackers.policies.kdrl.lr_schedule import (
    BUDGET_PROGRESS,
    TRAINED_SECONDS,
    CosineBudgetSchedule,
)
from tracking_by_trackers.policies.kdrl.student_env import (
    ABLATION_KEY,
    CURRICULUM_KEY,
    DISTIL_FRACTION_KEY,
    ENV_NAME,
    make_kdrl_env,
)
from tracking_by_trackers.policies.kdrl.student_roles import ABLATIONS
from tracking_by_trackers.policies.kdrl.student_states import (
    RunnerStudents,
    restore_students,
    runner_students,
)

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
    (:func:`tracking_by_trackers.policies.kdrl.kdrl_losses.n_step_returns`) instead of training it toward 0.
    """
    return int(t_max) + 2


class KDRLConfig(IMPALAConfig):
    """Configuration of :class:`KDRL`, with the defaults of :data:`tracking_by_trackers.policies.kdrl.kdrl_hyperparameters.HYPERPARAMETERS`.

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
        # KD-RL's hyperparameters, with the defaults every driver shares (tracking_by_trackers.policies.kdrl.kdrl_hyperparameters).
        defaults = {name: spec.default for name, spec in HYPERPARAMETERS.items()}
        self.rollout_fragment_length = defaults["t_max"]
        self.gamma = defaults["gamma"]
        self.lr = defaults["lr"]
        self.train_batch_size_per_learner = defaults["train_batch_size"]
        self.distil_weight_decay = defaults["distil_weight_decay"]
        self.backbone_lr_scale = defaults["backbone_lr_scale"]
        self.rl_loss_scale = defaults["rl_loss_scale"]
        # Not in the paper (its A3C students have no policy lag): corrects IMPALA's stale runners
        # (docs/method.md, *Departures from the paper*).
        self.policy_lag_correction = defaults["policy_lag_correction"]
        self.distil_fraction = defaults["distil_fraction"]
        self.curriculum = defaults["curriculum"]
        self.final_lr_fraction = defaults["final_lr_fraction"]
        # The paper's choices where IMPALA's defaults differ.
        self.grad_clip = None  # no gradient clipping
        self.entropy_coeff = 0.0  # no entropy term
        self.min_time_s_per_iteration = 0
        self.curriculum_schedule: dict[str, Any] = dict(DEFAULT_SCHEDULE)
        self.ablation = "kd_rl"
        # No budget: the rate stays at lr, and training runs until the driver stops it.
        self.budget_iterations: int | None = None
        self.budget_minutes: float | None = None
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
        backbone_lr_scale: float | None = NotProvided,
        rl_loss_scale: float | None = NotProvided,
        distil_fraction: float | None = NotProvided,
        curriculum: bool | None = NotProvided,
        curriculum_schedule: dict[str, Any] | None = NotProvided,
        ablation: str | None = NotProvided,
        policy_lag_correction: bool | None = NotProvided,
        budget_iterations: int | None = NotProvided,
        budget_minutes: float | None = NotProvided,
        final_lr_fraction: float | None = NotProvided,
        **kwargs: Any,
    ) -> KDRLConfig:
        """IMPALA's settings plus KD-RL's.

        Args:
            t_max: steps per gradient segment (the rollout fragment length), 5.
            distil_weight_decay: L2 penalty on the distillation term only, 1e-4.
            backbone_lr_scale: the backbone's learning rate as a multiple of ``lr``, 1; 0 freezes the
                backbone (no gradient reaches it), for a pretrained one.
            rl_loss_scale: factor on (L_π + L_v), 1e-3.
            distil_fraction: share of distilling students (env runners), ½ (ablations ``kd_only`` and
                ``gt_only`` make every student distil).
            curriculum: episode-length curriculum on/off (off is the "no curriculum" ablation).
            curriculum_schedule: the curriculum's parameters, keys of
                :data:`tracking_by_trackers.policies.kdrl.curriculum.DEFAULT_SCHEDULE` (missing keys keep their defaults).
            ablation: one of :data:`ABLATIONS` (``tracking_by_trackers.policies.kdrl.student_roles``).
            policy_lag_correction: score autonomous actions with the runner's σ and weight the policy
                term by V-trace's truncated importance ratio (``tracking_by_trackers.policies.kdrl.kdrl_losses``), True.
            budget_iterations: iterations after which training is done (the result's ``done``), None.
            budget_minutes: training minutes after which training is done, None (both None: no budget).
            final_lr_fraction: the rate anneals on a cosine from ``lr`` to ``lr · final_lr_fraction`` over
                the budget, whichever of its two parts runs out first (``tracking_by_trackers.policies.kdrl.lr_schedule``); 1 (the
                paper's constant rate).
            **kwargs: IMPALA/AlgorithmConfig ``training`` arguments (``lr``, ``gamma``, …).
        """
        super().training(**kwargs)
        if t_max is not NotProvided:
            self.rollout_fragment_length = t_max
        if distil_weight_decay is not NotProvided:
            self.distil_weight_decay = distil_weight_decay
        if backbone_lr_scale is not NotProvided:
            self.backbone_lr_scale = backbone_lr_scale
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
        if budget_iterations is not NotProvided:
            self.budget_iterations = budget_iterations
        if budget_minutes is not NotProvided:
            self.budget_minutes = budget_minutes
        if final_lr_fraction is not NotProvided:
            self.final_lr_fraction = final_lr_fraction
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
        if self.rollout_fragment_length == "auto":
            self._value_error("rollout_fragment_length (t_max) must be a positive integer")
        problem = check_hyperparameters(
            {
                "t_max": self.rollout_fragment_length,
                "gamma": self.gamma,
                "distil_fraction": self.distil_fraction,
                "rl_loss_scale": self.rl_loss_scale,
                "distil_weight_decay": self.distil_weight_decay,
                "backbone_lr_scale": self.backbone_lr_scale,
                "policy_lag_correction": self.policy_lag_correction,
                "curriculum": self.curriculum,
                "final_lr_fraction": self.final_lr_fraction,
                **({"lr": self.lr} if isinstance(self.lr, int | float) else {}),
            }
        )
        if problem:
            self._value_error(problem)
        if self.ablation not in ABLATIONS:
            self._value_error(f"ablation must be one of {ABLATIONS}, got {self.ablation!r}")
        if self.curriculum:
            try:
                EpisodeLengthCurriculum.from_schedule(self.curriculum_schedule, max_length=32)
            except (TypeError, ValueError) as error:
                self._value_error(f"curriculum_schedule: {error}")
        try:
            schedule = self.budget_schedule()
        except (TypeError, ValueError) as error:
            self._value_error(str(error))
        if schedule.anneals and isinstance(self.lr, list | tuple):
            self._value_error(
                "final_lr_fraction < 1 anneals lr on a cosine over the budget: give lr as a number, not as "
                f"an RLlib schedule ({self.lr!r})"
            )
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
            from tracking_by_trackers.policies.kdrl.torch.student_torch_rl_module import student_config

            expected = student_config(model_config).crop_size
            if int(crop) != expected:
                self._value_error(f"env_config crop_size {crop} != the student's crop size {expected}")

    def budget_schedule(self) -> CosineBudgetSchedule:
        """The learning-rate schedule and budget these settings describe (``tracking_by_trackers.policies.kdrl.lr_schedule``)."""
        return CosineBudgetSchedule(
            lr=self.lr if isinstance(self.lr, int | float) else float("nan"),
            final_fraction=self.final_lr_fraction,
            iterations=self.budget_iterations,
            seconds=None if self.budget_minutes is None else 60.0 * self.budget_minutes,
        )

    @override(IMPALAConfig)
    def get_default_learner_class(self):
        from tracking_by_trackers.policies.kdrl.torch.kdrl_torch_learner import KDRLTorchLearner

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
    from tracking_by_trackers.policies.kdrl.torch.student_torch_rl_module import StudentTorchRLModule

    return StudentTorchRLModule


class KDRL(IMPALA):
    """KD-RL: IMPALA's asynchronous machinery with the KD-RL learner (no V-trace), and the learning-rate
    schedule and budget of ``tracking_by_trackers.policies.kdrl.lr_schedule``.

    After every iteration the learners' rate is set to the schedule's value for the budget spent so far
    (iterations and training seconds, both in the checkpoint), and the result carries ``trained_s``,
    ``budget_progress`` and ``done`` (True once the budget is spent: Ray Tune stops the trial, ``tbt train``
    its loop). Only the time spent in ``step`` counts as training time, not validation or checkpoints.

    The students' own state (episode count, curriculum) is collected from the env runners into every
    checkpoint and given back on restore and to a runner RLlib restarted
    (``tracking_by_trackers.policies.kdrl.student_states``); :attr:`recreated_runners` reports each restart.
    """

    _SCHEDULE_STATE = "kdrl_lr_schedule"
    _STUDENTS_STATE = "kdrl_students"
    # A checkpoint waits this long for a runner's students (it waits behind the runner's sample request).
    _STUDENTS_TIMEOUT_S = 120.0

    @classmethod
    @override(IMPALA)
    def get_default_config(cls) -> KDRLConfig:
        return KDRLConfig()

    @override(IMPALA)
    def setup(self, config) -> None:
        super().setup(config)
        self._schedule = self.config.budget_schedule()
        self._trained_seconds = 0.0
        self._student_states: dict[int, list[dict]] = {}
        self._students_iteration: int | None = None
        self.recreated_runners: list[RunnerStudents] = []
        """One report per env runner RLlib restarted (``student_states.RunnerStudents``, plus ``restored``,
        whether its students took the stored state, and ``from_iteration``, the iteration it was stored at)."""

    @property
    def trained_seconds(self) -> float:
        """Seconds spent in training iterations, over every restore."""
        return self._trained_seconds

    @property
    def budget_progress(self) -> float:
        """The fraction of the budget spent (0 without a budget)."""
        return self._schedule.progress(self.iteration, self._trained_seconds)

    @override(IMPALA)
    def step(self) -> dict:
        started = time.perf_counter()
        result = super().step()
        self._trained_seconds += time.perf_counter() - started
        # ``self.iteration`` counts this iteration only once ``train()`` returns.
        progress = self._schedule.progress(self.iteration + 1, self._trained_seconds)
        self._apply_lr(progress)
        result[TRAINED_SECONDS] = self._trained_seconds
        result[BUDGET_PROGRESS] = progress
        if self._schedule.has_budget:
            result["done"] = progress >= 1.0
        return result

    def _apply_lr(self, progress: float) -> None:
        """Give every learner the schedule's rate at ``progress`` (nothing to do at a constant rate, which
        also leaves an RLlib ``lr`` schedule alone)."""
        if self._schedule.anneals:
            lr = self._schedule.lr_at(progress)
            self.learner_group.foreach_learner(functools.partial(_set_learning_rate, lr=lr))

    @override(IMPALA)
    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict:
        state = super().get_state(components, not_components=not_components, **kwargs)
        if components is None:
            state[self._SCHEDULE_STATE] = {TRAINED_SECONDS: self._trained_seconds}
            self._collect_students()
            state[self._STUDENTS_STATE] = {
                "iteration": self._students_iteration,
                "runners": dict(self._student_states),
            }
        return state

    @override(IMPALA)
    def set_state(self, state: dict) -> None:
        super().set_state(state)
        if self._SCHEDULE_STATE in state:
            self._trained_seconds = float(state[self._SCHEDULE_STATE][TRAINED_SECONDS])
            # The restored learners start from the config's rate: put them back on the curve.
            self._apply_lr(self.budget_progress)
        if self._STUDENTS_STATE in state:
            stored = state[self._STUDENTS_STATE]
            self._student_states = {int(index): states for index, states in stored["runners"].items()}
            self._students_iteration = stored["iteration"]
            self.env_runner_group.foreach_env_runner(
                functools.partial(restore_students, states_by_index=self._student_states),
                timeout_seconds=self._STUDENTS_TIMEOUT_S,
            )

    def students_report(self) -> list[RunnerStudents]:
        """Every healthy env runner's report (``tracking_by_trackers.policies.kdrl.student_states``)."""
        return self.env_runner_group.foreach_env_runner(
            runner_students, timeout_seconds=self._STUDENTS_TIMEOUT_S
        )

    def _collect_students(self) -> None:
        """Keep every healthy runner's student states (a runner that does not answer keeps its last ones)."""
        for report in self.students_report():
            if report["states"]:
                self._student_states[report["worker_index"]] = report["states"]
        self._students_iteration = self.iteration

    @override(IMPALA)
    def restore_env_runners(self, env_runner_group) -> list[int]:
        restored = super().restore_env_runners(env_runner_group)
        if restored and env_runner_group is self.env_runner_group:
            reports = env_runner_group.foreach_env_runner(
                functools.partial(restore_students, states_by_index=self._student_states),
                remote_worker_ids=restored,
                local_env_runner=False,
                timeout_seconds=self._STUDENTS_TIMEOUT_S,
            )
            for report in reports:
                report["from_iteration"] = self._students_iteration if report["restored"] else None
            self.recreated_runners.extend(reports)
        return restored


def _set_learning_rate(learner, lr: float) -> None:
    learner.set_learning_rate(lr)
