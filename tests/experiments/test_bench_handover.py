"""TRAST's hand-over accuracy, on hand-made frames."""

from __future__ import annotations

import numpy as np

from experiments.benchmarks.bench_handover import handover_accuracy

TARGET = np.array([10.0, 10.0, 10.0, 10.0])
ON = TARGET.copy()  # IoU 1
HALF = TARGET + [5, 0, 0, 0]  # IoU 50/150 = 1/3
NEAR = TARGET + [0.2, 0, 0, 0]  # IoU 9.8/10.2 = 0.96: less than 0.1 from ON


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
