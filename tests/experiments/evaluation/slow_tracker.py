"""A slow, deterministic plug-in tracker for the kill tests of ``tbt evaluate``
(``tests.experiments.evaluation.slow_tracker:SlowTracker``).

It waits on every frame instead of computing, so that a (tracker, sequence) job lasts long enough for a
test to kill the evaluation mid-way without taking the machine's cores from the other jobs.
"""

from __future__ import annotations

import time

import numpy as np

SECONDS_PER_FRAME = 0.1


class SlowTracker:
    """Its initial box, moved one pixel right per frame, after :data:`SECONDS_PER_FRAME` per frame."""

    def init(self, image: np.ndarray, box) -> None:
        self.box = np.asarray(box, dtype=np.float64).copy()

    def update(self, image: np.ndarray) -> np.ndarray:
        time.sleep(SECONDS_PER_FRAME)
        self.box[0] += 1.0
        return self.box.copy()
