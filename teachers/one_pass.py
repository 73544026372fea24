"""One pass of a tracker over a sequence: initialise on frame 0, never re-initialise.

This one loop serves both one-pass evaluation (OPE) and the teacher runs that build the transfer set, so
that a teacher's boxes in training and its scores in a report come from the same code.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from tracking_by_trackers.envs.boxes import is_valid
from tracking_by_trackers.envs.sequence import Sequence, read_frame
from tracking_by_trackers.teachers.tracker import Tracker, check_tracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackingResult:
    """What a tracker produced on one sequence.

    Attributes:
        boxes: ``(N, 4)`` ``[x, y, w, h]`` as the tracker returned them; frame 0 is the initial box; NaN
            where the tracker raised or returned something that is not 4 numbers (scored as IoU 0).
        times: ``(N,)`` seconds spent in ``init`` (frame 0) and each ``update``, frame reading excluded.
        ok: ``(N,)`` bool, False where the frame failed: the tracker raised, returned a NaN or zero-size
            box, or reported failure itself through ``last_ok`` (OpenCV's low confidence).
    """

    boxes: np.ndarray
    times: np.ndarray
    ok: np.ndarray

    def last_good_boxes(self) -> np.ndarray:
        """Boxes with every failed frame replaced by the box of the last frame that was ok.

        Frame 0 is the initial box and always counts as good, so every frame gets a box.
        """
        good_index = np.where(self.ok, np.arange(len(self.ok)), 0)
        return self.boxes[np.maximum.accumulate(good_index)]


def track_sequence(tracker: Tracker, sequence: Sequence) -> TrackingResult:
    """Run ``tracker`` over ``sequence`` in one pass: ``prepare(sequence)``, ``init`` on frame 0, then ``update``.

    ``prepare`` lets the trackers that must know the video (stored results, scripted test teachers) read
    it. A tracker that raises on a frame is logged, the frame is marked failed, and tracking goes on: one
    bad frame must not cost the whole run. A tracker whose ``prepare`` or ``init`` raises fails every frame.
    Bad input is not the tracker's failure: a frame that cannot be read, or whose size differs from frame
    0's, raises (callers skip the video or stop, never store a result made of it).

    Raises:
        TypeError: ``tracker`` does not follow :class:`tracking_by_trackers.teachers.tracker.Tracker`.
        DatasetError: A frame is missing, unreadable or of another size; the message names the sequence,
            the frame and the file.
    """
    count = len(sequence)
    boxes = np.full((count, 4), np.nan)
    times = np.zeros(count)
    ok = np.zeros(count, dtype=bool)
    name = check_tracker(tracker, "tracker given to track_sequence").name
    boxes[0] = sequence.init_box
    where = f"sequence {sequence.benchmark}/{sequence.name}"
    first = read_frame(sequence.frames, 0, where)
    start = time.perf_counter()
    try:
        tracker.prepare(sequence)
        tracker.init(first, sequence.init_box)
    except Exception as error:  # a broken tracker is a result to record, not a reason to stop
        logger.warning("%s failed to initialise on %s: %s", name, sequence.name, error)
        return TrackingResult(boxes, times, ok)
    times[0] = time.perf_counter() - start
    ok[0] = True
    for index in range(1, count):
        frame = read_frame(sequence.frames, index, where, first.shape[:2])
        start = time.perf_counter()
        try:
            box = np.asarray(tracker.update(frame), dtype=np.float64).reshape(4)
            ok[index] = bool(is_valid(box)) and bool(tracker.last_ok)
        except Exception as error:
            logger.warning("%s failed on frame %d of %s: %s", name, index, sequence.name, error)
            box = np.full(4, np.nan)
        times[index] = time.perf_counter() - start
        boxes[index] = box
    return TrackingResult(boxes, times, ok)
