"""The tracking env's infos carry exactly the keys ``tracking_by_trackers.envs.sample_keys`` declares."""

import numpy as np
import pytest

from tests.conftest import make_moving_square_sequence
from tracking_by_trackers.envs.clip_sources import SequenceClipSource
from tracking_by_trackers.envs.sample_keys import (
    NO_ACTION,
    NO_TEACHER_REWARD,
    TEACHER_ACTION,
    TEACHER_BOXES,
    TEACHER_REWARD,
    TRACKING_INFO_KEYS,
)
from tracking_by_trackers.envs.tracking_env import TrackingEnv


def _infos(env: TrackingEnv) -> list[dict]:
    """The infos of one episode: reset, every step, termination."""
    _, info = env.reset(seed=0)
    infos, terminated = [info], False
    while not terminated:
        _, _, terminated, _, info = env.step(np.zeros(4))
        infos.append(info)
    return infos


@pytest.mark.parametrize("with_teachers", [False, True])
def test_every_info_has_exactly_the_declared_keys(with_teachers):
    sequence = make_moving_square_sequence(num_frames=6)
    teachers = [{"copy": sequence.gt_boxes.copy()}] if with_teachers else None
    env = TrackingEnv(SequenceClipSource([sequence], teachers), clip_length=6, crop_size=16)
    expected = set(TRACKING_INFO_KEYS) | ({TEACHER_BOXES} if with_teachers else set())
    infos = _infos(env)
    assert len(infos) == 6
    assert all(set(info) == expected for info in infos)


def test_a_frame_without_teachers_reads_the_declared_no_teacher_values():
    env = TrackingEnv(SequenceClipSource([make_moving_square_sequence(num_frames=4)]), clip_length=4)
    for info in _infos(env):
        assert info[TEACHER_REWARD] == NO_TEACHER_REWARD == -1.0
        np.testing.assert_array_equal(info[TEACHER_ACTION], NO_ACTION)
        # Each info owns its array: changing one cannot change the shared constant.
        assert info[TEACHER_ACTION] is not NO_ACTION and info[TEACHER_ACTION].flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        NO_ACTION[0] = 1.0
