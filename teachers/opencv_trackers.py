"""OpenCV's classic trackers as teachers, behind the GOT-10k toolkit's tracker interface.

``init(image, box)`` then ``update(image) -> box``, with RGB ``uint8`` images (the project's one image
convention) converted to BGR here, at OpenCV's edge, and float ``[x, y, w, h]`` boxes.

Choices made so that a teacher keeps tracking instead of dying:

- KCF is the non-legacy ``cv2.TrackerKCF`` with ``detect_thresh = 0``: the legacy one reports failure as soon
  as its confidence dips and then never updates again, so it would freeze for the rest of the video.
- When OpenCV reports failure (or raises), :meth:`OpenCVTracker.update` returns the last good box (never NaN)
  and sets :attr:`OpenCVTracker.last_ok` to False; the underlying tracker keeps running, so it can recover
  on a later frame. Low confidence is recorded, not acted on.
- OpenCV is initialised with an integer rectangle (rounded, at least 1 px, and clipped to the image): legacy
  Boosting segfaults on a non-integer box, which would kill the whole process. The box returned before the
  first update is the caller's float box.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from tracking_by_trackers.teachers.tracker import BaseTracker


def _kcf_without_detection_threshold():
    params = cv2.TrackerKCF_Params()
    # 0 instead of 0.5: never report failure on a low peak, so KCF keeps updating (see the module docstring).
    params.detect_thresh = 0.0
    return cv2.TrackerKCF.create(params)


# Each factory builds a fresh cv2 tracker: OpenCV trackers cannot be re-initialised cleanly.
_FACTORIES: dict[str, Callable[[], object]] = {
    "kcf": _kcf_without_detection_threshold,
    "csrt": cv2.TrackerCSRT.create,
    "mosse": cv2.legacy.TrackerMOSSE_create,
    "medianflow": cv2.legacy.TrackerMedianFlow_create,
    "mil": cv2.TrackerMIL.create,
    "tld": cv2.legacy.TrackerTLD_create,
    "boosting": cv2.legacy.TrackerBoosting_create,
}

OPENCV_TRACKER_KINDS: tuple[str, ...] = tuple(_FACTORIES)
"""The kinds :func:`make_opencv_tracker` accepts."""


def _check_kind(kind: str) -> str:
    if kind not in _FACTORIES:
        raise ValueError(
            f"unknown OpenCV tracker kind {kind!r}; valid kinds: {', '.join(OPENCV_TRACKER_KINDS)}"
        )
    return kind


def _to_bgr(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(
            f"expected an RGB uint8 image (H, W, 3) or a grey (H, W) one, got {image.shape} {image.dtype}"
        )
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def _integer_rect(box: np.ndarray, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box as the integer rectangle OpenCV wants, clipped to the image and at least 1 px wide and high."""
    height, width = image_hw
    x1 = int(np.clip(np.round(box[0]), 0, width - 1))
    y1 = int(np.clip(np.round(box[1]), 0, height - 1))
    x2 = int(np.clip(np.round(box[0] + box[2]), x1 + 1, width))
    y2 = int(np.clip(np.round(box[1] + box[3]), y1 + 1, height))
    return x1, y1, x2 - x1, y2 - y1


class OpenCVTracker(BaseTracker):
    """One OpenCV tracker with the GOT-10k toolkit's ``init`` / ``update`` interface.

    Attributes:
        name: The name results are stored under (the kind unless given).
        kind: One of :data:`OPENCV_TRACKER_KINDS`.
        last_ok: Whether OpenCV reported success on the last :meth:`update` (True right after :meth:`init`).
    """

    def __init__(self, kind: str, name: str | None = None):
        self.kind = self._checked_kind(kind)
        self.name = name or kind
        self.last_ok = False
        self._tracker = None
        self._box: np.ndarray | None = None

    def _checked_kind(self, kind: str) -> str:
        return _check_kind(kind)

    def _new_cv2_tracker(self):
        return _FACTORIES[self.kind]()

    def init(self, image: np.ndarray, box) -> None:
        """Start tracking ``box`` (float ``[x, y, w, h]``) in the RGB ``image``; call again for each video."""
        box = np.asarray(box, dtype=np.float64).reshape(-1)
        if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
            raise ValueError(
                f"{self.name}: the initial box must be a finite [x, y, w, h] with positive width and height, "
                f"got {box.tolist()}"
            )
        bgr = _to_bgr(image)
        rect = _integer_rect(box, bgr.shape[:2])
        # A new cv2 object every time: a re-initialised OpenCV tracker may keep state from the last video.
        self._tracker = self._new_cv2_tracker()
        # Legacy trackers return a bool, the others None; only an explicit False means failure.
        if self._tracker.init(bgr, rect) is False:
            raise RuntimeError(f"{self.name}: OpenCV refused to initialise on box {rect}")
        self._box = box.copy()
        self.last_ok = True

    def update(self, image: np.ndarray) -> np.ndarray:
        """Track into the next RGB ``image``; the new box, or the last good one if OpenCV lost the target."""
        if self._tracker is None:
            raise RuntimeError(f"{self.name}: call init(image, box) before update(image)")
        bgr = _to_bgr(image)
        try:
            ok, rect = self._tracker.update(bgr)
        except cv2.error:
            # Some trackers (MIL, TLD) raise on degenerate internal states; count it as one failed frame.
            ok, rect = False, None
        new_box = np.asarray(rect, dtype=np.float64) if ok else None
        self.last_ok = bool(ok and np.isfinite(new_box).all() and new_box[2] > 0 and new_box[3] > 0)
        if self.last_ok:
            self._box = new_box
        return self._box.copy()


def make_opencv_tracker(kind: str) -> OpenCVTracker:
    """A fresh, uninitialised OpenCV tracker of ``kind`` (one of :data:`OPENCV_TRACKER_KINDS`)."""
    return OpenCVTracker(kind)
