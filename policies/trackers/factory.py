"""Student tracker specs → factories of fresh trackers, for command lines, configs and Ray workers.

A spec names one of the three trackers and its teachers, which are named like every other tracker
(:mod:`tracking_by_trackers.teachers.registry`):

- ``tras``: the student alone;
- ``trast:<teacher>``: the student with one teacher, e.g. ``trast:csrt`` or ``trast:results:ECO``;
- ``trasfust:<t1>+<t2>+…``: the student fusing teachers, e.g. ``trasfust:kcf+csrt+mosse``.

The tracker is stored under ``tras``, ``trast-<teacher>`` or ``trasfust-<t1>+<t2>+…`` (no ':' so that the
name is a plain folder name in the results layout).

Factories are picklable (``functools.partial`` of an importable function) so Ray can ship them. They carry
the student network itself, loaded once here: a wrong path fails now, with its message, instead of on
every worker, and workers of a cluster need no shared file system. Put a factory in Ray's object store
once (``ray.put``) rather than passing it to every task, so the weights are serialised once.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers.student_tracker import as_network
from tracking_by_trackers.policies.trackers.teacher_runner import RUNNER_KINDS
from tracking_by_trackers.policies.trackers.tras import TRAS
from tracking_by_trackers.policies.trackers.trasfust import TRASFUST
from tracking_by_trackers.policies.trackers.trast import TRAST
from tracking_by_trackers.teachers.registry import RESULTS_PREFIX, tracker_factory
from tracking_by_trackers.teachers.tracker import FusingTracker, TrackerFactory

__all__ = [
    "STUDENT_MODES",
    "is_student_tracker_spec",
    "make_student_tracker",
    "replaying_teachers",
    "student_tracker_factory",
]

STUDENT_MODES = (TRAS.mode, TRAST.mode, TRASFUST.mode)
_TEACHER_SEPARATOR = "+"


def is_student_tracker_spec(spec: str) -> bool:
    """True when ``spec`` names one of :data:`STUDENT_MODES` (``tras``, ``trast:…``, ``trasfust:…``)."""
    return spec.strip().partition(":")[0].strip().lower() in STUDENT_MODES


def replaying_teachers(spec: str) -> str:
    """The same student tracker with every teacher replayed from stored results: ``trast:csrt`` →
    ``trast:results:csrt``, ``trasfust:kcf+csrt`` → ``trasfust:results:kcf+results:csrt`` (``tras`` and
    teachers already replayed stay as they are). Its name is the live tracker's, and so are its boxes when
    the stored tracks are the live teachers' on the same frames: neither tracker re-initialises a teacher
    on its own output, and the stored failure flags replay ``last_ok``
    (:mod:`tracking_by_trackers.teachers.results_store`)."""
    mode, _, teacher_text = spec.strip().partition(":")
    teachers = [item.strip() for item in teacher_text.split(_TEACHER_SEPARATOR) if item.strip()]
    if not teachers:
        return spec.strip()
    replayed = [item if item.startswith(RESULTS_PREFIX) else RESULTS_PREFIX + item for item in teachers]
    return f"{mode.strip()}:{_TEACHER_SEPARATOR.join(replayed)}"


def make_student_tracker(
    mode: str,
    network: StudentNetwork,
    teacher_factories: tuple[TrackerFactory, ...],
    name: str,
    device: str | None,
    runner: str,
) -> FusingTracker:
    """A fresh tracker of ``mode`` with fresh teachers; what a factory from this module calls."""
    options = {"name": name, "device": device}
    if mode == "tras":
        return TRAS(network, **options)
    teachers = [factory() for factory in teacher_factories]
    if mode == "trast":
        return TRAST(network, teachers[0], runner=runner, **options)
    return TRASFUST(network, teachers, runner=runner, **options)


def student_tracker_factory(
    spec: str,
    student: StudentNetwork | str | os.PathLike,
    *,
    results_root: str | Path | None = None,
    model_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    runner: str = "threads",
) -> tuple[str, TrackerFactory]:
    """``(name, factory)`` for a student tracker spec (see the module docstring).

    Args:
        spec: ``tras``, ``trast:<teacher>`` or ``trasfust:<t1>+<t2>+…``.
        student: The network, an exported student file, or a training checkpoint folder.
        results_root: For ``results:<TRACKER>`` teachers.
        model_dir: For the OpenCV DNN teachers.
        device: ``"cpu"``, ``"cuda"`` or None (CUDA when available), resolved by each tracker.
        runner: How teachers run beside the student: one of
            :data:`~tracking_by_trackers.policies.trackers.teacher_runner.RUNNER_KINDS`.

    Raises:
        ValueError: An unknown mode, a wrong number of teachers, an unknown or repeated teacher, an unknown
            runner; :class:`~tracking_by_trackers.policies.student_export.ExportError` (a ValueError) for a bad student path.
    """
    mode, _, teacher_text = spec.strip().partition(":")
    mode = mode.strip().lower()
    if mode not in STUDENT_MODES:
        raise ValueError(
            f"unknown student tracker {spec!r}; write tras, trast:<teacher> or trasfust:<t1>+<t2>+…"
        )
    if runner not in RUNNER_KINDS:
        raise ValueError(f"unknown teacher runner {runner!r}; valid runners: {', '.join(RUNNER_KINDS)}")
    teacher_specs = [item.strip() for item in teacher_text.split(_TEACHER_SEPARATOR) if item.strip()]
    if mode == "tras" and teacher_specs:
        raise ValueError(
            f"{spec!r}: tras runs the student alone; name teachers with trast:<teacher> or trasfust:…"
        )
    if mode == "trast" and len(teacher_specs) != 1:
        raise ValueError(f"{spec!r}: trast takes exactly one teacher, e.g. trast:csrt")
    if mode == "trasfust" and not teacher_specs:
        raise ValueError(
            f"{spec!r}: trasfust takes one or more teachers joined by '+', e.g. trasfust:kcf+csrt"
        )
    teachers = [
        tracker_factory(item, results_root=results_root, model_dir=model_dir) for item in teacher_specs
    ]
    teacher_names = [teacher for teacher, _ in teachers]
    if len(set(teacher_names)) != len(teacher_names):
        raise ValueError(f"{spec!r} names a teacher twice")
    name = mode if mode == "tras" else f"{mode}-{'+'.join(teacher_names)}"
    network = as_network(student)
    factory = functools.partial(
        make_student_tracker,
        mode,
        network,
        tuple(factory for _, factory in teachers),
        name,
        None if device is None else str(device),
        runner,
    )
    return name, factory
