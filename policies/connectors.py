"""Connector pieces and the role-assigning env creator of the KD-RL algorithm (RLlib new API stack).

* :class:`AddGTActionToModuleBatch` (env-to-module): puts the ground-truth action ``info["gt_action"]``
  of the latest observation into the batch under :data:`GT_ACTION` before the module acts, so that the
  module's σ = |μ − a_gt| is computed on the env runner exactly as in the learner (RLLIB-NOTES: a
  module-to-env piece runs too late, after the action has been sampled). It is prepended to the default
  pipeline, so the default ``AddTimeDimToBatchAndZeroPad`` gives the column its time rank ``(B, 1, 4)``.
* :class:`AddKDRLColumnsToTrainBatch` (learner): copies ``gt_action``, ``teacher_action``,
  ``teacher_reward`` and ``role`` from the episodes' infos into train-batch columns. It must run right
  after ``AddOneTsToEpisodesAndTruncate`` (so that it sees the appended bootstrap step and its columns
  have one item per loss-mask item) and before ``AddTimeDimToBatchAndZeroPad`` (which then splits and
  zero-pads them like every other column).
* Worker roles: the env decides its role (RLlib gives the env creator an ``EnvContext`` with the
  runner's ``worker_index`` and ``num_workers``; every sub-env of a runner gets the same context, so the
  role is per runner). :class:`RoleWrapper` adds ``info["role"]`` (:data:`ROLE_DISTIL` or
  :data:`ROLE_AUTONOMOUS`) to every info; see :func:`runner_role` for the rule.

Infos are aligned with observations (``TrackingEnv``): the info at position ``t`` describes the state
``s_t`` the action ``a_t`` is taken in, so ``teacher_reward[t]`` is compared with ``rewards[t]``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.utils.annotations import override

from policies.torch.student_torch_rl_module import GT_ACTION

__all__ = [
    "ENV_NAME",
    "ROLE",
    "ROLE_AUTONOMOUS",
    "ROLE_DISTIL",
    "TEACHER_ACTION",
    "TEACHER_REWARD",
    "AddGTActionToModuleBatch",
    "AddKDRLColumnsToTrainBatch",
    "RoleWrapper",
    "make_kdrl_env",
    "runner_role",
]

ENV_NAME = "KDRL-TrackingMDP"
"""Name under which :func:`make_kdrl_env` is registered with Tune (see ``policies.kdrl``)."""
ROLE = "role"
"""Train-batch column (and info key): :data:`ROLE_DISTIL` or :data:`ROLE_AUTONOMOUS` per step."""
TEACHER_ACTION = "teacher_action"
TEACHER_REWARD = "teacher_reward"
ROLE_DISTIL = 1
ROLE_AUTONOMOUS = 0
DISTIL_FRACTION_KEY = "kdrl_distil_fraction"
"""``env_config`` key carrying the fraction of distilling students (set by ``KDRLConfig``)."""

_ZERO_ACTION = np.zeros(4, np.float32)


def runner_role(worker_index: int, num_workers: int, distil_fraction: float, episode: int) -> int:
    """The role of a student (env runner) for one episode.

    With two or more remote runners (``worker_index`` in ``1..num_workers``) the first
    ``round(distil_fraction · num_workers)`` (half up) runners distil and the others act autonomously, for
    every episode. A runner without peers (the local runner, ``worker_index == 0``, used when
    ``num_workers == 0``, or the only remote runner) alternates per episode, distilling on a ``distil_fraction`` share of its episodes (episodes 0, 2, 4…
    for ½).
    """
    if not 0.0 <= distil_fraction <= 1.0:
        raise ValueError(f"distil_fraction must be in [0, 1], got {distil_fraction}")
    if worker_index >= 1 and num_workers >= 2:
        num_distil = int(math.floor(distil_fraction * num_workers + 0.5))  # round half up
        return ROLE_DISTIL if worker_index <= num_distil else ROLE_AUTONOMOUS
    # Distil first: episode k distils when the running count ceil(k · fraction) steps up.
    stepped = math.ceil((episode + 1) * distil_fraction - 1e-9) > math.ceil(episode * distil_fraction - 1e-9)
    return ROLE_DISTIL if stepped else ROLE_AUTONOMOUS


class RoleWrapper(gym.Wrapper):
    """Adds ``info["role"]`` (fixed for the whole episode, see :func:`runner_role`) to every info."""

    def __init__(
        self, env: gym.Env, worker_index: int = 0, num_workers: int = 0, distil_fraction: float = 0.5
    ):
        super().__init__(env)
        self.worker_index = int(worker_index)
        self.num_workers = int(num_workers)
        self.distil_fraction = float(distil_fraction)
        self._episode = -1
        self.role = ROLE_DISTIL

    def reset(self, **kwargs: Any):
        self._episode += 1
        self.role = runner_role(self.worker_index, self.num_workers, self.distil_fraction, self._episode)
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, ROLE: self.role}

    def step(self, action):
        obs, rew, terminated, truncated, info = self.env.step(action)
        return obs, rew, terminated, truncated, {**info, ROLE: self.role}


def make_kdrl_env(env_config: Any) -> gym.Env:
    """Env creator: a :class:`~envs.tracking_env.TrackingEnv` wrapped in a :class:`RoleWrapper`.

    ``env_config`` (an RLlib ``EnvContext``, or a plain dict for the local role rule) keys:
    ``clip_source`` (a ``ClipSource`` or a zero-argument callable returning one; default the synthetic
    source), ``clip_length``, ``crop_size``, ``context`` (TrackingEnv's arguments) and
    :data:`DISTIL_FRACTION_KEY` (default ½).
    """
    from envs.tracking_env import TrackingEnv

    config = dict(env_config or {})
    source = config.pop("clip_source", None)
    if source is not None and not hasattr(source, "sample") and callable(source):
        source = source()
    fraction = float(config.pop(DISTIL_FRACTION_KEY, 0.5))
    # Every other key goes to TrackingEnv, so that a misspelt setting is an error, not silently ignored.
    env = TrackingEnv(clip_source=source, **config)
    return RoleWrapper(
        env,
        worker_index=getattr(env_config, "worker_index", 0),
        num_workers=getattr(env_config, "num_workers", 0) or 0,
        distil_fraction=fraction,
    )


class AddGTActionToModuleBatch(ConnectorV2):
    """Env-to-module piece: ``batch[GT_ACTION]`` = the latest info's ``gt_action`` per episode."""

    @override(ConnectorV2)
    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        for episode in self.single_agent_episode_iterator(episodes):
            info = episode.get_infos(-1) or {}
            gt = np.asarray(info.get("gt_action", _ZERO_ACTION), dtype=np.float32)
            self.add_batch_item(batch, GT_ACTION, item_to_add=gt, single_agent_episode=episode)
        return batch


class AddKDRLColumnsToTrainBatch(ConnectorV2):
    """Learner piece: info fields → train-batch columns (one item per step, bootstrap step included)."""

    @override(ConnectorV2)
    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
            n = len(episode)
            infos = episode.get_infos(slice(0, n))
            gt = np.stack([np.asarray(i.get("gt_action", _ZERO_ACTION), np.float32) for i in infos])
            teacher = np.stack([np.asarray(i.get(TEACHER_ACTION, _ZERO_ACTION), np.float32) for i in infos])
            teacher_reward = np.asarray([i.get(TEACHER_REWARD, -1.0) for i in infos], np.float32)
            role = np.asarray([i.get(ROLE, ROLE_AUTONOMOUS) for i in infos], np.float32)
            for column, items in (
                (GT_ACTION, gt),
                (TEACHER_ACTION, teacher),
                (TEACHER_REWARD, teacher_reward),
                (ROLE, role),
            ):
                self.add_n_batch_items(
                    batch, column, items_to_add=items, num_items=n, single_agent_episode=episode
                )
        return batch
