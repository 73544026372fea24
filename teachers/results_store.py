"""Tracking results on disk, in the GOT-10k toolkit's layout.

``<root>/<benchmark>/<tracker>/<sequence>.txt`` holds one comma-separated ``x,y,w,h`` box per frame
(``nan`` where the tracker gave none) and ``<sequence>_time.txt`` the seconds per frame. Stored results of
published trackers (``../shared/data/results``) use the same layout without the times.

The toolkit's layout keeps no failure flags, yet a tracker can fail on a frame and still return a valid box
(OpenCV's trackers report low confidence through ``last_ok`` and keep their last good box). So this project
also writes ``<sequence>_ok.txt``, one 0/1 per frame: replaying a track then gives the teacher-assisted
trackers the very failures the live tracker reported (:class:`~tracking_by_trackers.teachers.results_teacher.ResultsTeacher`).
Without that file a stored box counts as ok when it is a valid box.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.boxes import is_valid
from tracking_by_trackers.envs.sequence import DatasetError
from tracking_by_trackers.teachers.atomic_io import write_text_atomically
from tracking_by_trackers.teachers.one_pass import TrackingResult


def result_file(root: str | Path, benchmark: str, tracker: str, sequence: str) -> Path:
    return Path(root) / benchmark / tracker / f"{sequence}.txt"


def times_file(root: str | Path, benchmark: str, tracker: str, sequence: str) -> Path:
    return Path(root) / benchmark / tracker / f"{sequence}_time.txt"


def ok_file(root: str | Path, benchmark: str, tracker: str, sequence: str) -> Path:
    return Path(root) / benchmark / tracker / f"{sequence}_ok.txt"


def _format(array: np.ndarray, fmt: str) -> str:
    buffer = io.StringIO()
    np.savetxt(buffer, array, fmt=fmt, delimiter=",")
    return buffer.getvalue()


def write_result(
    root: str | Path, benchmark: str, tracker: str, sequence: str, result: TrackingResult
) -> None:
    """Store boxes, times and failure flags atomically; the box file is written last, so its presence
    means "done"."""
    write_text_atomically(
        times_file(root, benchmark, tracker, sequence), _format(result.times[:, None], "%.6f")
    )
    write_text_atomically(
        ok_file(root, benchmark, tracker, sequence), _format(result.ok.astype(int)[:, None], "%d")
    )
    write_text_atomically(result_file(root, benchmark, tracker, sequence), _format_exactly(result.boxes))


def _format_exactly(boxes: np.ndarray) -> str:
    # The shortest text that reads back as the same float (Python's repr): a replayed track must give a
    # teacher-assisted tracker the very boxes the live teacher gave, or its choices can drift.
    return "".join(",".join(repr(float(value)) for value in row) + "\n" for row in boxes)


def has_result(root: str | Path, benchmark: str, tracker: str, sequence: str) -> bool:
    return result_file(root, benchmark, tracker, sequence).is_file()


def read_result(root: str | Path, benchmark: str, tracker: str, sequence: str) -> TrackingResult:
    """Read a stored result; times are NaN when the file has none (e.g. published trackers' results)."""
    path = result_file(root, benchmark, tracker, sequence)
    if not path.is_file():
        raise DatasetError(
            f"no stored result for tracker {tracker} on {benchmark}/{sequence}: {path} is missing"
        )
    try:
        boxes = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as error:
        raise DatasetError(f"malformed result file {path}: {error}") from None
    if boxes.shape[1] != 4:
        raise DatasetError(f"malformed result file {path}: expected 4 values per line, got {boxes.shape[1]}")
    time_path = times_file(root, benchmark, tracker, sequence)
    times = np.loadtxt(time_path, ndmin=1) if time_path.is_file() else np.full(len(boxes), np.nan)
    ok = is_valid(boxes)
    flags_path = ok_file(root, benchmark, tracker, sequence)
    if flags_path.is_file():  # see the module docstring
        flags = np.loadtxt(flags_path, ndmin=1)
        if flags.shape != ok.shape:
            raise DatasetError(f"malformed result file {flags_path}: {len(flags)} flags for {len(ok)} boxes")
        ok &= flags.astype(bool)
    return TrackingResult(boxes, times, ok)
