"""TRAS: the student tracking alone (docs/method.md, *TRAS*).

Each frame: ``s_t = ρ(F_{t-1}, F_t, b_{t-1})``, one forward pass, ``b_t = ψ(clamp(μ(s_t)), b_{t-1})``
clipped to the image. The value head is not used.
"""

from __future__ import annotations

import numpy as np

from tracking_by_trackers.policies.trackers.student_tracker import STUDENT, StudentTracker

__all__ = ["TRAS"]


class TRAS(StudentTracker):
    """The student alone: one forward pass per frame, its own LSTM stream.

    Args:
        student: The network, an exported student file or a training checkpoint folder.
        name: The name results are stored under; ``tras`` by default.
        **options: ``device``, ``context``, ``reset_interval``: see
            :class:`~tracking_by_trackers.policies.trackers.student_tracker.StudentTracker`.
    """

    mode = "tras"

    def __init__(self, student, *, name: str | None = None, **options):
        super().__init__(student, name=name or self.mode, **options)
        self._stream = None

    def init(self, image, box) -> None:
        self.start(image, box)
        self._stream = self.new_stream()

    def update(self, image) -> np.ndarray:
        frame = self.next_frame(image)
        mu, _ = self.evaluate_states(frame, self._box[None], [self._stream])
        return self.finish(frame, self.student_box(mu[0], frame), STUDENT)
