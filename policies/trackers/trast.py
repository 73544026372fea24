"""TRAST: the student with one teacher running beside it (docs/method.md, *TRAST*).

Each frame t, in one batched forward pass:

- the student's state ``s_t = ρ(F_{t-1}, F_t, b_{t-1})`` (``b_{t-1}`` the tracker's last OUTPUT) with the
  student's LSTM stream gives ``μ`` and ``v_t``;
- the teacher's state ``ρ(F_{t-1}, F_t, b^(T)_{t-1})`` (the teacher's own previous box) with the teacher's
  LSTM stream gives ``v^(T)_t``;

while the teacher updates on ``F_t`` beside it. The output is the student's box ``ψ(clamp(μ), b_{t-1})``
if ``v_t ≥ v^(T)_t`` (a tie keeps the student), else the teacher's new box ``b^(T)_t``; it becomes the
student's next ``b_{t-1}``, so a hand-over corrects the student. The teacher is never re-initialised on
the output: it keeps tracking on its own.

When the teacher fails an update, the student's box is output on that frame; when it fails to initialise,
TRAST is TRAS for the whole video (see :mod:`tracking_by_trackers.policies.trackers.teacher_members`).
"""

from __future__ import annotations

import numpy as np

from tracking_by_trackers.policies.trackers.student_tracker import STUDENT
from tracking_by_trackers.policies.trackers.teacher_members import TeacherAssistedTracker
from tracking_by_trackers.teachers.tracker import Tracker

__all__ = ["TRAST"]


class TRAST(TeacherAssistedTracker):
    """The student and one teacher; the critic decides, frame by frame, whose box to output.

    Args:
        student: The network, an exported student file or a training checkpoint folder.
        teacher: A fresh teacher, a :class:`~tracking_by_trackers.teachers.tracker.Tracker`.
        name: The name results are stored under; ``trast-<teacher>`` by default.
        runner: ``"threads"`` (default), ``"ray"`` or ``"inline"``: how the teacher runs beside the student.
        **options: ``device``, ``context``, ``reset_interval``: see
            :class:`~tracking_by_trackers.policies.trackers.student_tracker.StudentTracker`.
    """

    mode = "trast"

    def __init__(
        self, student, teacher: Tracker, *, name: str | None = None, runner: str = "threads", **options
    ):
        super().__init__(student, [teacher], name=name, runner=runner, **options)
        self._stream = None

    def init(self, image, box) -> None:
        frame = self.start(image, box)
        self._stream = self.new_stream()
        self.start_teachers(frame)

    def update(self, image) -> np.ndarray:
        frame = self.next_frame(image)
        started, pending = self.start_teacher_updates(frame)
        boxes = [self._box, *(member.box for member in started)]
        streams = [self._stream, *(member.stream for member in started)]
        mu, values = self.evaluate_states(frame, np.stack(boxes), streams)
        teacher_boxes = self.collect_teacher_updates(started, pending)
        if started and teacher_boxes[0] is not None and values[1] > values[0]:
            return self.finish(frame, self.clipped(teacher_boxes[0], frame), started[0].name)
        return self.finish(frame, self.student_box(mu[0], frame), STUDENT)
