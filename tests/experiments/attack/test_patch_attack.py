"""The patch covers only the background, and climbing it really lowers TRAS's mean IoU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import make_moving_square_sequence
from tracking_by_trackers.envs.sequence import DatasetError, InMemoryFrames, Sequence
from tracking_by_trackers.experiments.attack.background_patch import (
    PatchGeometry,
    patched_sequence,
    sequence_frames,
)
from tracking_by_trackers.experiments.attack.patch_attack import PatchAttack
from tracking_by_trackers.experiments.evaluation.ope_metrics import score_sequence
from tracking_by_trackers.policies.trackers.tras import TRAS
from tracking_by_trackers.teachers.one_pass import track_sequence


def _mean_iou(network, sequence) -> float:
    result = track_sequence(TRAS(network, device="cpu"), sequence)
    return score_sequence(result.boxes, sequence.gt_boxes, sequence.absent).ao


def _padded_target(box, padding, shape) -> np.ndarray:
    """Mask of the pixels whose centre lies in ``box`` grown by ``padding`` on each side."""
    rows, cols = np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5
    x, y, w, h = box
    return ((rows >= y - padding) & (rows < y + h + padding))[:, None] & (
        (cols >= x - padding) & (cols < x + w + padding)
    )[None, :]


def test_the_patch_leaves_the_padded_target_the_border_and_the_first_frame_untouched():
    video = make_moving_square_sequence(12, seed=0)
    geometry = PatchGeometry.for_sequence(video, margin=0.1, padding=5)
    white = np.ones(geometry.shape, np.float32)
    clean, patched = sequence_frames(video), sequence_frames(patched_sequence(video, geometry, white))
    assert (geometry.top, geometry.left, geometry.height, geometry.width) == (10, 13, 76, 102)
    np.testing.assert_array_equal(patched[0], clean[0])
    changed = (patched != clean).any(axis=-1)
    for t in range(1, len(video)):
        target = _padded_target(video.gt_boxes[t], 5, clean.shape[1:3])
        np.testing.assert_array_equal(patched[t][target], clean[t][target])
        border = np.ones(clean.shape[1:3], bool)
        border[10:86, 13:115] = False
        assert not changed[t][border].any()
        # Everywhere else the patch shows (the noisy background is never pure white).
        assert (patched[t][~target & ~border] == 255).all()


def test_a_frame_without_ground_truth_is_patched_everywhere_in_the_rectangle():
    video = make_moving_square_sequence(5, seed=0)
    boxes = video.gt_boxes.copy()
    boxes[3] = np.nan
    unknown = Sequence("gap", video.frames, boxes, np.zeros(5, bool), benchmark="test")
    geometry = PatchGeometry.for_sequence(unknown, padding=5)
    assert geometry.masks[3].all() and not geometry.masks[2].all() and not geometry.masks[0].any()


def test_frames_of_changing_size_are_refused_naming_the_sequence_and_the_frame():
    class Frames(InMemoryFrames):
        def __getitem__(self, index):
            frame = super().__getitem__(index)
            return frame[:-2] if index == 2 else frame

    video = make_moving_square_sequence(4, seed=0)
    resized = Sequence("resized", Frames(video.frames.array), video.gt_boxes, video.absent, benchmark="test")
    with pytest.raises(DatasetError, match=r"sequence test/resized: frame 2 is 128x94, frame 0 128x96"):
        sequence_frames(resized)


def test_a_margin_of_half_the_frame_is_refused():
    with pytest.raises(ValueError, match=r"patch margin must be in \[0, 0.5\)"):
        PatchGeometry.for_sequence(make_moving_square_sequence(3), margin=0.5)


def test_the_attack_lowers_the_mean_iou_of_tras(square_tracker):
    video = make_moving_square_sequence(30, seed=0)
    geometry = PatchGeometry.for_sequence(video, padding=2)
    clean = _mean_iou(square_tracker, video)
    attack = PatchAttack(square_tracker, video, geometry, torch.device("cpu"))
    results = {step.step: step for step in attack.run(0.1, [2, 20])}
    attacked = _mean_iou(square_tracker, patched_sequence(video, geometry, results[20].patch))
    assert clean > 0.85
    assert attacked < clean - 0.2
    assert results[20].loss > results[2].loss  # gradient ascent climbs the L1 box error
    # The climbed patch still leaves the padded target and frame 0 as they were.
    clean_frames = sequence_frames(video)
    patched = sequence_frames(patched_sequence(video, geometry, results[20].patch))
    np.testing.assert_array_equal(patched[0], clean_frames[0])
    for t in range(1, len(video)):
        target = _padded_target(video.gt_boxes[t], 2, clean_frames.shape[1:3])
        np.testing.assert_array_equal(patched[t][target], clean_frames[t][target])


def test_a_patch_no_crop_sees_gets_no_gradient_and_changes_nothing(square_tracker):
    # The paper's 25-pixel padding around a 20-pixel square that TRAS tracks well: every crop (1.5 times
    # the box) lies inside the unpatched region, so the attack has no pixel to move.
    video = make_moving_square_sequence(15, seed=0)
    geometry = PatchGeometry.for_sequence(video, padding=25)
    attack = PatchAttack(square_tracker, video, geometry, torch.device("cpu"))
    (result,) = attack.run(0.1, [3])
    np.testing.assert_array_equal(result.patch, geometry.initial_patch())
    assert _mean_iou(square_tracker, patched_sequence(video, geometry, result.patch)) == _mean_iou(
        square_tracker, video
    )


def test_resuming_from_a_stored_patch_gives_the_patch_of_an_uninterrupted_run(square_tracker):
    video = make_moving_square_sequence(10, seed=1)
    attack = PatchAttack(
        square_tracker, video, PatchGeometry.for_sequence(video, padding=2), torch.device("cpu")
    )
    straight = {step.step: step.patch for step in attack.run(0.1, [2, 4])}
    resumed = {step.step: step.patch for step in attack.run(0.1, [2, 4], start=straight[2], start_step=2)}
    assert list(resumed) == [4]
    np.testing.assert_array_equal(resumed[4], straight[4])
