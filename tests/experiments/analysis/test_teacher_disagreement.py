"""The frames split by where two teachers stand, and what the trackers did there, on hand-made overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from tracking_by_trackers.experiments.analysis.teacher_disagreement import (
    COLUMN_FRAMES,
    COLUMN_SHARE,
    disagreement_table,
    frame_parts,
)


def test_every_frame_is_in_one_part_by_the_two_teachers_overlaps():
    nano = np.array([0.8, 0.9, 0.05, 0.0, 0.6, 0.3, 0.7])
    csrt = np.array([0.0, 0.05, 0.7, 0.02, 0.6, 0.8, 0.3])
    parts = frame_parts(nano, csrt, "nano_v2", "csrt")
    assert {name: mask.nonzero()[0].tolist() for name, mask in parts.items()} == {
        "nano_v2 on, csrt lost": [0, 1],
        "csrt on, nano_v2 lost": [2],
        "both on": [4],
        "both lost": [3],
        "the rest": [5, 6],  # one teacher only partly on the target
    }


def test_the_table_gives_each_trackers_iou_and_each_members_share_per_part():
    ious = {
        "nano_v2": np.array([0.8, 0.9, 0.05, 0.6]),
        "csrt": np.array([0.0, 0.05, 0.7, 0.6]),
        "tras": np.array([0.4, 0.2, 0.1, 0.5]),
        "trasfust": np.array([0.8, 0.05, 0.7, 0.6]),
    }
    choices = {"trasfust": np.array(["nano_v2", "csrt", "csrt", "student"])}
    table = disagreement_table(ious, choices, "nano_v2", "csrt")
    row = table.loc["nano_v2 on, csrt lost"]
    assert row[COLUMN_FRAMES] == 2 and row[COLUMN_SHARE] == pytest.approx(0.5)
    assert row["IoU tras"] == pytest.approx(0.3)  # (0.4 + 0.2) / 2: what the student does alone there
    assert row["IoU trasfust"] == pytest.approx(0.425)
    assert row["trasfust → nano_v2"] == pytest.approx(0.5) and row["trasfust → csrt"] == pytest.approx(0.5)
    assert row["trasfust → student"] == 0.0
    assert table.loc["csrt on, nano_v2 lost", "trasfust → csrt"] == 1.0
    assert table.loc["both on", "trasfust → student"] == 1.0
    assert np.isnan(table.loc["both lost", "IoU tras"]) and table.loc["both lost", COLUMN_FRAMES] == 0
    assert table[COLUMN_FRAMES].sum() == 4


def test_a_missing_teacher_or_no_frame_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no results of 'csrt': the run stored \['nano_v2'\]"):
        disagreement_table({"nano_v2": np.ones(3)}, {}, "nano_v2", "csrt")
    with pytest.raises(ValueError, match="no scored frame"):
        disagreement_table({"a": np.zeros(0), "b": np.zeros(0)}, {}, "a", "b")
    with pytest.raises(ValueError, match=r"expected two \(N,\) arrays, got \(2,\) and \(3,\)"):
        frame_parts(np.zeros(2), np.zeros(3), "a", "b")
