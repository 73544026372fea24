"""The critic-ranking figure: a perfect critic scores 1, a reversed one -1, the student runs."""

from __future__ import annotations

import numpy as np
import pytest

from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.analysis.critic_ranking import (
    critic_ranking,
    lost_box_preference,
    student_values,
)
from tracking_by_trackers.policies.student_model import StudentNetwork


@pytest.fixture(scope="module")
def videos():
    return load_dataset("synthetic:videos=2,frames=12,difficulty=0.3,seed=3")


def _oracle(videos, sign: float):
    """Values that are ``sign`` × the IoU with the target of the previous frame (found by its pixels)."""
    frames = [(v.frames[t - 1], v.gt_boxes[t - 1]) for v in videos for t in range(1, len(v))]

    def values(previous, frame, boxes):
        target = next(box for image, box in frames if np.array_equal(image, previous))
        return sign * iou(boxes, np.repeat(target[None], len(boxes), axis=0))

    return values


def test_a_perfect_critic_ranks_1_and_a_reversed_one_minus_1(videos):
    assert critic_ranking(_oracle(videos, 1.0), videos, frames=3, boxes=8) == pytest.approx(1.0)
    assert critic_ranking(_oracle(videos, -1.0), videos, frames=3, boxes=8) == pytest.approx(-1.0)


def test_a_perfect_critic_always_prefers_the_target_to_a_lost_box_and_a_reversed_one_never(videos):
    assert lost_box_preference(_oracle(videos, 1.0), videos, frames=3) == 1.0
    assert lost_box_preference(_oracle(videos, -1.0), videos, frames=3) == 0.0


def test_the_students_critic_gives_a_correlation(videos):
    network = StudentNetwork().eval()
    rho = critic_ranking(student_values(network), videos, frames=2, boxes=6)
    assert -1.0 <= rho <= 1.0
    assert 0.0 <= lost_box_preference(student_values(network), videos, frames=2) <= 1.0
