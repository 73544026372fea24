"""One-pass tracking with misbehaving trackers, and the results store's round trip and errors."""

import numpy as np
import pytest

from tracking_by_trackers.envs.sequence import DatasetError
from tracking_by_trackers.teachers.identity_tracker import IdentityTracker
from tracking_by_trackers.teachers.one_pass import TrackingResult, track_sequence
from tracking_by_trackers.teachers.results_store import has_result, read_result, result_file, write_result
from tracking_by_trackers.teachers.tracker import BaseTracker


class FailsOnFrameTwo(BaseTracker):
    name = "flaky"

    def init(self, image, box):
        self.box, self.calls = np.asarray(box, float), 0

    def update(self, image):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("lost it")
        return self.box + 1


class ReportsLowConfidence(BaseTracker):
    name = "shy"

    def init(self, image, box):
        self.box, self.last_ok = np.asarray(box, float), True

    def update(self, image):
        self.last_ok = not self.last_ok  # fails every other frame, but still returns a box
        return self.box


class ReturnsZeroSize(BaseTracker):
    name = "flat"

    def init(self, image, box):
        pass

    def update(self, image):
        return np.array([1.0, 1.0, 0.0, 5.0])


def test_low_confidence_and_degenerate_boxes_are_failed_frames(moving_square):
    shy = track_sequence(ReportsLowConfidence(), moving_square)
    np.testing.assert_array_equal(shy.ok[:5], [True, False, True, False, True])
    assert np.isfinite(shy.boxes).all(), "a low-confidence box is still the tracker's box"
    flat = track_sequence(ReturnsZeroSize(), moving_square)
    assert flat.ok[0] and not flat.ok[1:].any()


def test_prepare_hook_sees_the_sequence_before_init(moving_square):
    class NeedsTheVideo(IdentityTracker):
        def prepare(self, sequence):
            self.video = sequence.name

    tracker = NeedsTheVideo()
    track_sequence(tracker, moving_square)
    assert tracker.video == "square0"


class FailsToInitialise(BaseTracker):
    name = "broken"

    def init(self, image, box):
        raise RuntimeError("no model file")

    def update(self, image):
        raise AssertionError("never called")


def test_identity_tracker_keeps_the_initial_box(moving_square):
    result = track_sequence(IdentityTracker(), moving_square)
    np.testing.assert_array_equal(
        result.boxes, np.repeat(moving_square.gt_boxes[:1], len(moving_square), axis=0)
    )
    assert result.times.shape == (len(moving_square),) and (result.times >= 0).all()


def test_a_frame_that_raises_is_a_nan_box_and_tracking_goes_on(moving_square, caplog):
    result = track_sequence(FailsOnFrameTwo(), moving_square)
    assert np.isnan(result.boxes[2]).all()
    assert np.isfinite(result.boxes[3]).all()
    np.testing.assert_array_equal(result.ok[:4], [True, True, False, True])
    np.testing.assert_array_equal(result.last_good_boxes()[2], result.boxes[1])
    assert "flaky failed on frame 2 of square0: lost it" in caplog.text


def test_a_tracker_that_cannot_initialise_gets_nan_everywhere_but_frame_zero(moving_square, caplog):
    result = track_sequence(FailsToInitialise(), moving_square)
    np.testing.assert_array_equal(result.boxes[0], moving_square.init_box)
    assert np.isnan(result.boxes[1:]).all() and not result.ok.any()
    np.testing.assert_array_equal(result.last_good_boxes(), np.repeat(result.boxes[:1], len(result.boxes), 0))
    assert "failed to initialise on square0: no model file" in caplog.text


def test_results_round_trip_in_the_got10k_layout(tmp_path):
    boxes = np.array([[1, 2, 3, 4], [np.nan] * 4, [1.5, 2.25, 3.125, 4.0]])
    times = np.array([0.01, 0.002, 0.003])
    write_result(
        tmp_path, "OTB", "kcf", "Crossing", TrackingResult(boxes, times, np.array([True, False, True]))
    )
    assert result_file(tmp_path, "OTB", "kcf", "Crossing") == tmp_path / "OTB" / "kcf" / "Crossing.txt"
    assert has_result(tmp_path, "OTB", "kcf", "Crossing")
    back = read_result(tmp_path, "OTB", "kcf", "Crossing")
    np.testing.assert_allclose(back.boxes, boxes, atol=1e-3)
    np.testing.assert_allclose(back.times, times, atol=1e-6)
    np.testing.assert_array_equal(back.ok, [True, False, True])
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file may be left behind"


def test_stored_results_of_published_trackers_are_read(shared_data):
    result = read_result(shared_data / "results", "OTB", "ECO", "Crossing")
    assert result.boxes.shape == (120, 4)
    np.testing.assert_allclose(result.boxes[1], [204.7, 151.21, 16.34, 48.058])
    assert np.isnan(result.times).all()


def test_missing_and_malformed_results_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="no stored result for tracker kcf on OTB/Couple"):
        read_result(tmp_path, "OTB", "kcf", "Couple")
    path = tmp_path / "OTB" / "kcf" / "Couple.txt"
    path.parent.mkdir(parents=True)
    path.write_text("1,2,3\n")
    with pytest.raises(
        DatasetError, match="malformed result file .*Couple.txt: expected 4 values per line, got 3"
    ):
        read_result(tmp_path, "OTB", "kcf", "Couple")
