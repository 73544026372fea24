"""GOT-10k: ``<split>/list.txt`` and ``<split>/<sequence>/00000001.jpg…`` with ``groundtruth.txt``.

Per-frame labels next to the boxes (train and val splits):

- ``absence.label``: 1 where the target is absent → ``absent``, and the box there becomes NaN (the project's
  "no target" box; see :mod:`tracking_by_trackers.envs.boxes`);
- ``cover.label``: how much of the target is visible, 0 (fully occluded) to 8 (fully visible) →
  ``attributes["cover"]``, and cover 0 also marks the frame absent (the toolkit scores only cover > 0);
  ``cut_by_image.label`` → ``attributes["cut_by_image"]``;
- ``meta_info.ini`` (optional) → ``attributes["meta"]``, a dict of its keys (object class, motion, …).

The test split's ``groundtruth.txt`` holds only the first box (the rest is kept on the evaluation server):
the other frames get NaN boxes without being marked absent, and ``attributes["first_box_only"]`` is True. A
one-line ground truth counts as first-box-only when there is no ``absence.label``, so that a truncated
train/val file is still reported as a length mismatch.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.datasets.annotation_files import (
    check_row_count,
    read_boxes,
    read_flags,
    read_integers,
)
from tracking_by_trackers.envs.datasets.frame_files import (
    existing_path,
    list_image_files,
    natural_key,
    subfolders,
)
from tracking_by_trackers.envs.sequence import DatasetError, ImageFiles, Sequence

BENCHMARK = "GOT-10k"
SPLITS = ("train", "val", "test")

_ANNOTATION_FILE = "groundtruth.txt"
# cover.label levels: 0 = fully occluded … 8 = fully visible.
_COVER_LEVELS = range(9)


def read_got10k(path: str | os.PathLike, *, split: str = "val") -> list[Sequence]:
    """Read GOT-10k sequences.

    Args:
        path: The dataset root (it holds ``train/``, ``val/``, ``test/``), one split folder (it holds
            ``list.txt``) or one sequence folder (it holds ``groundtruth.txt``).
        split: Which split to read when ``path`` is the root.

    Returns:
        The sequences sorted by name.

    Raises:
        DatasetError: Nothing GOT-10k-like at ``path``, an unknown split, a sequence of ``list.txt`` missing,
            a malformed line, a gap in the frame numbers, or a row count that differs from the frame count.
    """
    given = existing_path(path, "GOT-10k dataset")
    if (given / _ANNOTATION_FILE).is_file():
        return [_read_sequence(given)]
    if (given / "list.txt").is_file():
        split_folder = given
    elif any((given / name).is_dir() for name in SPLITS):
        if split not in SPLITS:
            raise DatasetError(f"unknown GOT-10k split {split!r}; known: {', '.join(SPLITS)}")
        split_folder = existing_path(given / split, f"GOT-10k {split} split")
    else:
        raise DatasetError(
            f"no GOT-10k layout at {given}: expected a sequence folder ({_ANNOTATION_FILE}), a split folder "
            f"(list.txt) or the root holding {', '.join(SPLITS)}"
        )
    return [_read_sequence(folder) for folder in _sequence_folders(split_folder)]


def _sequence_folders(split_folder: Path) -> list[Path]:
    """The split's sequence folders: those ``list.txt`` names, else every folder with a ground truth."""
    list_file = split_folder / "list.txt"
    if not list_file.is_file():
        folders = [folder for folder in subfolders(split_folder) if (folder / _ANNOTATION_FILE).is_file()]
        if not folders:
            raise DatasetError(
                f"no GOT-10k sequence in {split_folder}: no list.txt and no <sequence>/{_ANNOTATION_FILE}"
            )
        return folders
    names = sorted(list_file.read_text().split(), key=natural_key)
    if not names:
        raise DatasetError(f"{list_file} names no sequence")
    for name in names:
        if not (split_folder / name).is_dir():
            raise DatasetError(f"sequence {name} of {list_file} is missing: {split_folder / name}")
    return [split_folder / name for name in names]


def _read_sequence(folder: Path) -> Sequence:
    annotation_file = folder / _ANNOTATION_FILE
    boxes = read_boxes(annotation_file)
    frame_paths = list_image_files(folder, first_number=1)
    num_frames = len(frame_paths)
    absence_file = folder / "absence.label"
    attributes = {}
    if len(boxes) == 1 and num_frames > 1 and not absence_file.is_file():
        boxes = np.vstack([boxes, np.full((num_frames - 1, 4), np.nan)])
        absent = np.zeros(num_frames, dtype=bool)
        attributes["first_box_only"] = True
    else:
        check_row_count(annotation_file, len(boxes), num_frames, str(folder))
        absent = np.isnan(boxes).any(axis=1)
    if absence_file.is_file():
        absent |= _read_frame_labels(absence_file, num_frames, folder, flags=True)
    if (folder / "cover.label").is_file():
        attributes["cover"] = _read_frame_labels(folder / "cover.label", num_frames, folder, flags=False)
        # The GOT-10k toolkit scores only frames with cover > 0 (experiments/got10k.py), so a fully
        # occluded frame is absent even where absence.label says otherwise.
        absent |= attributes["cover"] == 0
    if (folder / "cut_by_image.label").is_file():
        cut_file = folder / "cut_by_image.label"
        attributes["cut_by_image"] = _read_frame_labels(cut_file, num_frames, folder, flags=True)
    if (folder / "meta_info.ini").is_file():
        attributes["meta"] = _read_meta(folder / "meta_info.ini")
    boxes[absent] = np.nan
    return Sequence(
        name=folder.name,
        frames=ImageFiles(frame_paths),
        gt_boxes=boxes,
        absent=absent,
        benchmark=BENCHMARK,
        attributes=attributes,
    )


def _read_frame_labels(path: Path, num_frames: int, folder: Path, flags: bool) -> np.ndarray:
    """One label per frame: 0/1 flags as bool, or cover levels 0..8 as int."""
    labels = read_flags(path) if flags else read_integers(path, allowed=_COVER_LEVELS)
    check_row_count(path, len(labels), num_frames, str(folder))
    return labels


def _read_meta(path: Path) -> dict[str, str]:
    """``meta_info.ini``'s keys and values, all sections flattened (there is one, ``[METAINFO]``)."""
    # No interpolation: values such as URLs may contain '%'.
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8-sig", errors="replace"), source=str(path))
    except configparser.Error as error:
        raise DatasetError(f"malformed {path}: {error}") from error
    return {key: value for section in parser.sections() for key, value in parser[section].items()}
