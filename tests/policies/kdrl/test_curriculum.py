"""The episode-length curriculum rule (policies/kdrl/curriculum.py), on hand-built episodes."""

from __future__ import annotations

import pytest

from tracking_by_trackers.policies.kdrl.curriculum import DEFAULT_SCHEDULE, EpisodeLengthCurriculum


def _curriculum(**kwargs) -> EpisodeLengthCurriculum:
    return EpisodeLengthCurriculum(**{"max_length": 32, "window": 2, "tolerance": 0.0, **kwargs})


def test_grows_after_a_window_of_won_episodes_and_stops_at_the_ceiling():
    curriculum = _curriculum(initial_length=4, growth=2.0, max_length=12)
    lengths = []
    for _ in range(8):
        # Student 0.5 per step vs teacher 0.4: a win.
        curriculum.record([0.5, 0.5], [0.4, 0.4], [True, True])
        lengths.append(curriculum.length)
    assert lengths == [4, 8, 8, 12, 12, 12, 12, 12]


def test_a_lost_window_keeps_the_length_and_starts_a_new_window():
    curriculum = _curriculum(success_rate=1.0)
    assert not curriculum.record([0.5], [0.6], [True])  # lost
    assert not curriculum.record([0.7], [0.6], [True])  # won: 1 of 2 < 100 %
    assert curriculum.length == 4
    curriculum.record([0.7], [0.6], [True])
    assert curriculum.record([0.7], [0.6], [True])  # a fresh window of two wins
    assert curriculum.length == 8


def test_compares_only_on_steps_with_a_teacher_and_uses_tolerance():
    curriculum = _curriculum(window=1, tolerance=0.2)
    # Teacher steps: student mean (0.2 + 0.4) / 2 = 0.3, teacher 0.45: within 0.2, a win. The
    # teacher-less step (student -1) is left out of the comparison.
    assert curriculum.record([0.2, 0.4, -1.0], [0.5, 0.4, -1.0], [True, True, False])
    strict = _curriculum(window=1, tolerance=0.0)
    assert not strict.record([0.2, 0.4, -1.0], [0.5, 0.4, -1.0], [True, True, False])


def test_without_teachers_a_positive_mean_reward_wins():
    curriculum = _curriculum(window=1)
    assert not curriculum.record([-1.0, 0.8], [-1.0, -1.0], [False, False])  # mean -0.1
    assert curriculum.record([0.2, 0.1], [-1.0, -1.0], [False, False])


def test_from_schedule_fills_defaults_and_rejects_unknown_keys():
    curriculum = EpisodeLengthCurriculum.from_schedule({"initial_length": 8}, max_length=16)
    assert curriculum.length == 8 and curriculum.window == DEFAULT_SCHEDULE["window"]
    with pytest.raises(ValueError, match=r"unknown curriculum_schedule keys \['windw'\]"):
        EpisodeLengthCurriculum.from_schedule({"windw": 3}, max_length=16)
    with pytest.raises(ValueError, match="growth > 1"):
        EpisodeLengthCurriculum(max_length=16, growth=1.0)
