"""Connector pieces of the KD-RL algorithm (RLlib new API stack): env infos → batch columns.

* :class:`AddGTActionToModuleBatch` (env-to-module): puts the ground-truth action ``info["gt_action"]``
  and the student's ``info["role"]`` of the latest observation into the batch
  (``tracking_by_trackers.envs.sample_keys.MODULE_BATCH_COLUMNS``) before the module acts, so that the module's σ
  (|μ − a_gt| for autonomous students, its floor for distilling ones) is computed on the env runner
  exactly as in the learner (a module-to-env piece runs too late, after the action has been sampled).
  It is prepended to the default pipeline, so the default ``AddTimeDimToBatchAndZeroPad`` gives the
  columns their time rank (``(B, 1, 4)`` and ``(B, 1)``).
* :class:`AddKDRLColumnsToTrainBatch` (learner): copies ``gt_action``, ``teacher_action``,
  ``teacher_reward`` and ``role`` from the episodes' infos into train-batch columns
  (``tracking_by_trackers.envs.sample_keys.TRAIN_BATCH_COLUMNS``). It must run right after ``AddOneTsToEpisodesAndTruncate``
  (so that it sees the appended bootstrap step and its columns have one item per loss-mask item) and
  before ``AddTimeDimToBatchAndZeroPad`` (which then splits and zero-pads them like every other column).

Roles and the env that sets them are in ``tracking_by_trackers.policies.kdrl.student_roles`` and ``tracking_by_trackers.policies.kdrl.student_env``.
Infos are aligned with observations (``TrackingEnv``): the info at position ``t`` describes the state
``s_t`` the action ``a_t`` is taken in, so ``teacher_reward[t]`` is compared with ``rewards[t]``.
"""

from __future__ import annotations

import numpy as np
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.utils.annotations import override

from tracking_by_trackers.envs.sample_keys import MODULE_BATCH_COLUMNS, TRAIN_BATCH_COLUMNS

__all__ = ["AddGTActionToModuleBatch", "AddKDRLColumnsToTrainBatch"]


class AddGTActionToModuleBatch(ConnectorV2):
    """Env-to-module piece: the latest info's ``gt_action`` and ``role`` per episode, as batch columns."""

    @override(ConnectorV2)
    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        for episode in self.single_agent_episode_iterator(episodes):
            info = episode.get_infos(-1) or {}
            for column, missing in MODULE_BATCH_COLUMNS.items():
                item = np.asarray(info.get(column, missing), dtype=np.float32)
                self.add_batch_item(batch, column, item_to_add=item, single_agent_episode=episode)
        return batch


class AddKDRLColumnsToTrainBatch(ConnectorV2):
    """Learner piece: info fields → train-batch columns (one item per step, bootstrap step included)."""

    @override(ConnectorV2)
    def __call__(self, *, rl_module, batch, episodes, explore=None, shared_data=None, **kwargs):
        for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
            n = len(episode)
            infos = episode.get_infos(slice(0, n))
            for column, missing in TRAIN_BATCH_COLUMNS.items():
                items = np.asarray([info.get(column, missing) for info in infos], np.float32)
                self.add_n_batch_items(
                    batch, column, items_to_add=items, num_items=n, single_agent_episode=episode
                )
        return batch
