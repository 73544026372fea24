"""TRAST and TRASFUST replaying their teachers' stored tracks are the live trackers: same boxes, same choices.

``tbt train``'s final evaluation and every validation rely on it (experiments/train/train_report.py,
experiments/train/checkpoint_validation.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.evaluation.evaluate import evaluate_trackers, track_and_record
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers.factory import replaying_teachers, student_tracker_factory
from tracking_by_trackers.teachers.registry import parse_tracker_specs
from tracking_by_trackers.teachers.results_store import read_result


def test_replaying_teachers_rewrites_only_live_teachers():
    assert replaying_teachers("tras") == "tras"
    assert replaying_teachers("trast:csrt") == "trast:results:csrt"
    assert replaying_teachers(" trasfust:kcf + results:ECO ") == "trasfust:results:kcf+results:ECO"


@pytest.mark.parametrize("spec", ["trast:kcf", "trasfust:kcf+mosse+medianflow"])
def test_a_replay_gives_the_live_trackers_boxes_and_choices(spec, tmp_path):
    videos = load_dataset("synthetic:videos=3,frames=40,difficulty=0.8,seed=3")
    torch.manual_seed(0)
    student = StudentNetwork.from_preset("small").eval()
    root = tmp_path / "results"
    evaluate_trackers(videos, parse_tracker_specs("kcf,mosse,medianflow"), root, show_progress=False)
    # The stored flags hold failures that a valid box hides: the case a replay must not lose.
    hidden_failures = sum(
        int((~stored.ok & np.isfinite(stored.boxes).all(axis=1)).sum())
        for video in videos
        for teacher in ("kcf", "mosse", "medianflow")
        for stored in [read_result(root, video.benchmark, teacher, video.name)]
    )
    assert hidden_failures > 0

    live_name, live = student_tracker_factory(spec, student, device="cpu", runner="inline")
    replay_name, replay = student_tracker_factory(
        replaying_teachers(spec), student, results_root=root, device="cpu", runner="inline"
    )
    assert replay_name == live_name
    for video in videos:
        live_result, (live_choices, members) = track_and_record(live, video)
        replay_result, (replay_choices, replay_members) = track_and_record(replay, video)
        np.testing.assert_array_equal(replay_result.boxes, live_result.boxes)
        assert replay_choices == live_choices and replay_members == members
