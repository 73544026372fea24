"""VOT short-term challenges: ``<sequence>/00000001.jpg…`` (or ``<sequence>/color/…``), ``groundtruth.txt``.

Rotated boxes (8-value polygons) become their enclosing axis-aligned box, since every tracker and metric of
this project works on ``[x, y, w, h]``. Segmentation masks (the ``m…`` lines of VOT2020 and later) are not
supported and are reported as a malformed line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.datasets.annotation_files import check_row_count, read_boxes
from tracking_by_trackers.envs.datasets.frame_files import (
    existing_path,
    list_image_files,
    natural_key,
    subfolders,
)
from tracking_by_trackers.envs.sequence import DatasetError, ImageFiles, Sequence

BENCHMARK = "VOT"

_ANNOTATION_FILE = "groundtruth.txt"


def read_vot(path: str | os.PathLike) -> list[Sequence]:
    """Read VOT sequences.

    Args:
        path: The challenge root (sequence folders, optionally a ``list.txt`` naming them) or one sequence
            folder (it holds ``groundtruth.txt``).

    Returns:
        The sequences sorted by name.

    Raises:
        DatasetError: Nothing VOT-like at ``path``, a sequence of ``list.txt`` missing, a malformed line, a
            gap in the frame numbers, or a box count that differs from the frame count.
    """
    root = existing_path(path, "VOT dataset")
    if (root / _ANNOTATION_FILE).is_file():
        folders = [root]
    elif (root / "list.txt").is_file():
        names = (root / "list.txt").read_text().split()
        folders = [root / name for name in sorted(names, key=natural_key)]
        for folder in folders:
            if not folder.is_dir():
                raise DatasetError(f"sequence {folder.name} of {root / 'list.txt'} is missing: {folder}")
    else:
        folders = [folder for folder in subfolders(root) if (folder / _ANNOTATION_FILE).is_file()]
    if not folders:
        raise DatasetError(f"no VOT sequence in {root}: expected <sequence>/{_ANNOTATION_FILE}")
    return [_read_sequence(folder) for folder in folders]


def _read_sequence(folder: Path) -> Sequence:
    annotation_file = folder / _ANNOTATION_FILE
    boxes = read_boxes(annotation_file)
    frames_folder = folder / "color" if (folder / "color").is_dir() else folder
    frame_paths = list_image_files(frames_folder, first_number=1)
    check_row_count(annotation_file, len(boxes), len(frame_paths), str(frames_folder))
    return Sequence(
        name=folder.name,
        frames=ImageFiles(frame_paths),
        gt_boxes=boxes,
        absent=np.isnan(boxes).any(axis=1),
        benchmark=BENCHMARK,
    )
