"""The student's env: roles per ablation, the curriculum driving clip lengths, episode metrics."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from tracking_by_trackers.envs.clip_sources import SequenceClipSource, synthetic_clip_source
from tracking_by_trackers.envs.sample_keys import (
    CURRICULUM_LENGTH,
    ROLE,
    ROLE_AUTONOMOUS,
    ROLE_DISTIL,
    ROLE_DISTIL_GT,
)
from tracking_by_trackers.policies.kdrl.kdrl_metrics import episode_metrics, summarize
from tracking_by_trackers.policies.kdrl.student_env import (
    ABLATION_KEY,
    CURRICULUM_KEY,
    DISTIL_FRACTION_KEY,
    make_kdrl_env,
)
from tracking_by_trackers.policies.kdrl.student_roles import ablation_roles, runner_distils


def _source(teacher: bool = True) -> SequenceClipSource:
    base = synthetic_clip_source(num_videos=2, num_frames=40)
    teachers = [{"gt": s.gt_boxes.copy()} for s in base.sequences] if teacher else None
    return SequenceClipSource(base.sequences, teacher_boxes=teachers)


_STAY = np.zeros(4, np.float32)


def _episode(env, action=_STAY, seed=None):
    """Play one episode; returns (role, number of steps, infos)."""
    _, info = env.reset(seed=seed)
    infos, done = [info], False
    while not done:
        _, _, terminated, truncated, info = env.step(action)
        infos.append(info)
        done = terminated or truncated
    return info[ROLE], len(infos) - 1, infos


def test_runner_distils_splits_runners_and_alternates_a_lone_runner():
    assert [runner_distils(i, 2, 0.5, 0) for i in (1, 2)] == [True, False]
    assert [runner_distils(i, 4, 0.25, 7) for i in (1, 2, 3, 4)] == [True, False, False, False]
    assert [runner_distils(1, 1, 0.5, k) for k in range(4)] == [True, False] * 2
    assert [runner_distils(0, 0, 0.5, k) for k in range(4)] == [True, False] * 2
    assert all(runner_distils(0, 0, 1.0, k) for k in range(3))
    assert not any(runner_distils(0, 0, 0.0, k) for k in range(3))


@pytest.mark.parametrize(
    ("ablation", "roles"),
    [
        ("kd_rl", [ROLE_DISTIL, ROLE_AUTONOMOUS]),
        ("kd_gt", [ROLE_DISTIL, ROLE_DISTIL_GT]),
        ("kd_only", [ROLE_DISTIL, ROLE_DISTIL]),
        ("gt_only", [ROLE_DISTIL_GT, ROLE_DISTIL_GT]),
    ],
)
def test_ablations_set_the_roles_of_a_lone_runners_episodes(ablation, roles):
    env = make_kdrl_env({"clip_source": _source(), "crop_size": 32, "clip_length": 4, ABLATION_KEY: ablation})
    episodes = [_episode(env, seed=0), _episode(env)]
    assert [role for role, _, _ in episodes] == roles
    assert all(info[ROLE] == role for role, _, infos in episodes for info in infos)


def test_unknown_ablation_is_an_error():
    with pytest.raises(ValueError, match="ablation must be one of"):
        ablation_roles("rl_only")
    with pytest.raises(ValueError, match="ablation must be one of"):
        make_kdrl_env({"clip_source": _source(), "crop_size": 32, ABLATION_KEY: "rl_only"})


def test_curriculum_sets_the_clip_length_and_grows_when_the_student_matches_the_teacher():
    # The teacher IS the ground truth and the student never moves: with tolerance 2 (the whole reward
    # range) every episode is a win, so the length doubles after each window of 2 episodes.
    schedule = {"initial_length": 3, "window": 2, "tolerance": 2.0}
    env = make_kdrl_env(
        {"clip_source": _source(), "crop_size": 32, "clip_length": 12, CURRICULUM_KEY: schedule}
    )
    steps = []
    for k in range(6):
        _, n, infos = _episode(env, seed=0 if k == 0 else None)
        steps.append(n)
        assert {info[CURRICULUM_LENGTH] for info in infos} == {n + 1}
    assert steps == [2, 2, 5, 5, 11, 11]


def test_curriculum_holds_the_length_while_the_student_loses():
    schedule = {"initial_length": 3, "window": 1, "tolerance": 0.0}
    env = make_kdrl_env(
        {"clip_source": _source(), "crop_size": 32, "clip_length": 12, CURRICULUM_KEY: schedule}
    )
    # Pushing the box away every step loses to a perfect teacher.
    away = np.array([1, 1, 0, 0], np.float32)
    assert [_episode(env, away, seed=0 if k == 0 else None)[1] for k in range(3)] == [2, 2, 2]


def test_without_curriculum_episodes_use_the_env_clip_length():
    env = make_kdrl_env(
        {"clip_source": _source(), "crop_size": 32, "clip_length": 7, DISTIL_FRACTION_KEY: 0.0}
    )
    role, n, _ = _episode(env, seed=0)
    assert (role, n) == (ROLE_AUTONOMOUS, 6)


class _Chunk:
    def __init__(self, infos, rewards):
        self._infos, self._rewards = infos, rewards

    def get_infos(self):
        return self._infos

    def get_rewards(self):
        return self._rewards


def test_episode_metrics_join_chunks_without_counting_the_repeated_info():
    first = _Chunk(
        [{"iou": 1.0, ROLE: ROLE_DISTIL, CURRICULUM_LENGTH: 4}, {"iou": 0.8}, {"iou": 0.6}], [0.6, 0.2]
    )
    second = _Chunk([{"iou": 0.6}, {"iou": 0.4}], [-1.0])
    metrics = episode_metrics([first, second])
    assert metrics["mean_iou"] == pytest.approx((0.8 + 0.6 + 0.4) / 3)
    assert metrics["mean_reward"] == pytest.approx((0.6 + 0.2 - 1.0) / 3)
    assert metrics["role"] == ROLE_DISTIL and metrics["curriculum_length"] == 4


def test_summarize_flattens_a_result_with_nan_for_missing_values():
    result = {
        "training_iteration": 3,
        "env_runners": {"student_mean_iou": 0.5, "episode_len_mean": 9.0},
        "learners": {"default_policy": {"distillation_loss": 0.25}},
        "env_steps_per_s": 100.0,
    }
    summary = summarize(result)
    assert summary["iteration"] == 3 and summary["mean_iou"] == 0.5 and summary["distillation_loss"] == 0.25
    assert summary["env_steps_per_s"] == 100.0 and math.isnan(summary["policy_loss"])


def test_metrics_callback_divides_this_iterations_counts_by_its_time():
    from tracking_by_trackers.policies.kdrl.kdrl_metrics import KDRLMetricsCallback

    result = {
        "time_this_iter_s": 2.0,
        "env_runners": {"num_env_steps_sampled": 100},
        "learners": {"__all_modules__": {"num_env_steps_trained": 120}},
    }
    KDRLMetricsCallback().on_train_result(algorithm=SimpleNamespace(), result=result)
    assert result["env_steps_per_s"] == 50.0 and result["learner_samples_per_s"] == 60.0
