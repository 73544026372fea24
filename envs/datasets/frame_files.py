"""Finding a sequence's frame files on disk, and checking that none is missing, before any is read.

Benchmarks number their frames (``0001.jpg``, ``00000001.jpg``, ``img_000001.png``). A frame deleted from
the middle of a folder would otherwise shift every later frame against its box without any error, so the
numbering is checked for gaps and the first missing file is named. Frames are only listed here; they are
decoded lazily by :class:`~tracking_by_trackers.envs.sequence.ImageFiles`, which names an unreadable file when it is read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tracking_by_trackers.envs.sequence import DatasetError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")

_DIGIT_RUNS = re.compile(r"(\d+)")
_TRAILING_NUMBER = re.compile(r"^(.*?)(\d+)$")


def existing_path(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a :class:`Path`, or a DatasetError naming it if it does not exist.

    Args:
        path: A file or folder given by the user.
        what: What the path should be, for the message (``"OTB dataset"``).
    """
    if not os.fspath(path):
        raise DatasetError(f"empty path given for the {what}")
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise DatasetError(f"{what} path does not exist: {resolved}")
    return resolved


def natural_key(name: str) -> tuple:
    """Sort key that orders by name, with digit runs compared as numbers (``9.jpg`` before ``10.jpg``).

    For zero-padded names, as every benchmark uses, this is the plain name order.
    """
    return tuple(int(part) if part.isdigit() else part for part in _DIGIT_RUNS.split(name))


def _is_hidden(path: Path) -> bool:
    # macOS archives carry "._0001.jpg" resource forks and ".DS_Store"; they are never frames or sequences.
    return path.name.startswith(".")


def subfolders(folder: Path) -> list[Path]:
    """The visible folders directly in ``folder``, in :func:`natural_key` order of their names."""
    children = (child for child in folder.iterdir() if child.is_dir() and not _is_hidden(child))
    return sorted(children, key=lambda child: natural_key(child.name))


def is_image_file(path: Path) -> bool:
    """True for a visible file with one of :data:`IMAGE_EXTENSIONS` (any case)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not _is_hidden(path) and path.is_file()


def list_image_files(folder: Path, first_number: int | None = None) -> list[Path]:
    """The image files directly in ``folder`` (any of :data:`IMAGE_EXTENSIONS`, not hidden), in name order.

    Args:
        folder: The frames folder.
        first_number: The number the first frame must carry (1 for every benchmark); None when any start
            is fine (a plain folder of images).

    Returns:
        The frame paths, sorted with :func:`natural_key`.

    Raises:
        DatasetError: The folder is missing or holds no image, or the numbering has a gap; the message names
            the first missing file.
    """
    if not folder.is_dir():
        raise DatasetError(f"missing frames folder: {folder}")
    paths = sorted(
        (path for path in folder.iterdir() if is_image_file(path)),
        key=lambda path: natural_key(path.name),
    )
    if not paths:
        raise DatasetError(f"no image file ({', '.join(IMAGE_EXTENSIONS)}) in frames folder {folder}")
    check_numbering(paths, first_number)
    return paths


def _frame_name(prefix: str, number: int, width: int, suffix: str) -> str:
    return f"{prefix}{number:0{width}d}{suffix}"


def check_numbering(paths: list[Path], first_number: int | None = None) -> None:
    """Raise a DatasetError naming the first missing file if numbered frames skip a number.

    Names are numbered when all share one prefix and extension and end in digits (``0007.jpg``,
    ``img_0007.png``); other names are left alone, since nothing says what could be missing.

    Args:
        paths: Frame paths in :func:`natural_key` order.
        first_number: The number the first frame must carry, or None.
    """
    parts = [_TRAILING_NUMBER.match(path.stem) for path in paths]
    if not all(parts):
        return
    if len({(part.group(1), path.suffix) for part, path in zip(parts, paths, strict=True)}) > 1:
        return
    prefix, suffix, folder = parts[0].group(1), paths[0].suffix, paths[0].parent
    digits = [part.group(2) for part in parts]
    if first_number is not None and int(digits[0]) > first_number:
        missing = _frame_name(prefix, first_number, len(digits[0]), suffix)
        raise DatasetError(f"missing frame: {folder / missing} (the first frame is {paths[0].name})")
    for index in range(1, len(paths)):
        previous, following = digits[index - 1], digits[index]
        if int(following) > int(previous) + 1:
            # Keep the zero padding the neighbours use; unpadded names (9.jpg, 11.jpg) differ in length.
            width = len(previous) if len(previous) == len(following) else 0
            missing = _frame_name(prefix, int(previous) + 1, width, suffix)
            raise DatasetError(
                f"missing frame: {folder / missing} (the numbering jumps from {paths[index - 1].name} to "
                f"{paths[index].name})"
            )


def numbered_frame_paths(
    folder: Path, start: int, end: int, digits: int = 6, extension: str = "jpg"
) -> list[Path]:
    """The paths of frames ``start`` to ``end`` (inclusive) named ``%0<digits>d.<extension>``.

    Raises:
        DatasetError: The folder or one of the files is missing; the message names the first missing file.
    """
    if not folder.is_dir():
        raise DatasetError(f"missing frames folder: {folder}")
    paths = [folder / f"{number:0{digits}d}.{extension}" for number in range(start, end + 1)]
    for path in paths:
        if not path.is_file():
            raise DatasetError(f"missing frame: {path} (needed for frames {start}..{end} of {folder})")
    return paths
