"""Parsing of the text files benchmarks keep their annotations in: box files, per-frame labels and flag rows.

Every parser reports a malformed line as a :class:`~tracking_by_trackers.envs.sequence.DatasetError` that names the file and the
1-based line number, because numpy's "could not convert string to float" does not say which of a thousand
files is broken, nor where.

Box files (``groundtruth.txt``, ``groundtruth_rect.txt``, UAV123's ``anno/*.txt``) hold one frame per line:

- values are separated by commas, tabs or spaces, mixed freely (``1,2\\t3 4`` is four values);
- 4 values are ``[x, y, w, h]``; 8 values are a polygon ``x1,y1,…,x4,y4`` (VOT), turned into its enclosing
  axis-aligned box; both may appear in one file;
- ``NaN`` (any case) is a missing value; a row with one becomes an all-NaN row (the target is absent);
- a box of zero width or height (``0,0,0,0`` is how several benchmarks write "no target") is absent too:
  it becomes an all-NaN row, with one logged warning per file, because scoring it would count every
  tracker as failing on a frame with nothing to find;
- a negative width or height, or an infinite value, is an error: no benchmark writes one, so the file is
  damaged;
- the first row must be a valid box (finite, width and height > 0), since trackers start from it;
- blank lines at the end are ignored; a blank line before the end would shift every later frame, so it is an
  error.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.boxes import polygon_to_xywh
from tracking_by_trackers.envs.sequence import DatasetError

logger = logging.getLogger(__name__)

# A comma (with any spaces around it) or a run of whitespace separates two values; ",," leaves an empty
# value, which is reported instead of silently merged away.
_SEPARATOR = re.compile(r"\s*,\s*|\s+")


def _read_lines(path: str | os.PathLike) -> list[str]:
    """The file's lines without the blank ones at the end; a blank line before the end is an error."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing annotation file: {path}")
    try:
        # utf-8-sig: files written on Windows may start with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"unreadable annotation file {path}: {error}") from error
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise DatasetError(f"{path} line {number}: blank line before the end of the file")
    return lines


def _split_values(path: Path, number: int, line: str) -> list[float]:
    """The numbers on one line; a non-numeric, empty or infinite value is an error naming file and line."""
    # A trailing separator ("1,2,3,4,") is a harmless export quirk, not a fifth, empty value.
    tokens = _SEPARATOR.split(line.strip().rstrip(",").strip())
    values = []
    for token in tokens:
        if not token:
            raise DatasetError(f"{path} line {number}: empty value in {line.strip()!r}")
        try:
            value = float(token)
        except ValueError:
            raise DatasetError(f"{path} line {number}: {token!r} is not a number") from None
        if math.isinf(value):
            raise DatasetError(f"{path} line {number}: {token!r} is not a finite number")
        values.append(value)
    return values


def read_boxes(path: str | os.PathLike) -> np.ndarray:
    """Read a box file (see the module docstring for the format).

    Args:
        path: The annotation file.

    Returns:
        ``(N, 4)`` float64 ``[x, y, w, h]`` boxes, one per non-blank line, NaN rows where a value is NaN;
        ``(0, 4)`` for an empty file.

    Raises:
        DatasetError: The file is missing or unreadable, a line does not hold 4 or 8 numbers, a box has a
            negative width or height, or the first box is not valid; the message names the file and the
            1-based line.
    """
    path = Path(path)
    boxes = np.empty((0, 4))
    rows = []
    for number, line in enumerate(_read_lines(path), start=1):
        values = _split_values(path, number, line)
        if len(values) == 4:
            rows.append(values)
        elif len(values) == 8:
            rows.append(polygon_to_xywh(values).tolist())
        else:
            raise DatasetError(f"{path} line {number}: expected 4 or 8 numbers, got {len(values)}")
        width, height = rows[-1][2:]
        if width < 0 or height < 0:
            raise DatasetError(f"{path} line {number}: negative box size (w={width:g}, h={height:g})")
    if rows:
        boxes = np.asarray(rows, dtype=np.float64)
        # min/max over a polygon with one NaN corner may still be finite; one unknown value voids the box.
        boxes[np.isnan(boxes).any(axis=1)] = np.nan
        if np.isnan(boxes[0]).any() or boxes[0, 2] == 0 or boxes[0, 3] == 0:
            raise DatasetError(
                f"{path} line 1: the first box must have finite values and a width and height > 0 (trackers "
                f"start from it), got {_box_text(boxes[0])}"
            )
        empty = (boxes[:, 2] == 0) | (boxes[:, 3] == 0)
        if empty.any():
            logger.warning(
                "%s: %d box(es) of zero width or height (first on line %d) read as target absent",
                path,
                int(empty.sum()),
                int(np.flatnonzero(empty)[0]) + 1,
            )
            boxes[empty] = np.nan
    return boxes


def _box_text(box: np.ndarray) -> str:
    """A box as its file would write it (``2,3,0,6``), for messages."""
    return ",".join(f"{value:g}" for value in box)


def read_integers(path: str | os.PathLike, allowed: range | None = None) -> np.ndarray:
    """Read integer labels separated by commas, tabs, spaces or newlines, in file order.

    GOT-10k keeps one label per line (``absence.label``, ``cover.label``); LaSOT keeps all of a sequence's
    flags on one comma-separated line (``full_occlusion.txt``). Both read the same way.

    Args:
        path: The label file.
        allowed: The values a label may take (``range(2)`` for flags); None accepts any integer.

    Returns:
        ``(N,)`` int64 labels.

    Raises:
        DatasetError: The file is missing or unreadable, or a value is not an integer in ``allowed``; the
            message names the file and the 1-based line.
    """
    path = Path(path)
    labels = []
    for number, line in enumerate(_read_lines(path), start=1):
        for value in _split_values(path, number, line):
            if math.isnan(value) or not value.is_integer() or (allowed is not None and value not in allowed):
                expected = "an integer" if allowed is None else f"one of {allowed.start}..{allowed.stop - 1}"
                raise DatasetError(f"{path} line {number}: expected {expected}, got {value:g}")
            labels.append(int(value))
    return np.asarray(labels, dtype=np.int64)


def read_flags(path: str | os.PathLike) -> np.ndarray:
    """Read 0/1 flags (see :func:`read_integers` for the layouts) as a ``(N,)`` bool array."""
    return read_integers(path, allowed=range(2)).astype(bool)


def check_row_count(path: str | os.PathLike, num_rows: int, num_frames: int, frames_at: str) -> None:
    """Raise if an annotation file does not hold exactly one row per frame.

    Args:
        path: The annotation file, named in the message.
        num_rows: How many rows (boxes, labels) it holds.
        num_frames: How many frames the sequence has.
        frames_at: Where the frames are, for the message (a folder, or a folder and a frame range).

    Raises:
        DatasetError: With the first line that has no frame (too many rows), or the line where rows run out.
    """
    if num_rows > num_frames:
        raise DatasetError(
            f"{path} line {num_frames + 1}: no frame for this row ({num_rows} rows but only {num_frames} "
            f"frames in {frames_at})"
        )
    if num_rows < num_frames:
        raise DatasetError(
            f"{path}: {num_rows} rows but {num_frames} frames in {frames_at} (line {num_rows + 1} is missing)"
        )


def initial_or_full_boxes(
    path: str | os.PathLike, boxes: np.ndarray, num_frames: int, frames_at: str
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes for every frame, from a file holding one box per frame or only the initial box.

    Args:
        path: The box file, named in messages.
        boxes: Its ``(N, 4)`` boxes, as :func:`read_boxes` returns them.
        num_frames: How many frames the sequence has.
        frames_at: Where the frames are, for messages.

    Returns:
        ``(boxes, absent)``: ``(num_frames, 4)`` boxes and ``(num_frames,)`` absence flags. After an initial
        box only, the other frames are NaN (not annotated) but not absent: nothing says the target is gone.

    Raises:
        DatasetError: The file holds neither one box nor one box per frame.
    """
    if len(boxes) == 1:
        return np.vstack([boxes, np.full((num_frames - 1, 4), np.nan)]), np.zeros(num_frames, dtype=bool)
    check_row_count(path, len(boxes), num_frames, frames_at)
    return boxes, np.isnan(boxes).any(axis=1)
