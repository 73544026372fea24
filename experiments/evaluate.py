"""Run trackers over a dataset in one pass and store their results, resumably and in parallel.

Every (tracker, sequence) pair is one job. Finished jobs are skipped on a re-run, because a result file
only appears (atomically) once its job is done: a killed evaluation resumes where it stopped.
Jobs run in threads: OpenCV releases the GIL inside its trackers, and threads share the in-memory frames
of synthetic videos instead of pickling them to other processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from collections.abc import Sequence as SequenceABC
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import cv2
from tqdm import tqdm

from envs.sequence import Sequence
from teachers.one_pass import track_sequence
from teachers.results_store import has_result, write_result

logger = logging.getLogger(__name__)


def _run_job(
    tracker_name: str, factory: Callable[[], object], sequence: Sequence, results_root: Path
) -> None:
    result = track_sequence(factory(), sequence)
    write_result(results_root, sequence.benchmark, tracker_name, sequence.name, result)


def evaluate_trackers(
    sequences: SequenceABC[Sequence],
    trackers: Mapping[str, Callable[[], object]],
    results_root: str | Path,
    workers: int = 2,
    show_progress: bool = True,
) -> int:
    """Track every sequence with every tracker (name → factory), writing results under ``results_root``.

    Returns:
        The number of jobs run (jobs with a stored result are skipped).
    """
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
    # Each worker thread already owns a core; OpenCV's own thread pool would oversubscribe them.
    cv2.setNumThreads(1)
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(jobs), desc="tracking", unit="seq", disable=not show_progress) as progress,
    ):
        futures = {
            pool.submit(_run_job, name, trackers[name], sequence, results_root): (name, sequence.name)
            for name, sequence in jobs
        }
        for future in as_completed(futures):
            future.result()  # a failure here is a bug (tracker errors are handled per frame), so surface it
            progress.set_postfix_str("/".join(futures[future]), refresh=False)
            progress.update()
    return len(jobs)
