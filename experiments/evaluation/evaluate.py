"""Run trackers over a dataset in one pass and store their results, resumably and in parallel.

Trackers are named by specs: teachers and stored results as in :mod:`tracking_by_trackers.teachers.registry` (``kcf``,
``results:ECO``, …) and the student's trackers as in :mod:`tracking_by_trackers.policies.trackers.factory` (``tras``,
``trast:csrt``, ``trasfust:kcf+csrt+mosse``), which need the student (an exported file or a checkpoint).

Every (tracker, sequence) pair is one job. Finished jobs are skipped on a re-run, because a result file
only appears (atomically) once its job is done: a killed evaluation resumes where it stopped. TRAST and
TRASFUST also store which member they chose on each frame (:mod:`tracking_by_trackers.experiments.evaluation.member_choices`), before the
box file.

Two backends run the jobs:

- ``"threads"`` (the default): worker threads in this process. OpenCV and torch release the GIL, and
  threads share the in-memory frames of synthetic videos instead of pickling them to other processes.
  Torch runs one intra-op thread per job while they run, so that two jobs on two cores do not fight over
  four threads.
- ``"ray"``: one Ray task per job, on the local machine or a cluster (one CPU and one torch thread each). Each
  sequence and each tracker factory (which carries the student's weights) goes into the object store once.
  Threads stay the default because a ``tbt evaluate`` run starts Ray's workers cold: starting them and
  importing torch costs seconds, which a short evaluation on a small machine does not win back, while warm
  workers are a little faster than threads (separate processes do not share a GIL;
  ``experiments/benchmarks/bench_trackers.py`` compares the two). Ray pays off for long evaluations and on a
  cluster, where the jobs spread over many nodes: ``tbt train`` uses it for its validations and its final
  evaluation whenever it has joined a cluster (:mod:`tracking_by_trackers.experiments.train.train_pipeline`).

:func:`track_jobs` runs jobs on either backend and hands back the results as they finish, for callers
that score them rather than store them (the checkpoint validation).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from collections.abc import Sequence as SequenceABC
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import cv2
import torch
from tqdm import tqdm

from tracking_by_trackers.envs.sequence import DatasetError, Sequence
from tracking_by_trackers.experiments.evaluation.member_choices import write_choices
from tracking_by_trackers.policies.student_export import load_student
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers.factory import is_student_tracker_spec, student_tracker_factory
from tracking_by_trackers.policies.trackers.teacher_members import TeacherAssistedTracker
from tracking_by_trackers.teachers.one_pass import TrackingResult, track_sequence
from tracking_by_trackers.teachers.registry import tracker_factory
from tracking_by_trackers.teachers.results_store import has_result, write_result
from tracking_by_trackers.teachers.tracker import TrackerFactory

__all__ = [
    "BACKENDS",
    "evaluate_trackers",
    "one_torch_thread",
    "parse_evaluation_trackers",
    "track_and_record",
    "track_jobs",
]

logger = logging.getLogger(__name__)

BACKENDS = ("threads", "ray")
# Recorded for the frames a tracker never got to (it raised in init), so the file still has one line per frame.
_NO_CHOICE = "none"


def parse_evaluation_trackers(
    specs: str,
    *,
    student: StudentNetwork | str | os.PathLike | None = None,
    results_root: str | Path | None = None,
    model_dir: str | Path | None = None,
    device: str | None = None,
) -> tuple[dict[str, TrackerFactory], list[str]]:
    """``"tras,trast:csrt,kcf,results:ECO"`` → ``({name: factory}, names of the student trackers)``.

    The student is loaded once, here, and shared by every student tracker's factory.

    Raises:
        ValueError: An unknown or malformed spec, a name given twice, or a student tracker without a student.
    """
    items = [item.strip() for item in specs.split(",") if item.strip()]
    if not items:
        raise ValueError("no tracker named; give a comma-separated list such as tras,trast:csrt,kcf")
    student_specs = [item for item in items if is_student_tracker_spec(item)]
    if student_specs and student is None:
        raise ValueError(
            f"{', '.join(student_specs)} run the student: give the exported student (tbt export) or a "
            "training checkpoint folder with --student PATH"
        )
    if student_specs and not isinstance(student, StudentNetwork):
        student = load_student(student)
    factories: dict[str, TrackerFactory] = {}
    student_names: list[str] = []
    for item in items:
        if is_student_tracker_spec(item):
            name, factory = student_tracker_factory(
                item, student, results_root=results_root, model_dir=model_dir, device=device
            )
            student_names.append(name)
        else:
            name, factory = tracker_factory(item, results_root=results_root, model_dir=model_dir)
        if name in factories:
            raise ValueError(f"tracker list {specs!r} names {name!r} twice")
        factories[name] = factory
    return factories, student_names


def track_and_record(factory: TrackerFactory, sequence: Sequence) -> tuple[TrackingResult, tuple | None]:
    """One job: a fresh tracker over one sequence; its result and, for TRAST/TRASFUST, its choices.

    Returns:
        The result, and ``(choices, members)`` for a teacher-assisted tracker (None for any other).
    """
    tracker = factory()
    try:
        result = track_sequence(tracker, sequence)
        if not isinstance(tracker, TeacherAssistedTracker):
            return result, None
        choices = list(tracker.choices) + [_NO_CHOICE] * (len(sequence) - len(tracker.choices))
        return result, (choices, tracker.member_names)
    finally:
        tracker.close()  # a teacher-assisted tracker's threads or actors (tracking_by_trackers.teachers.tracker.Tracker)


def _store(results_root: Path, name: str, sequence: Sequence, result: TrackingResult, record) -> None:
    if record is not None:  # before the box file, whose presence means the job is done
        write_choices(results_root, sequence.benchmark, name, sequence.name, *record)
    write_result(results_root, sequence.benchmark, name, sequence.name, result)


@contextlib.contextmanager
def one_torch_thread():
    """Torch on one intra-op thread per job while jobs run side by side; the caller's setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _track_or_skip(factory: TrackerFactory, sequence: Sequence) -> tuple[TrackingResult | None, object]:
    # skip_bad_input's job: bad input becomes (None, its one-line message) instead of an exception.
    try:
        return track_and_record(factory, sequence)
    except DatasetError as error:
        return None, str(error)


def _track_on_ray_worker(factory: TrackerFactory, sequence: Sequence, skip_bad_input: bool = False):
    # A Ray worker owns one CPU: one OpenCV and one torch thread (tracking_by_trackers.cluster.ray_runtime's rule).
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    return (_track_or_skip if skip_bad_input else track_and_record)(factory, sequence)


def _run_in_threads(
    jobs, trackers, workers: int, skip_bad_input: bool = False
) -> Iterator[tuple[str, Sequence, TrackingResult, tuple | None]]:
    job = _track_or_skip if skip_bad_input else track_and_record
    with ThreadPoolExecutor(max_workers=workers) as pool, one_torch_thread():
        futures = {pool.submit(job, trackers[name], sequence): (name, sequence) for name, sequence in jobs}
        for future in as_completed(futures):
            name, sequence = futures[future]
            # A failure here is a bug (tracker errors are handled per frame), so surface it.
            yield (name, sequence, *future.result())


def _run_on_ray(
    jobs, trackers, workers: int, skip_bad_input: bool = False
) -> Iterator[tuple[str, Sequence, TrackingResult, tuple | None]]:
    import ray

    from tracking_by_trackers.cluster.ray_runtime import init_ray

    init_ray()  # a no-op when the caller already started or joined Ray
    remote = ray.remote(num_cpus=1)(_track_on_ray_worker)
    factory_refs = {name: ray.put(trackers[name]) for name in {name for name, _ in jobs}}
    # Each sequence enters the object store once and leaves it after its last job; jobs are ordered by
    # sequence, so only a few are held at a time.
    first_job = {}
    for index, (_, sequence) in enumerate(jobs):
        first_job.setdefault(id(sequence), index)
    jobs = sorted(jobs, key=lambda job: first_job[id(job[1])])
    jobs_left: dict[int, int] = {}
    for _, sequence in jobs:
        jobs_left[id(sequence)] = jobs_left.get(id(sequence), 0) + 1
    sequence_refs: dict[int, ray.ObjectRef] = {}
    in_flight: dict[ray.ObjectRef, tuple[str, Sequence]] = {}
    pending = list(reversed(jobs))
    # Enough jobs queued to keep every CPU of the cluster busy, not the whole evaluation at once; on a
    # cluster that grows on demand, the queued tasks are what asks its autoscaler for more nodes.
    max_in_flight = max(workers, int(ray.cluster_resources().get("CPU", 1)) * 2)
    while pending or in_flight:
        while pending and len(in_flight) < max_in_flight:
            name, sequence = pending.pop()
            if id(sequence) not in sequence_refs:
                sequence_refs[id(sequence)] = ray.put(sequence)
            ref = remote.remote(factory_refs[name], sequence_refs[id(sequence)], skip_bad_input)
            in_flight[ref] = (name, sequence)
        [done], _ = ray.wait(list(in_flight), num_returns=1)
        name, sequence = in_flight.pop(done)
        try:
            outcome = ray.get(done)
        except ray.exceptions.RayTaskError as error:
            # Bad input: its own one-line message, not the Ray worker's traceback.
            if isinstance(error.cause, DatasetError):
                raise error.cause from None
            raise
        yield (name, sequence, *outcome)
        jobs_left[id(sequence)] -= 1
        if jobs_left[id(sequence)] == 0:
            del sequence_refs[id(sequence)]


def track_jobs(
    jobs: SequenceABC[tuple[str, Sequence]],
    trackers: Mapping[str, TrackerFactory],
    *,
    backend: str = "threads",
    workers: int = 2,
    skip_bad_input: bool = False,
) -> Iterator[tuple[str, Sequence, TrackingResult, tuple | None]]:
    """Run each ``(tracker name, sequence)`` job on ``backend`` (see the module docstring), yielding
    ``(name, sequence, result, record)`` as jobs finish (``record`` as :func:`track_and_record` returns it).

    Bad input (a :class:`~tracking_by_trackers.envs.sequence.DatasetError`: a missing or unreadable frame)
    raises its one-line error, unless ``skip_bad_input``: the job then yields ``(name, sequence, None,
    message)``, for callers that must go on without that video (the validation during training).

    Raises:
        ValueError: An unknown backend, or fewer than one worker.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not jobs:
        return iter(())
    # Each job already owns a core; OpenCV's own thread pool would oversubscribe them.
    cv2.setNumThreads(1)
    run = _run_in_threads if backend == "threads" else _run_on_ray
    return run(list(jobs), trackers, workers, skip_bad_input)


def evaluate_trackers(
    sequences: SequenceABC[Sequence],
    trackers: Mapping[str, TrackerFactory],
    results_root: str | Path,
    workers: int = 2,
    show_progress: bool = True,
    backend: str = "threads",
) -> int:
    """Track every sequence with every tracker (name → factory), writing results under ``results_root``.

    Args:
        sequences: The dataset.
        trackers: Name → factory of a fresh tracker (see :func:`parse_evaluation_trackers`).
        results_root: Root of the GOT-10k result layout.
        workers: Jobs run at once with the threads backend (at least this many queued on Ray).
        show_progress: Show a progress bar.
        backend: ``"threads"`` or ``"ray"``; see the module docstring.

    Returns:
        The number of jobs run (jobs with a stored result are skipped).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    results_root = Path(results_root)
    jobs = [
        (name, sequence)
        for name in trackers
        for sequence in sequences
        if not has_result(results_root, sequence.benchmark, name, sequence.name)
    ]
    skipped = len(trackers) * len(sequences) - len(jobs)
    if skipped:
        logger.info(
            "resuming: %d of %d (tracker, sequence) results already stored", skipped, skipped + len(jobs)
        )
    with tqdm(total=len(jobs), desc="tracking", unit="seq", disable=not show_progress) as progress:
        for name, sequence, result, record in track_jobs(jobs, trackers, backend=backend, workers=workers):
            _store(results_root, name, sequence, result, record)
            progress.set_postfix_str(f"{name}/{sequence.name}", refresh=False)
            progress.update()
    return len(jobs)
