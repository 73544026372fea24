"""Readers that turn benchmark folders and videos into ``list[Sequence]``.

Pick a reader by name with a spec ``"<reader>:<path>"``::

    sequences = load_dataset("otb:../shared/data/otb")
    sequences = load_dataset("got10k:/data/GOT-10k", split="val")
    sequences = load_dataset("video:clip.mp4", init_box=(10, 20, 40, 30))
    sequences = load_dataset("split:configs/splits/real.yaml:val")  # one split of a split file

Every reader takes the benchmark root (all its sequences, sorted by name with digit runs compared as
numbers, so ``seq2`` comes before ``seq10``) or one sequence folder. It checks that no frame file is
missing and that annotations and frames line up, and raises :class:`~tracking_by_trackers.envs.sequence.DatasetError` naming
the file (and line) at fault. Frames are read lazily: an unreadable image is reported when it is read.

The registry :data:`READERS` is open: add a reader with :func:`register_reader` (or by assigning to it); the
known names in error messages come from it.
"""

from __future__ import annotations

from collections.abc import Callable

from tracking_by_trackers.envs.datasets.got10k import read_got10k
from tracking_by_trackers.envs.datasets.image_folder import read_image_folder
from tracking_by_trackers.envs.datasets.lasot import read_lasot
from tracking_by_trackers.envs.datasets.otb import read_otb
from tracking_by_trackers.envs.datasets.split_file import read_split
from tracking_by_trackers.envs.datasets.synthetic_videos import read_synthetic
from tracking_by_trackers.envs.datasets.uav123 import read_uav123, read_uav123_10fps
from tracking_by_trackers.envs.datasets.video_file import read_video_file
from tracking_by_trackers.envs.datasets.vot import read_vot
from tracking_by_trackers.envs.sequence import DatasetError, Sequence

__all__ = ["READERS", "DatasetError", "load_dataset", "register_reader"]

Reader = Callable[..., list[Sequence]]

# Reader name → function(path, **options) -> list[Sequence]. The path is the text after the spec's first ':',
# passed on unchanged, so a reader that is not about files (synthetic videos) may read it as it likes.
READERS: dict[str, Reader] = {
    "otb": read_otb,
    "vot": read_vot,
    "uav123": read_uav123,
    "uav123_10fps": read_uav123_10fps,
    "got10k": read_got10k,
    "lasot": read_lasot,
    "folder": read_image_folder,
    "video": read_video_file,
    "synthetic": read_synthetic,
    # One split of a split file: split:<file>:<split>, e.g. split:configs/splits/real.yaml:val.
    "split": read_split,
}
# Readers that make their sequences rather than read them, so that their bare name is a whole spec.
PATHLESS_READERS = {"synthetic"}


def register_reader(name: str, reader: Reader, *, replace: bool = False) -> None:
    """Make ``reader`` available to :func:`load_dataset` as ``"<name>:<path>"``.

    Args:
        name: The reader's name; it may not contain ':' (the spec separator).
        reader: A function ``(path: str, **options) -> list[Sequence]``.
        replace: Allow replacing a reader already registered under ``name``.

    Raises:
        ValueError: A bad name, or a name already taken without ``replace``.
        TypeError: ``reader`` is not callable.
    """
    if not name or ":" in name:
        raise ValueError(f"a reader name must be non-empty and contain no ':', got {name!r}")
    if not callable(reader):
        raise TypeError(f"reader {name!r} must be callable, got {reader!r}")
    if name in READERS and not replace:
        raise ValueError(f"a reader named {name!r} is already registered (pass replace=True to replace it)")
    READERS[name] = reader


def load_dataset(spec: str, **options) -> list[Sequence]:
    """Read the sequences a spec ``"<reader>:<path>"`` names, e.g. ``"otb:../shared/data/otb"``.

    Args:
        spec: A reader name from :data:`READERS`, a colon, and the path the reader reads.
        **options: Passed on to the reader (``split="val"`` for GOT-10k, ``init_box=…`` for a video, …).

    Returns:
        The sequences, sorted by name.

    Raises:
        DatasetError: A spec without ':', an unknown reader (the message lists the known ones), a missing
            path (named), or whatever the reader finds wrong.
    """
    reader_name, separator, path = spec.partition(":")
    known = ", ".join(sorted(READERS))
    if not separator and reader_name.strip() in PATHLESS_READERS:
        separator = ":"
    if not separator:
        raise DatasetError(
            f"dataset spec {spec!r} has no ':': write '<reader>:<path>', e.g. 'otb:../shared/data/otb' "
            f"(readers: {known})"
        )
    reader_name = reader_name.strip()
    reader = READERS.get(reader_name, READERS.get(reader_name.lower()))
    if reader is None:
        raise DatasetError(f"unknown dataset reader {reader_name!r} in spec {spec!r}; known readers: {known}")
    return reader(path, **options)
