"""TRASFUST: the student's critic fusing a pool of teachers (docs/method.md, *TRASFUST*; the paper's eq. 8).

Every teacher runs; each frame t, while the teachers update on ``F_t``, every started teacher's state
``ρ(F_{t-1}, F_t, b^(T)_{t-1})`` (its own previous box, its own LSTM stream) goes through the student in
ONE batched forward pass. Only the value head is used: the output is the new box of the teacher with the
highest value, ``argmax_T v^(T)_t`` (a tie goes to the teacher listed first).

A teacher that fails its update is ignored on that frame (see :mod:`tracking_by_trackers.policies.trackers.teacher_members`).
When EVERY teacher fails on a frame (or none initialised), there is no teacher box to pick; TRASFUST then
takes one TRAS step instead, ``ψ(clamp(μ), b_{t-1})`` from its own previous output, in a second, one-row
forward pass with an LSTM stream of the student's own. Moving with the student beats freezing the box:
the target keeps moving while the teachers are down, and the student is what was trained to follow it.
Such frames are recorded as chosen by ``"student"``.
"""

from __future__ import annotations

import numpy as np

from tracking_by_trackers.policies.trackers.student_tracker import STUDENT
from tracking_by_trackers.policies.trackers.teacher_members import TeacherAssistedTracker
from tracking_by_trackers.teachers.tracker import Tracker

__all__ = ["TRASFUST"]


class TRASFUST(TeacherAssistedTracker):
    """A pool of teachers; per frame, the box of the teacher the student's critic values most.

    Args:
        student: The network, an exported student file or a training checkpoint folder.
        teachers: Fresh teachers (:class:`~tracking_by_trackers.teachers.tracker.Tracker` objects), at least one, with distinct
            names.
        name: The name results are stored under; ``trasfust-<t1>+<t2>+…`` by default.
        runner: ``"threads"`` (default), ``"ray"`` or ``"inline"``: how the teachers run beside the student.
        **options: ``device``, ``context``, ``reset_interval``: see
            :class:`~tracking_by_trackers.policies.trackers.student_tracker.StudentTracker`.
    """

    mode = "trasfust"

    def __init__(
        self, student, teachers: list[Tracker], *, name: str | None = None, runner: str = "threads", **options
    ):
        super().__init__(student, teachers, name=name, runner=runner, **options)
        self._student_stream = None

    def init(self, image, box) -> None:
        frame = self.start(image, box)
        self._student_stream = self.new_stream()
        self.start_teachers(frame)

    def update(self, image) -> np.ndarray:
        frame = self.next_frame(image)
        started, pending = self.start_teacher_updates(frame)
        values = np.empty(0)
        if started:
            boxes = np.stack([member.box for member in started])
            _, values = self.evaluate_states(frame, boxes, [member.stream for member in started])
        teacher_boxes = self.collect_teacher_updates(started, pending)
        usable = [index for index, box in enumerate(teacher_boxes) if box is not None]
        if usable:
            best = max(usable, key=lambda index: (values[index], -index))
            return self.finish(frame, self.clipped(teacher_boxes[best], frame), started[best].name)
        mu, _ = self.evaluate_states(frame, self._box[None], [self._student_stream])
        return self.finish(frame, self.student_box(mu[0], frame), STUDENT)
