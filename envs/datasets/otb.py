"""OTB-2013 / OTB-2015 (OTB-100): ``<sequence>/img/0001.jpg…`` with ``groundtruth_rect.txt``.

Quirks handled here:

- **Two targets.** Jogging and Skating2 have ``groundtruth_rect.1.txt`` and ``groundtruth_rect.2.txt``; each
  file becomes a sequence named ``<sequence>.<k>`` (``Jogging.1``, ``Jogging.2``), the names the GOT-10k
  toolkit gives them, so stored results (``<tracker>/Jogging.1.txt``) line up. An empty annotation file
  (Human4's ``groundtruth_rect.1.txt``) is skipped; a folder left with one target keeps its plain name.
- **Fewer boxes than images.** Football1 has 81 images but 74 boxes, Freeman3, Freeman4 and Diving are
  alike: the sequence is the first N frames, with a logged warning. David's boxes start at frame 300 and
  Tiger1's at frame 6, which no file says: pass ``frame_ranges={"David": (300, 770)}`` for those.
- **More boxes than images** is an error naming the annotation file and its first line without a frame.
"""

from __future__ import annotations

import logging
import os
import re
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

logger = logging.getLogger(__name__)

BENCHMARK = "OTB"

_ANNOTATION_PATTERN = "groundtruth_rect*.txt"
_TARGET_NUMBER = re.compile(r"^groundtruth_rect\.(\d+)\.txt$")


def read_otb(
    path: str | os.PathLike, *, frame_ranges: dict[str, tuple[int, int]] | None = None
) -> list[Sequence]:
    """Read OTB sequences.

    Args:
        path: The benchmark root (a folder of sequence folders) or one sequence folder (it holds ``img/``).
        frame_ranges: Sequence name → ``(first, last)`` 1-based inclusive frame numbers the annotation
            covers, for sequences whose boxes do not start at the first image (David: ``(300, 770)``).

    Returns:
        The sequences sorted by name.

    Raises:
        DatasetError: Nothing OTB-like at ``path``, a missing or malformed file, a gap in the frame numbers,
            or more boxes than frames.
    """
    root = existing_path(path, "OTB dataset")
    folders = [root] if (root / "img").is_dir() else [d for d in subfolders(root) if (d / "img").is_dir()]
    if not folders:
        raise DatasetError(f"no OTB sequence in {root}: expected <sequence>/img/ and groundtruth_rect.txt")
    sequences = [sequence for folder in folders for sequence in _read_folder(folder, frame_ranges or {})]
    return sorted(sequences, key=lambda sequence: natural_key(sequence.name))


def _read_folder(folder: Path, frame_ranges: dict[str, tuple[int, int]]) -> list[Sequence]:
    """The one or two sequences (targets) of one OTB folder."""
    annotation_files = sorted(folder.glob(_ANNOTATION_PATTERN))
    if not annotation_files:
        raise DatasetError(f"missing annotation file: {folder / 'groundtruth_rect.txt'}")
    annotated = []
    for annotation_file in annotation_files:
        boxes = read_boxes(annotation_file)
        if len(boxes):
            annotated.append((annotation_file, boxes))
        else:
            logger.warning("skipping empty OTB annotation file %s", annotation_file)
    if not annotated:
        raise DatasetError(f"every annotation file of OTB sequence {folder} is empty")
    frame_paths = list_image_files(folder / "img", first_number=1)
    sequences = []
    for index, (annotation_file, boxes) in enumerate(annotated, start=1):
        name = folder.name
        if len(annotated) > 1:
            match = _TARGET_NUMBER.match(annotation_file.name)
            name = f"{folder.name}.{match.group(1) if match else index}"
        frame_range = frame_ranges.get(name, frame_ranges.get(folder.name))
        paths = _frames_for(annotation_file, boxes, frame_paths, frame_range)
        sequences.append(
            Sequence(
                name=name,
                frames=ImageFiles(paths),
                gt_boxes=boxes,
                absent=np.isnan(boxes).any(axis=1),
                benchmark=BENCHMARK,
                attributes={"frame_range": frame_range} if frame_range else {},
            )
        )
    return sequences


def _frames_for(
    annotation_file: Path, boxes: np.ndarray, frame_paths: list[Path], frame_range: tuple[int, int] | None
) -> list[Path]:
    """The frames ``boxes`` annotate: ``frame_range`` if given, else the first ``len(boxes)`` images."""
    folder = frame_paths[0].parent
    if frame_range is not None:
        first, last = frame_range
        if not 1 <= first <= last <= len(frame_paths):
            raise DatasetError(
                f"frame range {frame_range} of {annotation_file} is outside the {len(frame_paths)} frames in "
                f"{folder}"
            )
        paths = frame_paths[first - 1 : last]
        check_row_count(annotation_file, len(boxes), len(paths), f"{folder} frames {first}..{last}")
        return paths
    if len(boxes) >= len(frame_paths):
        check_row_count(annotation_file, len(boxes), len(frame_paths), str(folder))
    else:
        logger.warning(
            "%s has %d boxes for %d images in %s: using the first %d frames (pass frame_ranges if the boxes "
            "start later)",
            annotation_file,
            len(boxes),
            len(frame_paths),
            folder,
            len(boxes),
        )
    return frame_paths[: len(boxes)]
