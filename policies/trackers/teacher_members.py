"""The teachers of TRAST and TRASFUST as members of the tracker: each one's last good box and LSTM stream.

docs/method.md, *TRAST* and *TRASFUST*: a teacher's state is ρ(F_{t-1}, F_t, b^(T)_{t-1}), built from the
teacher's OWN previous box (not the tracker's output) and judged with an LSTM state of its own. A teacher
that fails to initialise or update is ignored for that frame in the authors' code; here that means:

- a teacher whose ``init`` fails is left out of the whole video (it has no box to build a state from);
- a teacher that fails an update (see :mod:`tracking_by_trackers.policies.trackers.teacher_runner` for what counts) cannot be
  chosen on that frame, and keeps its last good box, from which its next state is cropped. Its state for
  the failed frame was already judged (the forward pass runs while the teacher updates), so its LSTM
  stream advances as usual.

:class:`TeacherAssistedTracker` is the base of TRAST and TRASFUST; they differ only in how they choose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tracking_by_trackers.policies.trackers.lstm_stream import LSTMStream
from tracking_by_trackers.policies.trackers.student_tracker import INIT_CHOICE, STUDENT, StudentTracker
from tracking_by_trackers.policies.trackers.teacher_runner import PendingUpdates, make_teacher_runner
from tracking_by_trackers.teachers.tracker import Tracker, check_tracker

__all__ = ["TeacherAssistedTracker", "TeacherMember"]

logger = logging.getLogger(__name__)


@dataclass
class TeacherMember:
    """One teacher as the tracker sees it during a video.

    Attributes:
        name: The teacher's name (recorded in the tracker's ``choices`` when its box is output).
        index: Its position in the runner.
        box: Its last good box ``b^(T)``, or None when it failed to initialise on this video.
        stream: Its LSTM stream (None when it failed to initialise).
        failed_frames: Updates it failed on this video.
    """

    name: str
    index: int
    box: np.ndarray | None
    stream: LSTMStream | None
    failed_frames: int = 0

    @property
    def started(self) -> bool:
        """Whether the teacher initialised on this video (only those take part)."""
        return self.box is not None


class TeacherAssistedTracker(StudentTracker):
    """The student with teachers running beside it (base of TRAST and TRASFUST).

    Args:
        student: The network, an exported student file or a training checkpoint folder.
        teachers: Fresh :class:`~tracking_by_trackers.teachers.tracker.Tracker` objects, one set per tracker: teachers keep
            state.
        name: The name results are stored under; ``<mode>-<t1>+<t2>+…`` by default.
        runner: How teachers run beside the student: ``"threads"`` (default), ``"ray"`` or ``"inline"``
            (see :mod:`tracking_by_trackers.policies.trackers.teacher_runner`).
        **options: ``device``, ``context``, ``reset_interval``: see :class:`StudentTracker`.

    Raises:
        ValueError: No teacher, two teachers with one name, or a teacher named ``student`` or ``init``.
        TypeError: A teacher that is not a :class:`~tracking_by_trackers.teachers.tracker.Tracker`.
    """

    def __init__(
        self, student, teachers: list[Tracker], *, name: str | None = None, runner: str = "threads", **options
    ):
        teachers = [check_tracker(teacher, f"teacher of {self.mode}") for teacher in teachers]
        if not teachers:
            raise ValueError(f"{name or self.mode}: give at least one teacher")
        names = [teacher.name for teacher in teachers]
        name = name or f"{self.mode}-{'+'.join(names)}"
        reserved = {STUDENT, INIT_CHOICE} & set(names)
        if len(set(names)) != len(names) or reserved:
            raise ValueError(
                f"{name}: teacher names must be unique and not {STUDENT!r} or {INIT_CHOICE!r}, got {names}"
            )
        super().__init__(student, name=name, **options)
        self._runner = make_teacher_runner(teachers, runner)
        self.teacher_names: list[str] = names
        self.members: list[TeacherMember] = []

    @property
    def member_names(self) -> list[str]:
        """Every name :attr:`choices` may hold after frame 0: the student, then the teachers."""
        return [STUDENT, *self.teacher_names]

    def prepare(self, sequence) -> None:
        """Let teachers that read the video first (stored results, scripted teachers) see it."""
        self._runner.prepare(sequence)

    def start_teachers(self, frame: np.ndarray) -> None:
        """Initialise every teacher on frame 0 and ``b_0``; those that fail sit this video out."""
        self.members = []
        outcomes = self._runner.init(frame, self._box)
        for index, (name, outcome) in enumerate(zip(self.teacher_names, outcomes, strict=True)):
            if not outcome.ok:
                logger.warning(
                    "%s: teacher %s failed to initialise (%s); ignored on this video",
                    self.name,
                    name,
                    outcome.error,
                )
            self.members.append(
                TeacherMember(name, index, outcome.box, self.new_stream() if outcome.ok else None)
            )

    def start_teacher_updates(self, frame: np.ndarray) -> tuple[list[TeacherMember], PendingUpdates]:
        """Start frame t's updates of the started teachers; they run while the caller runs the student."""
        started = [member for member in self.members if member.started]
        return started, self._runner.submit_update(frame, [member.index for member in started])

    def collect_teacher_updates(
        self, started: list[TeacherMember], pending: PendingUpdates
    ) -> list[np.ndarray | None]:
        """Wait for frame t's updates; each member's new box, or None where it failed (its box is kept)."""
        boxes: list[np.ndarray | None] = []
        for member, outcome in zip(started, pending.result(), strict=True):
            if outcome.ok:
                member.box = outcome.box
            else:
                member.failed_frames += 1
                # Debug only: weak teachers fail on most frames of most videos (MOSSE, legacy KCF).
                logger.debug(
                    "%s: teacher %s failed on frame %d (%s); ignored there",
                    self.name,
                    member.name,
                    len(self.choices),
                    outcome.error,
                )
            boxes.append(outcome.box)
        return boxes

    def close(self) -> None:
        """Stop the teachers' threads or actors; the tracker cannot be used afterwards."""
        self._runner.close()
