"""TRAST's hand-over accuracy, on hand-made frames."""

from __future__ import annotations

import numpy as np

from tracking_by_trackers.experiments.analysis.handover_accuracy import (
    coincident_states,
    handover_accuracy,
    lost_member_accuracy,
)

TARGET = np.array([10.0, 10.0, 10.0, 10.0])
ON = TARGET.copy()  # IoU 1
HALF = TARGET + [5, 0, 0, 0]  # IoU 50/150 = 1/3
NEAR = TARGET + [0.2, 0, 0, 0]  # IoU 9.8/10.2 = 0.96: less than 0.1 from ON
OFF = TARGET + [30, 0, 0, 0]  # IoU 0
NUDGED = TARGET + [9.5, 0, 0, 0]  # IoU 5/195 = 0.026: lost, though it touches the target


def test_counts_the_frames_where_the_critic_valued_the_better_box_higher():
    evaluations = [
        (np.stack([HALF, ON]), np.array([0.0, 1.0])),  # teacher better, valued higher: right
        (np.stack([ON, HALF]), np.array([0.0, 1.0])),  # student better, teacher valued higher: wrong
        (np.stack([ON, HALF]), np.array([2.0, 1.0])),  # student better, valued higher: right
        (np.stack([ON, NEAR]), np.array([0.0, 1.0])),  # gap 0.04 < 0.1: not counted
        (np.stack([ON]), np.array([0.0])),  # the teacher failed: not counted
        (np.stack([ON, HALF]), np.array([0.0, 1.0])),  # no ground truth: not counted
    ]
    previous_gt = np.stack([TARGET] * 5 + [np.full(4, np.nan)])
    assert handover_accuracy(evaluations, previous_gt) == (2, 3)
    assert handover_accuracy(evaluations, previous_gt, min_gap=0.01) == (2, 4)


def test_lost_member_accuracy_counts_frames_where_one_member_lost_the_target_and_the_other_did_not():
    evaluations = [
        (np.stack([OFF, ON]), np.array([1.0, 0.0])),  # student lost, valued higher: wrong
        (np.stack([NUDGED, ON]), np.array([0.0, 1.0])),  # student lost, teacher valued higher: right
        (np.stack([HALF, ON]), np.array([1.0, 0.0])),  # student at IoU 1/3 is not lost: not counted
        (np.stack([ON, OFF]), np.array([1.0, 0.0])),  # teacher lost, student valued higher: right
        (np.stack([HALF, OFF]), np.array([0.0, 1.0])),  # the student at 1/3 is not on target: not counted
    ]
    previous_gt = np.stack([TARGET] * 5)
    assert lost_member_accuracy(evaluations, previous_gt) == {"student lost": (1, 2), "teacher lost": (1, 1)}


def test_coincident_states_counts_frames_on_one_box_and_the_ties_the_student_keeps():
    evaluations = [
        (np.stack([ON, ON]), np.array([0.5, 0.5])),  # one box, a tie: the student's box is output
        (np.stack([ON, ON]), np.array([0.4, 0.5])),  # one box, the teacher's memory values it higher
        (np.stack([ON, HALF]), np.array([0.5, 0.5])),  # two boxes: not counted
        (np.stack([ON]), np.array([0.5])),  # the teacher failed: not counted
    ]
    assert coincident_states(evaluations) == (2, 1)
