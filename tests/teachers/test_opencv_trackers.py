"""The OpenCV teacher adapters: every kind tracks a moving textured square, errors are clear, RGB reaches
OpenCV as BGR."""

from __future__ import annotations

from unittest import mock

import cv2
import numpy as np
import pytest

from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.teachers.opencv_trackers import (
    OPENCV_TRACKER_KINDS,
    OpenCVTracker,
    make_opencv_tracker,
)

HEIGHT, WIDTH, SIDE = 120, 160, 32


def _square_video(
    num_frames: int = 20, step: float = 1.5, seed: int = 0
) -> tuple[list[np.ndarray], np.ndarray]:
    """A textured square translating diagonally over a smooth, different texture; frames and gt boxes."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8), (0, 0), 3)
    texture = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (SIDE, SIDE), cv2.INTER_NEAREST)
    frames, boxes = [], []
    for t in range(num_frames):
        x, y = 30 + round(step * t), 30 + round(step * t / 2)
        frame = background.copy()
        frame[y : y + SIDE, x : x + SIDE] = texture
        frames.append(frame)
        boxes.append([x, y, SIDE, SIDE])
    return frames, np.asarray(boxes, dtype=np.float64)


def _track(tracker: OpenCVTracker, frames: list[np.ndarray], init_box: np.ndarray) -> np.ndarray:
    tracker.init(frames[0], init_box)
    return np.asarray([init_box] + [tracker.update(frame) for frame in frames[1:]])


@pytest.fixture(scope="module")
def square_video():
    return _square_video()


@pytest.mark.parametrize("kind", OPENCV_TRACKER_KINDS)
def test_every_kind_returns_finite_float_boxes(kind, square_video):
    frames, gt = square_video
    tracker = make_opencv_tracker(kind)
    assert tracker.name == kind
    boxes = _track(tracker, frames, gt[0])
    assert boxes.shape == (len(frames), 4) and boxes.dtype == np.float64
    assert np.isfinite(boxes).all() and (boxes[:, 2:] > 0).all()
    assert isinstance(tracker.last_ok, bool)


@pytest.mark.parametrize("kind", ["kcf", "csrt"])
def test_kcf_and_csrt_follow_a_slow_translation(kind, square_video):
    frames, gt = square_video
    boxes = _track(make_opencv_tracker(kind), frames, gt[0])
    assert iou(boxes, gt).min() > 0.5


def test_boosting_survives_a_non_integer_box(square_video):
    # Legacy Boosting segfaults on a float rect; the adapter must round it.
    frames, gt = square_video
    tracker = make_opencv_tracker("boosting")
    tracker.init(frames[0], gt[0] + [0.4, 0.3, 0.6, 0.2])
    assert np.isfinite(tracker.update(frames[1])).all()


def test_init_can_be_called_again_for_a_new_video(square_video):
    frames, gt = square_video
    tracker = make_opencv_tracker("kcf")
    _track(tracker, frames, gt[0])
    boxes = _track(tracker, frames[5:], gt[5])
    assert iou(boxes, gt[5:]).min() > 0.5


class _SpyTracker:
    """Stands in for a cv2 tracker: records the images it is given and replays scripted update results."""

    def __init__(self, results=((True, (1.0, 2.0, 3.0, 4.0)),)):
        self.images, self.rects, self._results = [], [], list(results)

    def init(self, image, rect):
        self.images.append(image.copy())
        self.rects.append(rect)

    def update(self, image):
        self.images.append(image.copy())
        return self._results.pop(0)


def _with_spy(spy: _SpyTracker, kind: str = "csrt"):
    return mock.patch.dict("tracking_by_trackers.teachers.opencv_trackers._FACTORIES", {kind: lambda: spy})


def test_rgb_frames_reach_opencv_as_bgr(square_video):
    frames, gt = square_video
    spy, tracker = _SpyTracker(), make_opencv_tracker("csrt")
    with _with_spy(spy):
        tracker.init(frames[0], gt[0])
        box = tracker.update(frames[1])
    np.testing.assert_array_equal(spy.images[0], frames[0][..., ::-1])
    np.testing.assert_array_equal(spy.images[1], frames[1][..., ::-1])
    np.testing.assert_array_equal(box, [1.0, 2.0, 3.0, 4.0])
    assert tracker.last_ok


def test_opencv_gets_an_integer_rect_inside_the_image(square_video):
    frames, _ = square_video
    spy, tracker = _SpyTracker(), make_opencv_tracker("boosting")
    with _with_spy(spy, "boosting"):
        tracker.init(frames[0], [-3.6, 10.4, 20.5, 300.0])
    rect = spy.rects[0]
    assert all(isinstance(v, int) for v in rect)
    assert rect == (0, 10, 17, HEIGHT - 10)


def test_failure_keeps_the_last_good_box_and_recovers(square_video):
    frames, gt = square_video
    spy = _SpyTracker(
        [(True, (5.0, 6.0, 7.0, 8.0)), (False, (0.0, 0.0, 0.0, 0.0)), (True, (9.0, 9.0, 9.0, 9.0))]
    )
    tracker = make_opencv_tracker("mosse")
    with _with_spy(spy, "mosse"):
        tracker.init(frames[0], gt[0])
        first, lost, recovered = (tracker.update(frames[t]) for t in (1, 2, 3))
        assert tracker.last_ok
    np.testing.assert_array_equal(first, [5, 6, 7, 8])
    np.testing.assert_array_equal(lost, [5, 6, 7, 8])
    np.testing.assert_array_equal(recovered, [9, 9, 9, 9])


def test_failure_right_after_init_returns_the_initial_float_box(square_video):
    frames, gt = square_video
    spy, tracker = _SpyTracker([(False, (0, 0, 0, 0))]), make_opencv_tracker("kcf")
    init_box = gt[0] + 0.25
    with _with_spy(spy, "kcf"):
        tracker.init(frames[0], init_box)
        box = tracker.update(frames[1])
    assert not tracker.last_ok
    np.testing.assert_array_equal(box, init_box)


def test_unknown_kind_lists_the_valid_kinds():
    with pytest.raises(ValueError, match="unknown OpenCV tracker kind 'siamfc'.*kcf, csrt, mosse"):
        make_opencv_tracker("siamfc")


@pytest.mark.parametrize("bad_box", [[np.nan, 1, 10, 10], [1, 1, 0, 10], [1, 1, 10, -2], [1, 2, 3]])
def test_bad_initial_box_is_rejected(bad_box, square_video):
    frames, _ = square_video
    with pytest.raises(ValueError, match="initial box must be a finite"):
        make_opencv_tracker("kcf").init(frames[0], bad_box)


def test_update_before_init_is_an_error(square_video):
    frames, _ = square_video
    with pytest.raises(RuntimeError, match="call init"):
        make_opencv_tracker("kcf").update(frames[0])
