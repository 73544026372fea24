"""TRAST's gap to its teacher split by frame, on hand-made overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from tracking_by_trackers.experiments.analysis.trast_gap import GAP_PARTS, gap_parts


def test_the_gap_is_split_by_where_the_student_and_the_teacher_stood():
    # Ten frames; the student's box was output on the first seven.
    trast = np.array([0.6, 0.9, 0.3, 0.05, 0.4, 0.0, 0.7, 0.8, 0.2, 0.5])
    teacher = np.array([0.8, 0.7, 0.9, 0.6, 0.2, 0.5, 0.0, 0.8, 0.2, 0.5])
    student = np.array([True] * 7 + [False] * 3)
    parts = gap_parts(trast, teacher, student)
    assert list(parts) == list(GAP_PARTS)
    expected = {
        "teacher on target, student on it too": (-0.2 + 0.2) / 10,  # frames 0, 1
        "teacher on target, student partly off": -0.6 / 10,  # frame 2
        "teacher on target, student lost": (-0.55 - 0.5) / 10,  # frames 3 and 5 (IoU 0.05 and 0)
        "teacher off target": (0.2 + 0.7) / 10,  # frames 4 and 6
        "teacher's box output": 0.0,
    }
    assert parts == pytest.approx(expected)
    assert sum(parts.values()) == pytest.approx(trast.mean() - teacher.mean())


def test_mismatched_or_empty_inputs_are_clear_errors():
    with pytest.raises(ValueError, match=r"expected three \(N,\) arrays, got \(2,\), \(3,\), \(2,\)"):
        gap_parts(np.zeros(2), np.zeros(3), np.zeros(2, bool))
    with pytest.raises(ValueError, match="no scored frame"):
        gap_parts(np.zeros(0), np.zeros(0), np.zeros(0, bool))
