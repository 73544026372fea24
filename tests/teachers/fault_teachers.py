"""Teachers for the fault tests of the teacher pool, importable on every Ray worker (``tests.teachers.…``).

- :class:`HoldingTeacher`: the noisy ground truth, logging every run it starts, and holding one chosen
  video at a chosen frame until the test releases it, so that a test can kill its actor while it tracks.
- :func:`make_segfaulting_teacher`: a plug-in (``tests.teachers.fault_teachers:make_segfaulting_teacher``)
  whose ``update`` takes its process down with SIGSEGV, as a crash inside a C++ tracker does.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.sequence import Sequence
from tracking_by_trackers.teachers.scripted_teachers import NoisyGroundTruthTeacher

RUNS_LOG = "runs.log"
HOLDING = "holding"
RELEASE = "release"
SEGFAULT_AT_FRAME = 3


def runs(folder: Path) -> list[tuple[int, str, str]]:
    """Every run a :class:`HoldingTeacher` started in ``folder``: ``(pid, video, teacher)``, in order."""
    path = Path(folder) / RUNS_LOG
    lines = path.read_text().splitlines() if path.is_file() else []
    return [(int(pid), video, teacher) for pid, video, teacher in (line.split() for line in lines)]


class HoldingTeacher(NoisyGroundTruthTeacher):
    """:class:`NoisyGroundTruthTeacher` that appends ``pid video teacher`` to ``<folder>/runs.log`` at each
    ``init``, and on frame ``hold_frame`` of video ``hold_video`` writes its pid to ``<folder>/holding`` and
    waits until ``<folder>/release`` exists."""

    def __init__(self, folder: str, name: str, seed: int = 0, hold_video: str = "", hold_frame: int = 5):
        super().__init__(noise=0.1, seed=seed, name=name)
        self.folder = Path(folder)
        self.hold_video = hold_video
        self.hold_frame = hold_frame

    def prepare(self, sequence: Sequence) -> None:
        super().prepare(sequence)
        # One short O_APPEND write per run: lines from several actors never interleave.
        with open(self.folder / RUNS_LOG, "a") as log:
            log.write(f"{os.getpid()} {sequence.name} {self.name}\n")

    def update(self, image: np.ndarray) -> np.ndarray:
        box = super().update(image)
        if self._sequence.name == self.hold_video and self._frame == self.hold_frame:
            (self.folder / HOLDING).write_text(str(os.getpid()))
            while not (self.folder / RELEASE).exists():
                time.sleep(0.05)
        return box


class _SegfaultingTracker:
    """Follows its initial box, then dies of SIGSEGV on frame :data:`SEGFAULT_AT_FRAME`."""

    def init(self, image: np.ndarray, box) -> None:
        self.box = np.asarray(box, dtype=np.float64)
        self.frame = 0

    def update(self, image: np.ndarray) -> np.ndarray:
        self.frame += 1
        if self.frame == SEGFAULT_AT_FRAME:
            os.kill(os.getpid(), signal.SIGSEGV)
        return self.box


def make_segfaulting_teacher() -> _SegfaultingTracker:
    """The plug-in's factory (``<module>:<callable>``, as a lab's own tracker is named)."""
    return _SegfaultingTracker()
