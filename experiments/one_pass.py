"""One-pass evaluation (OPE) of a tracker on a sequence: initialise on frame 0, never re-initialise."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from envs.sequence import Sequence

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackingResult:
    """What a tracker produced on one sequence.

    Attributes:
        boxes: ``(N, 4)`` ``[x, y, w, h]``; frame 0 is the initial box; NaN where the tracker raised or
            returned something that is not a box (scored as a failure, IoU 0).
        times: ``(N,)`` seconds spent in ``init`` (frame 0) and each ``update``, frame reading excluded.
    """

    boxes: np.ndarray
    times: np.ndarray


def track_sequence(tracker, sequence: Sequence) -> TrackingResult:
    """Run ``tracker`` (``init``/``update``, RGB frames) over ``sequence`` in one pass.

    A tracker that raises on a frame is logged and given a NaN box there, and tracking goes on: one bad
    frame must not cost the whole evaluation. A tracker whose ``init`` raises gets NaN on every frame.
    """
    count = len(sequence)
    boxes = np.full((count, 4), np.nan)
    times = np.zeros(count)
    name = getattr(tracker, "name", type(tracker).__name__)
    boxes[0] = sequence.init_box
    start = time.perf_counter()
    try:
        tracker.init(sequence.frames[0], sequence.init_box)
    except Exception as error:  # a broken tracker is a result to report, not a reason to stop
        logger.warning("%s failed to initialise on %s: %s", name, sequence.name, error)
        return TrackingResult(boxes, times)
    times[0] = time.perf_counter() - start
    for index in range(1, count):
        frame = sequence.frames[index]
        start = time.perf_counter()
        try:
            box = np.asarray(tracker.update(frame), dtype=np.float64).reshape(4)
        except Exception as error:
            logger.warning("%s failed on frame %d of %s: %s", name, index, sequence.name, error)
            box = np.full(4, np.nan)
        times[index] = time.perf_counter() - start
        boxes[index] = box
    return TrackingResult(boxes, times)
