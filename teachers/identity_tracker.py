"""The identity tracker: it never moves its box. The floor every tracker must beat, and a test double."""

from __future__ import annotations

import numpy as np

from tracking_by_trackers.teachers.tracker import BaseTracker


class IdentityTracker(BaseTracker):
    """Returns the initial box on every frame (the GOT-10k toolkit's three-line baseline)."""

    name = "identity"

    def init(self, image: np.ndarray, box) -> None:
        self.box = np.asarray(box, dtype=np.float64).copy()

    def update(self, image: np.ndarray) -> np.ndarray:
        return self.box.copy()
