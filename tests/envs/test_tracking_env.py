"""The tracking MDP: Gymnasium conformance, the SPEC dynamics and reward, and the training info."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from tests.conftest import make_moving_square_sequence
from tracking_by_trackers import envs
from tracking_by_trackers.envs.boxes import action_between, apply_action, iou, reward
from tracking_by_trackers.envs.clip_sources import SequenceClipSource
from tracking_by_trackers.envs.tracking_env import TrackingEnv


@pytest.fixture
def square_source():
    return SequenceClipSource([make_moving_square_sequence(seed=s) for s in range(3)])


def test_passes_gymnasiums_env_checker(square_source):
    check_env(TrackingEnv(square_source, clip_length=8, crop_size=32), skip_render_check=False)


def test_registered_id_builds_the_env(square_source):
    env = gym.make(envs.ENV_ID, clip_source=square_source, clip_length=6, crop_size=24)
    obs, info = env.reset(seed=1)
    assert obs.shape == (2, 24, 24, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)


def test_following_the_ground_truth_action_tracks_perfectly(square_source):
    env = TrackingEnv(square_source, clip_length=10, crop_size=32)
    obs, info = env.reset(seed=0)
    rewards, steps, terminated = [], 0, False
    while not terminated:
        obs, r, terminated, truncated, info = env.step(info["gt_action"])
        assert not truncated
        rewards.append(r)
        steps += 1
    assert steps == 9  # a clip of 10 frames is 9 decisions
    assert rewards == [1.0] * 9
    assert info["iou"] == pytest.approx(1.0, abs=1e-6)


def test_standing_still_loses_the_moving_target(square_source):
    env = TrackingEnv(square_source, clip_length=20, crop_size=32)
    env.reset(seed=0)
    rewards = [env.step(np.zeros(4))[1] for _ in range(19)]
    assert rewards[0] > rewards[-1] and rewards[-1] == -1.0


def test_reward_and_box_follow_spec_formulas(square_source):
    env = TrackingEnv(square_source, clip_length=5, crop_size=16)
    _, info = env.reset(seed=3)
    action = np.array([0.3, -0.2, 0.1, 0.05])
    _, r, _, _, next_info = env.step(action)
    expected_box = apply_action(action, info["box"].astype(float), image_hw=(96, 128))
    np.testing.assert_allclose(next_info["box"], expected_box, rtol=1e-6)
    assert r == reward(expected_box, info["gt_box"].astype(float))
    assert next_info["iou"] == pytest.approx(iou(expected_box, info["gt_box"]), rel=1e-6)


def test_seeding_makes_episodes_reproducible(square_source):
    def rollout(seed):
        env = TrackingEnv(square_source, clip_length=6, crop_size=16)
        obs, info = env.reset(seed=seed)
        observations = [obs]
        for _ in range(5):
            obs, *_ = env.step(np.full(4, 0.1))
            observations.append(obs)
        return np.stack(observations)

    np.testing.assert_array_equal(rollout(7), rollout(7))
    assert not np.array_equal(rollout(7), rollout(8))


def test_clip_length_option_shortens_the_episode(square_source):
    env = TrackingEnv(square_source, clip_length=32, crop_size=16)
    env.reset(seed=0, options={"clip_length": 4})
    terminations = [env.step(np.zeros(4))[2] for _ in range(3)]
    assert terminations == [False, False, True]
    with pytest.raises(RuntimeError, match="the episode has ended"):
        env.step(np.zeros(4))
    with pytest.raises(
        ValueError, match=r"unknown reset option\(s\) \['handover_prob'\]; the only option is"
    ):
        env.reset(options={"handover_prob": 0.2})


def test_teacher_info_picks_the_best_teacher_per_frame():
    sequence = make_moving_square_sequence(num_frames=6)
    gt = sequence.gt_boxes
    good = gt + [1, 0, 0, 0]  # IoU 19/21 with the truth
    poor = gt + [6, 0, 0, 0]
    broken = gt.copy()
    broken[2] = np.nan  # teacher "good" fails on frame 2 -> "poor" is the best there
    source = SequenceClipSource(
        [sequence], teacher_boxes=[{"good": np.where(np.isnan(broken), np.nan, good), "poor": poor}]
    )
    env = TrackingEnv(source, clip_length=6, crop_size=16)
    _, info = env.reset(seed=0)
    assert info["best_teacher"] == "good" and info["has_teacher"]
    np.testing.assert_allclose(info["teacher_action"], action_between(gt[0], good[1]), rtol=1e-6)
    teacher_box = apply_action(action_between(gt[0], good[1]), gt[0], image_hw=(96, 128))
    assert info["teacher_reward"] == reward(teacher_box, gt[1])
    np.testing.assert_allclose(info["teacher_boxes"]["poor"], poor[1])
    _, _, _, _, info = env.step(info["gt_action"])
    assert info["best_teacher"] == "poor"
    assert np.isnan(info["teacher_boxes"]["good"]).all()


def test_without_teachers_the_teacher_target_is_neutral(square_source):
    env = TrackingEnv(square_source, clip_length=4, crop_size=16)
    _, info = env.reset(seed=0)
    assert not info["has_teacher"] and info["best_teacher"] == "" and info["teacher_reward"] == -1.0
    assert "teacher_boxes" not in info
    np.testing.assert_array_equal(info["teacher_action"], np.zeros(4))


def test_absent_target_gives_zero_reward_and_no_target():
    sequence = make_moving_square_sequence(num_frames=5)
    gt, absent = sequence.gt_boxes.copy(), sequence.absent.copy()
    gt[2], absent[2] = np.nan, True
    occluded = type(sequence)("occluded", sequence.frames, gt, absent, "test")
    env = TrackingEnv(SequenceClipSource([occluded]), clip_length=5, crop_size=16)
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(info["gt_action"])
    assert info["frame"] == 2 and not info["target_present"]
    np.testing.assert_array_equal(info["gt_action"], np.zeros(4))
    _, r, _, _, _ = env.step(np.zeros(4))
    assert r == 0.0


def test_bad_input_gives_clear_errors(square_source):
    env = TrackingEnv(square_source, clip_length=4, crop_size=16)
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        env.step(np.zeros(4))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be 4 finite numbers"):
        env.step(np.array([np.nan, 0, 0, 0]))
    with pytest.raises(ValueError, match="clip_length must be at least 2"):
        TrackingEnv(square_source, clip_length=1)
    with pytest.raises(ValueError, match="render_mode must be one of"):
        TrackingEnv(square_source, render_mode="human")


def test_render_draws_the_boxes(square_source):
    env = TrackingEnv(square_source, clip_length=4, crop_size=16, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (96, 128, 3)
    assert ((frame == [255, 0, 0]).all(axis=-1)).any()  # the agent's box in red


def test_default_env_runs_on_synthetic_videos_and_passes_the_checker():
    env = gym.make(envs.ENV_ID, crop_size=32)
    check_env(env.unwrapped)
    obs, info = env.reset(seed=0)
    assert obs.shape == (2, 32, 32, 3) and info["target_present"]
