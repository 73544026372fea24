"""What KD-RL reports each iteration: episode metrics of the students, throughput, and one flat summary.

:class:`KDRLMetricsCallback` (set by ``KDRLConfig``) adds, under ``result["env_runners"]``:

* ``student_mean_iou``: mean IoU between the student's box and the ground truth over the steps of an
  episode, averaged over recent episodes (``metrics_num_episodes_for_smoothing``, like RLlib's own
  ``episode_return_mean``), and the same per role (``distil_mean_iou``, ``autonomous_mean_iou``,
  ``distil_gt_mean_iou``);
* ``student_mean_reward``: mean reward per step (eq. 2) over an episode;
* ``curriculum_length``: the clip length episodes were drawn with;

and, at the top level of the result, ``env_steps_per_s`` and ``learner_samples_per_s``: the env steps
sampled and trained in this iteration divided by its wall time.

:func:`summarize` flattens a result into the stable names that progress lines, training-curve CSVs and
Tune read (see :data:`SUMMARY_KEYS`), with NaN where an iteration did not report a value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ray.rllib.callbacks.callbacks import RLlibCallback

from tracking_by_trackers.envs.sample_keys import CURRICULUM_LENGTH, IOU, ROLE
from tracking_by_trackers.policies.kdrl.kdrl_learner import (
    DISTILLATION_LOSS,
    GT_L1,
    IMPORTANCE_WEIGHT,
    LOGP_GAP,
    MASK_RATE,
    POLICY_LOSS,
    TEACHER_L1,
    VALUE_LOSS,
)
from tracking_by_trackers.policies.kdrl.student_roles import ROLE_NAMES

__all__ = ["SUMMARY_KEYS", "KDRLMetricsCallback", "episode_metrics", "summarize"]

MEAN_IOU = "student_mean_iou"
MEAN_REWARD = "student_mean_reward"
ENV_STEPS_PER_S = "env_steps_per_s"
LEARNER_SAMPLES_PER_S = "learner_samples_per_s"


def episode_metrics(chunks: list) -> dict[str, float]:
    """Mean IoU, mean reward per step, role and curriculum length of one finished episode.

    ``chunks`` are the episode's pieces in order (RLlib cuts episodes every t_max steps). Each chunk's
    info 0 repeats the previous chunk's last info (or is the reset info), so the IoU after each step is
    in infos ``1..n`` of every chunk.
    """
    ious: list[float] = []
    rewards: list[float] = []
    first_info: dict = {}
    for chunk in chunks:
        infos = chunk.get_infos()
        if not first_info and infos:
            first_info = infos[0]
        ious.extend(float(info.get(IOU, math.nan)) for info in infos[1:])
        rewards.extend(float(r) for r in chunk.get_rewards())
    return {
        "mean_iou": float(np.mean(ious)) if ious else math.nan,
        "mean_reward": float(np.mean(rewards)) if rewards else math.nan,
        "role": first_info.get(ROLE),
        "curriculum_length": float(first_info.get(CURRICULUM_LENGTH, math.nan)),
    }


class KDRLMetricsCallback(RLlibCallback):
    """Logs the students' episode metrics on the runners and the throughput on the driver."""

    def on_episode_end(
        self, *, episode, prev_episode_chunks=None, env_runner=None, metrics_logger=None, **kwargs
    ):
        if metrics_logger is None:
            return
        metrics = episode_metrics([*(prev_episode_chunks or []), episode])
        config = getattr(env_runner, "config", None)
        # Same smoothing as RLlib's episode_return_mean: the window is split across the runners.
        window = getattr(config, "metrics_num_episodes_for_smoothing", 100)
        window = max(1, math.ceil(window / max(1, getattr(config, "num_env_runners", 1) or 1)))
        metrics_logger.log_value(MEAN_IOU, metrics["mean_iou"], window=window)
        metrics_logger.log_value(MEAN_REWARD, metrics["mean_reward"], window=window)
        metrics_logger.log_value(CURRICULUM_LENGTH, metrics["curriculum_length"], window=window)
        role = ROLE_NAMES.get(metrics["role"])
        if role is not None:
            metrics_logger.log_value(f"{role}_mean_iou", metrics["mean_iou"], window=window)

    def on_train_result(self, *, algorithm, metrics_logger=None, result: dict, **kwargs):
        seconds = result.get("time_this_iter_s") or math.nan
        sampled = result.get("env_runners", {}).get("num_env_steps_sampled", math.nan)
        trained = result.get("learners", {}).get("__all_modules__", {}).get("num_env_steps_trained", math.nan)
        result[ENV_STEPS_PER_S] = float(sampled) / seconds if seconds else math.nan
        result[LEARNER_SAMPLES_PER_S] = float(trained) / seconds if seconds else math.nan


SUMMARY_KEYS = (
    "iteration",
    "env_steps",
    "mean_reward",
    "mean_iou",
    "distil_mean_iou",
    "autonomous_mean_iou",
    "episode_len_mean",
    "curriculum_length",
    "distillation_loss",
    "mask_rate",
    "teacher_l1",
    "gt_l1",
    "policy_loss",
    "value_loss",
    "logp_gap",
    "importance_weight",
    "lr",
    "env_steps_per_s",
    "learner_samples_per_s",
    "env_runner_restarts",
    "healthy_env_runners",
    "time_s",
)
"""Columns of :func:`summarize`, in order."""


def summarize(result: dict[str, Any], module_id: str = "default_policy") -> dict[str, float]:
    """The flat per-iteration summary of a ``train()`` result (keys :data:`SUMMARY_KEYS`)."""
    runners = result.get("env_runners", {})
    learner = result.get("learners", {}).get(module_id, {})
    faults = result.get("fault_tolerance", {})

    def number(value: Any) -> float:
        try:
            return float(value)
        except (TypeError, ValueError):
            return math.nan

    return {
        "iteration": number(result.get("training_iteration")),
        "env_steps": number(
            result.get("num_env_steps_sampled_lifetime", runners.get("num_env_steps_sampled_lifetime"))
        ),
        "mean_reward": number(runners.get(MEAN_REWARD)),
        "mean_iou": number(runners.get(MEAN_IOU)),
        "distil_mean_iou": number(runners.get("distil_mean_iou")),
        "autonomous_mean_iou": number(runners.get("autonomous_mean_iou")),
        "episode_len_mean": number(runners.get("episode_len_mean")),
        "curriculum_length": number(runners.get(CURRICULUM_LENGTH)),
        "distillation_loss": number(learner.get(DISTILLATION_LOSS)),
        "mask_rate": number(learner.get(MASK_RATE)),
        "teacher_l1": number(learner.get(TEACHER_L1)),
        "gt_l1": number(learner.get(GT_L1)),
        "policy_loss": number(learner.get(POLICY_LOSS)),
        "value_loss": number(learner.get(VALUE_LOSS)),
        "logp_gap": number(learner.get(LOGP_GAP)),
        "importance_weight": number(learner.get(IMPORTANCE_WEIGHT)),
        "lr": number(learner.get("default_optimizer_learning_rate")),  # logged by RLlib's Learner
        "env_steps_per_s": number(result.get(ENV_STEPS_PER_S)),
        "learner_samples_per_s": number(result.get(LEARNER_SAMPLES_PER_S)),
        # RLlib's fault-tolerance stats: env runners restarted since the algorithm was built (this process),
        # and those answering now.
        "env_runner_restarts": number(faults.get("num_remote_worker_restarts")),
        "healthy_env_runners": number(faults.get("num_healthy_workers")),
        "time_s": number(result.get("time_total_s")),
    }
