"""The student env's infos and the connectors' batch columns are the ones ``tracking_by_trackers.envs.sample_keys`` declares."""

from __future__ import annotations

import numpy as np
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from tracking_by_trackers.envs.clip_sources import SequenceClipSource, synthetic_clip_source
from tracking_by_trackers.envs.sample_keys import (
    MODULE_BATCH_COLUMNS,
    NO_TEACHER_REWARD,
    ROLE,
    ROLE_AUTONOMOUS,
    STUDENT_INFO_KEYS,
    TEACHER_BOXES,
    TEACHER_REWARD,
    TRACKING_INFO_KEYS,
    TRAIN_BATCH_COLUMNS,
)
from tracking_by_trackers.policies.kdrl.connectors import AddGTActionToModuleBatch, AddKDRLColumnsToTrainBatch
from tracking_by_trackers.policies.kdrl.student_env import make_kdrl_env

_STAY = np.zeros(4, np.float32)


def _student_episode() -> tuple[SingleAgentEpisode, list[dict]]:
    """One finished episode of a KD-RL student on a clip with a teacher, as RLlib's runner records it."""
    base = synthetic_clip_source(num_videos=1, num_frames=20)
    source = SequenceClipSource(base.sequences, [{"copy": s.gt_boxes.copy()} for s in base.sequences])
    env = make_kdrl_env({"clip_source": source, "crop_size": 32, "clip_length": 6})
    obs, info = env.reset(seed=0)
    episode = SingleAgentEpisode(observation_space=env.observation_space, action_space=env.action_space)
    episode.add_env_reset(obs, info)
    infos, terminated = [info], False
    while not terminated:
        obs, reward, terminated, _, info = env.step(_STAY)
        episode.add_env_step(obs, _STAY, reward, info, terminated=terminated)
        infos.append(info)
    return episode, infos


def _blank_episode(steps: int) -> SingleAgentEpisode:
    """An episode whose infos are empty, as from an env that is not a student's."""
    episode = SingleAgentEpisode()
    episode.add_env_reset(np.zeros(1), {})
    for _ in range(steps):
        episode.add_env_step(np.zeros(1), _STAY, 0.0, {})
    return episode


def _column(batch: dict, column: str) -> np.ndarray:
    """What the connector added to ``column`` for the one episode of ``batch``."""
    ((item,),) = batch[column].values()
    return np.asarray(item)


def test_student_infos_have_exactly_the_declared_keys():
    _, infos = _student_episode()
    assert len(infos) == 6
    expected = {*TRACKING_INFO_KEYS, *STUDENT_INFO_KEYS, TEACHER_BOXES}
    assert all(set(info) == expected for info in infos)


def test_connectors_copy_the_declared_columns_from_the_infos():
    episode, infos = _student_episode()
    module_batch = AddGTActionToModuleBatch()(rl_module=None, batch={}, episodes=[episode])
    assert set(module_batch) == set(MODULE_BATCH_COLUMNS)
    for column in MODULE_BATCH_COLUMNS:  # the info of the latest observation
        np.testing.assert_array_equal(_column(module_batch, column), infos[-1][column])
    train_batch = AddKDRLColumnsToTrainBatch()(rl_module=None, batch={}, episodes=[episode])
    assert set(train_batch) == set(TRAIN_BATCH_COLUMNS)
    for column in TRAIN_BATCH_COLUMNS:  # one item per step, the info of the state it was taken in
        expected = np.asarray([info[column] for info in infos[:-1]], np.float32)
        np.testing.assert_array_equal(_column(train_batch, column), expected)


def test_connectors_fill_a_missing_info_key_with_its_declared_value():
    # A sample without a role is an autonomous student's; without a teacher it cannot distil.
    assert MODULE_BATCH_COLUMNS[ROLE] == TRAIN_BATCH_COLUMNS[ROLE] == ROLE_AUTONOMOUS
    assert TRAIN_BATCH_COLUMNS[TEACHER_REWARD] == NO_TEACHER_REWARD
    module_batch = AddGTActionToModuleBatch()(rl_module=None, batch={}, episodes=[_blank_episode(2)])
    for column, missing in MODULE_BATCH_COLUMNS.items():
        np.testing.assert_array_equal(_column(module_batch, column), missing)
    train_batch = AddKDRLColumnsToTrainBatch()(rl_module=None, batch={}, episodes=[_blank_episode(3)])
    for column, missing in TRAIN_BATCH_COLUMNS.items():
        np.testing.assert_array_equal(_column(train_batch, column), [missing] * 3)
