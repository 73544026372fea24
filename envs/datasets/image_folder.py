"""A plain folder of images (your own footage) with a box file: ``<folder>/*.jpg|png|bmp`` and a ``.txt``.

Frames are every image in the folder, sorted by name (digit runs compare as numbers, so ``frame9.png`` comes
before ``frame10.png``). The box file holds either one box per frame or only the initial box, which is
enough to run a tracker; the frames after it then have NaN (unknown) boxes. The benchmark is ``"custom"``.
"""

from __future__ import annotations

import os
from pathlib import Path

from tracking_by_trackers.envs.datasets.annotation_files import initial_or_full_boxes, read_boxes
from tracking_by_trackers.envs.datasets.frame_files import (
    IMAGE_EXTENSIONS,
    existing_path,
    is_image_file,
    list_image_files,
    subfolders,
)
from tracking_by_trackers.envs.sequence import DatasetError, ImageFiles, Sequence

BENCHMARK = "custom"

_DEFAULT_BOX_FILE = "groundtruth.txt"


def _has_images(folder: Path) -> bool:
    return any(is_image_file(path) for path in folder.iterdir())


def read_image_folder(
    path: str | os.PathLike, *, box_file: str | os.PathLike | None = None
) -> list[Sequence]:
    """Read a folder of images as one sequence, or each image folder inside ``path`` as one.

    Args:
        path: A folder of images, or a folder of such folders.
        box_file: The box file: looked up in each image folder first, then as given. By default
            ``groundtruth.txt``, else the only ``.txt`` file of the folder.

    Returns:
        The sequences sorted by name, each named after its folder.

    Raises:
        DatasetError: No image at ``path``, no box file or several candidates, a malformed line, a gap in
            the frame numbers, or a box file that holds neither one box nor one per frame.
    """
    given = existing_path(path, "image folder")
    if not given.is_dir():
        raise DatasetError(f"not a folder: {given} (the 'folder' reader wants a folder of images)")
    folders = [given] if _has_images(given) else [child for child in subfolders(given) if _has_images(child)]
    if not folders:
        raise DatasetError(f"no image file ({', '.join(IMAGE_EXTENSIONS)}) in {given} or its subfolders")
    return [_read_sequence(folder, box_file) for folder in folders]


def _find_box_file(folder: Path, box_file: str | os.PathLike | None) -> Path:
    if box_file is not None:
        given = Path(box_file).expanduser()
        # folder / an absolute path is that path, so this covers both kinds.
        path = folder / given if (folder / given).is_file() else given
        if not path.is_file():
            raise DatasetError(f"missing box file: {path}")
        return path
    if (folder / _DEFAULT_BOX_FILE).is_file():
        return folder / _DEFAULT_BOX_FILE
    candidates = sorted(folder.glob("*.txt"))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise DatasetError(f"no box file in {folder}: add {_DEFAULT_BOX_FILE} or pass box_file=...")
    names = ", ".join(candidate.name for candidate in candidates)
    raise DatasetError(f"several candidate box files in {folder} ({names}): pass box_file=...")


def _read_sequence(folder: Path, box_file: str | os.PathLike | None) -> Sequence:
    annotation_file = _find_box_file(folder, box_file)
    frame_paths = list_image_files(folder)
    file_boxes = read_boxes(annotation_file)
    boxes, absent = initial_or_full_boxes(annotation_file, file_boxes, len(frame_paths), str(folder))
    return Sequence(
        name=folder.name,
        frames=ImageFiles(frame_paths),
        gt_boxes=boxes,
        absent=absent,
        benchmark=BENCHMARK,
        attributes={"first_box_only": True} if len(file_boxes) == 1 < len(frame_paths) else {},
    )
