"""LaSOT: ``<class>/<class>-<n>/img/00000001.jpg…`` with ``groundtruth.txt``, ``full_occlusion.txt`` and
``out_of_view.txt``.

The two flag files hold one comma-separated line of 0/1 values, one per frame. The target is absent where
either flag is set: ``absent`` is True and the box there becomes NaN (the project's "no target" box; see
:mod:`tracking_by_trackers.envs.boxes`), which is how LaSOT's evaluation leaves those frames out. ``nlp.txt``, the sentence
describing the target, goes to ``attributes["description"]`` when present.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.datasets.annotation_files import check_row_count, read_boxes, read_flags
from tracking_by_trackers.envs.datasets.frame_files import (
    existing_path,
    list_image_files,
    natural_key,
    subfolders,
)
from tracking_by_trackers.envs.sequence import DatasetError, ImageFiles, Sequence

BENCHMARK = "LaSOT"

_ANNOTATION_FILE = "groundtruth.txt"
_ABSENCE_FILES = ("full_occlusion.txt", "out_of_view.txt")


def _is_sequence(folder: Path) -> bool:
    return (folder / "img").is_dir() and (folder / _ANNOTATION_FILE).is_file()


def read_lasot(path: str | os.PathLike) -> list[Sequence]:
    """Read LaSOT sequences.

    Args:
        path: The dataset root (class folders), one class folder (``airplane/``, its sequence folders) or
            one sequence folder (``airplane-1/``, it holds ``img/`` and ``groundtruth.txt``).

    Returns:
        The sequences sorted by name.

    Raises:
        DatasetError: Nothing LaSOT-like at ``path``, a missing flag file, a malformed line, a gap in the
            frame numbers, or a row count that differs from the frame count.
    """
    given = existing_path(path, "LaSOT dataset")
    if _is_sequence(given):
        folders = [given]
    else:
        children = subfolders(given)
        folders = [child for child in children if _is_sequence(child)]
        if not folders:
            folders = [folder for child in children for folder in subfolders(child) if _is_sequence(folder)]
    if not folders:
        raise DatasetError(
            f"no LaSOT sequence in {given}: expected <class>/<class>-<n>/img/ and {_ANNOTATION_FILE}"
        )
    # Sequence names are folder names; class folders group them, but the result is sorted across classes.
    folders.sort(key=lambda folder: natural_key(folder.name))
    return [_read_sequence(folder) for folder in folders]


def _read_sequence(folder: Path) -> Sequence:
    annotation_file = folder / _ANNOTATION_FILE
    boxes = read_boxes(annotation_file)
    frame_paths = list_image_files(folder / "img", first_number=1)
    check_row_count(annotation_file, len(boxes), len(frame_paths), str(folder / "img"))
    absent = np.isnan(boxes).any(axis=1)
    for name in _ABSENCE_FILES:
        flags = read_flags(folder / name)
        # All flags sit on line 1, so a count mismatch is reported by count rather than by line.
        if len(flags) != len(frame_paths):
            raise DatasetError(
                f"{folder / name}: {len(flags)} flags but {len(frame_paths)} frames in {folder / 'img'}"
            )
        absent |= flags
    boxes[absent] = np.nan
    attributes = {}
    if (folder / "nlp.txt").is_file():
        attributes["description"] = (folder / "nlp.txt").read_text(errors="replace").strip()
    return Sequence(
        name=folder.name,
        frames=ImageFiles(frame_paths),
        gt_boxes=boxes,
        absent=absent,
        benchmark=BENCHMARK,
        attributes=attributes,
    )
