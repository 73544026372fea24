"""Running the teachers of TRAST and TRASFUST beside the student: in threads, in Ray actors, or inline.

Teachers and student can run in parallel, so TRAST and TRASFUST can run at the speed of their slowest member
plus a small overhead (docs/method.md, *TRAST*). The student judges frame t from the boxes of frame t−1, so
frame t's teacher updates need nothing from it: a runner starts them (:meth:`submit_update`), the student's
forward pass runs, and the tracker then collects the teachers' boxes (:meth:`PendingUpdates.result`).

Three runners share one interface:

- :class:`ThreadTeacherRunner` (the default): one worker thread per teacher in this process. OpenCV's
  trackers and torch both release the GIL in their native code, so the updates run beside the forward
  pass, and a frame is handed over by reference: nothing is copied or serialised.
- :class:`RayTeacherRunner`: one Ray actor per teacher. Each frame is put into the object store once and
  every actor reads it from there, but each call still pays for a round trip between processes.
- :class:`InlineTeacherRunner`: the updates run one after the other in the calling thread, before the
  forward pass: the sequential baseline.

Why threads by default: with the small student on a CPU, threads beat Ray actors in every configuration
``experiments/benchmarks/bench_trackers.py`` measures, because the per-frame round trip to the actors costs
more than the overlap saves. Against inline updates threads are about even for TRAST and ahead for TRASFUST;
they gain most where the student's forward pass and the teachers cost about the same (a GPU student, a DNN
teacher) and a core is free to overlap them. Ray actors are for teachers that need a process or a device of
their own (a DNN teacher on a second GPU, a teacher that may crash its process).

Teachers are :class:`tracking_by_trackers.teachers.tracker.Tracker` objects. Whatever a teacher does wrong (raises, returns
NaN or a zero-size box, or sets ``last_ok`` False, as the OpenCV adapters do on low confidence) comes back
as a failed :class:`TeacherOutcome`, never as an exception: the tracker ignores that teacher on that frame.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from tracking_by_trackers.envs.boxes import is_valid
from tracking_by_trackers.teachers.tracker import Tracker

__all__ = [
    "RUNNER_KINDS",
    "InlineTeacherRunner",
    "PendingUpdates",
    "RayTeacherRunner",
    "TeacherOutcome",
    "ThreadTeacherRunner",
    "make_teacher_runner",
]

logger = logging.getLogger(__name__)

RUNNER_KINDS = ("threads", "ray", "inline")
"""The kinds :func:`make_teacher_runner` accepts; ``"threads"`` is the default (see the module docstring)."""


@dataclass(frozen=True)
class TeacherOutcome:
    """What one teacher did with one ``init`` or ``update`` call.

    Attributes:
        box: The teacher's ``[x, y, w, h]``, or None when it failed (raised, returned something that is
            not a valid box, or reported ``last_ok`` False).
        seconds: Time spent in the call.
        error: Why it failed, for the log; empty when it did not.
    """

    box: np.ndarray | None
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.box is not None


def run_init(teacher: Tracker, image: np.ndarray, box: np.ndarray) -> TeacherOutcome:
    """``teacher.init(image, box)``, with any exception turned into a failed outcome."""
    start = time.perf_counter()
    try:
        teacher.init(image, box)
    except Exception as error:  # a teacher that cannot start is left out, not a reason to stop tracking
        return TeacherOutcome(None, time.perf_counter() - start, f"init raised {error!r}")
    return TeacherOutcome(np.asarray(box, dtype=np.float64).copy(), time.perf_counter() - start)


def run_update(teacher: Tracker, image: np.ndarray) -> TeacherOutcome:
    """``teacher.update(image)``, failed when it raises, gives no valid box or reports ``last_ok`` False."""
    start = time.perf_counter()
    try:
        box = np.asarray(teacher.update(image), dtype=np.float64).reshape(4)
    except Exception as error:  # one failed frame: the caller keeps the teacher's last good box
        return TeacherOutcome(None, time.perf_counter() - start, f"update raised {error!r}")
    seconds = time.perf_counter() - start
    if not is_valid(box):
        return TeacherOutcome(None, seconds, f"update returned the invalid box {box.tolist()}")
    if not teacher.last_ok:
        return TeacherOutcome(None, seconds, "update reported failure (last_ok is False)")
    return TeacherOutcome(box, seconds)


class _Done:
    """An outcome that is already there, behind the ``result()`` of a future."""

    def __init__(self, outcome: TeacherOutcome):
        self._outcome = outcome

    def result(self) -> TeacherOutcome:
        return self._outcome


class PendingUpdates:
    """The updates of one frame, started and not yet collected.

    Args:
        futures: One object per submitted teacher whose ``result()`` waits for its :class:`TeacherOutcome`.
    """

    def __init__(self, futures: list):
        self._futures = futures

    def result(self) -> list[TeacherOutcome]:
        """Wait for every update; outcomes in the order the teachers were submitted."""
        return [future.result() for future in self._futures]


class InlineTeacherRunner:
    """Teachers updated one after the other in the calling thread (the sequential baseline).

    Args:
        teachers: The teachers, :class:`~tracking_by_trackers.teachers.tracker.Tracker` objects.
    """

    def __init__(self, teachers: list[Tracker]):
        self.teachers = list(teachers)

    def prepare(self, sequence) -> None:
        """Forward ``prepare(sequence)`` to every teacher (those that replay stored results read it)."""
        for teacher in self.teachers:
            teacher.prepare(sequence)

    def init(self, image: np.ndarray, box: np.ndarray) -> list[TeacherOutcome]:
        return [run_init(teacher, image, box) for teacher in self.teachers]

    def submit_update(self, image: np.ndarray, indices: list[int]) -> PendingUpdates:
        return PendingUpdates([_Done(run_update(self.teachers[i], image)) for i in indices])

    def close(self) -> None:
        pass


class ThreadTeacherRunner(InlineTeacherRunner):
    """One worker thread per teacher; updates run while the caller runs the student (the default)."""

    def __init__(self, teachers: list[Tracker]):
        super().__init__(teachers)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.teachers)), thread_name_prefix="teacher")

    def init(self, image: np.ndarray, box: np.ndarray) -> list[TeacherOutcome]:
        # Initialisations may be slow (DNN teachers): run them at once too.
        futures = [self._pool.submit(run_init, teacher, image, box) for teacher in self.teachers]
        return [future.result() for future in futures]

    def submit_update(self, image: np.ndarray, indices: list[int]) -> PendingUpdates:
        return PendingUpdates([self._pool.submit(run_update, self.teachers[i], image) for i in indices])

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class _TeacherHost:
    """The body of a teacher's Ray actor: holds one teacher and runs its calls."""

    def __init__(self, teacher: Tracker):
        import cv2

        # One thread per actor: its own OpenCV thread pool would compete with the student's.
        cv2.setNumThreads(1)
        self.teacher = teacher

    def prepare(self, sequence) -> None:
        self.teacher.prepare(sequence)

    def init(self, image: np.ndarray, box: np.ndarray) -> TeacherOutcome:
        return run_init(self.teacher, image, box)

    def update(self, image: np.ndarray) -> TeacherOutcome:
        return run_update(self.teacher, image)


class _RayFuture:
    """A Ray object reference behind the ``result()`` of a future."""

    def __init__(self, ref):
        self._ref = ref

    def result(self) -> TeacherOutcome:
        import ray

        return ray.get(self._ref)


class RayTeacherRunner(InlineTeacherRunner):
    """One Ray actor per teacher; the teacher objects are shipped to their actors.

    Ray must be running (:func:`tracking_by_trackers.cluster.ray_runtime.init_ray`). A teacher that kills its actor surfaces
    as an error: actors are for teachers that need their own process or device, see the module docstring.

    Args:
        teachers: Picklable :class:`~tracking_by_trackers.teachers.tracker.Tracker` objects.
        actor_options: Passed to ``ray.remote(...).options`` (``num_cpus``, ``num_gpus``, …); by default an
            actor reserves no CPU, so that a tracker inside a Ray task can start its teachers' actors.
    """

    def __init__(self, teachers: list[Tracker], actor_options: dict | None = None):
        import ray

        if not ray.is_initialized():
            raise RuntimeError(
                "the 'ray' teacher runner needs Ray running: call tracking_by_trackers.cluster.ray_runtime.init_ray()"
            )
        super().__init__(teachers)
        options = {"num_cpus": 0, **(actor_options or {})}
        host = ray.remote(_TeacherHost).options(**options)
        self._actors = [host.remote(teacher) for teacher in self.teachers]

    def prepare(self, sequence) -> None:
        import ray

        ray.get([actor.prepare.remote(sequence) for actor in self._actors])

    def init(self, image: np.ndarray, box: np.ndarray) -> list[TeacherOutcome]:
        import ray

        image_ref = ray.put(image)
        return ray.get([actor.init.remote(image_ref, box) for actor in self._actors])

    def submit_update(self, image: np.ndarray, indices: list[int]) -> PendingUpdates:
        import ray

        image_ref = ray.put(image)  # once per frame, read by every actor from the object store
        return PendingUpdates([_RayFuture(self._actors[i].update.remote(image_ref)) for i in indices])

    def close(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []


def make_teacher_runner(teachers: list[Tracker], kind: str = "threads") -> InlineTeacherRunner:
    """A runner of ``kind`` (one of :data:`RUNNER_KINDS`) for the teacher objects ``teachers``."""
    runners = {"threads": ThreadTeacherRunner, "ray": RayTeacherRunner, "inline": InlineTeacherRunner}
    if kind not in runners:
        raise ValueError(f"unknown teacher runner {kind!r}; valid runners: {', '.join(RUNNER_KINDS)}")
    return runners[kind](teachers)
