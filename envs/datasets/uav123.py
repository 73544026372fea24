"""UAV123 and UAV123@10fps: ``data_seq/<variant>/<video>/000001.jpg…`` with ``anno/<variant>/<sequence>.txt``.

Quirks handled here:

- **Absent target.** A ``NaN,NaN,NaN,NaN`` row marks a frame where the target is out of view or occluded:
  ``absent`` is True and the box stays NaN.
- **Sub-sequences.** Several annotations cut one long video into parts: ``group3_2.txt`` covers frames
  1011..1870 of folder ``group3``. No file next to the data says which frames; the official MATLAB toolkit
  keeps the ranges in ``configSeqs.m``. This reader parses that file when it lies at the root or is passed as
  ``config_path``, and takes ranges given as ``frame_ranges`` (which win). An annotation named exactly like a
  folder and without a range uses that folder's frames from ``000001``; one that only matches a folder once
  its ``_<n>`` suffix is dropped is an error asking for a range.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tracking_by_trackers.envs.datasets.annotation_files import check_row_count, read_boxes
from tracking_by_trackers.envs.datasets.frame_files import (
    existing_path,
    list_image_files,
    natural_key,
    numbered_frame_paths,
    subfolders,
)
from tracking_by_trackers.envs.sequence import DatasetError, ImageFiles, Sequence

# Annotation variant → the data_seq folder its frames are in (UAV20L annotates UAV123's 30 fps videos).
FRAME_FOLDERS = {"UAV123": "UAV123", "UAV123_10fps": "UAV123_10fps", "UAV20L": "UAV123"}
# The registered reader of each variant, for the message that points a user at the right one.
READER_NAMES = {"UAV123": "uav123", "UAV123_10fps": "uav123_10fps"}
CONFIG_FILE = "configSeqs.m"

_SUB_SEQUENCE_SUFFIX = re.compile(r"_\d+$")
_CONFIG_ENTRY = re.compile(r"struct\s*\((.*?)\)", re.DOTALL)


def _config_field(body: str, key: str, value_pattern: str) -> str | None:
    match = re.search(rf"'{key}'\s*,\s*{value_pattern}", body)
    return match.group(1) if match else None


class FrameRange(NamedTuple):
    """Where a (sub-)sequence's frames are: a video folder and 1-based inclusive frame numbers."""

    video: str | None
    start: int
    end: int
    digits: int = 6
    extension: str = "jpg"


def read_config_seqs(path: str | os.PathLike) -> dict[str, FrameRange]:
    """Parse the frame ranges of the UAV123 toolkit's ``configSeqs.m``.

    Each entry looks like ``struct('name','group3_2','path','D:\\UAV123\\data_seq\\UAV123\\group3\\',
    'startFrame',1011,'endFrame',1870,'nz',6,'ext','jpg','init_rect',[0,0,0,0])``: the video folder is the
    last component of ``path``; ``nz`` (digits) and ``ext`` are optional.

    Args:
        path: The ``configSeqs.m`` file.

    Returns:
        Sequence name → its :class:`FrameRange`.

    Raises:
        DatasetError: The file has no entry, or an entry lacks a name, startFrame or endFrame; the message
            names the file and the line.
    """
    path = existing_path(path, "UAV123 configSeqs.m")
    # MATLAB comments start with %; a commented-out entry must not count.
    text = "\n".join(line.split("%", 1)[0] for line in path.read_text(errors="replace").splitlines())
    ranges = {}
    for match in _CONFIG_ENTRY.finditer(text):
        body = match.group(1)
        name = _config_field(body, "name", r"'([^']+)'")
        start = _config_field(body, "startFrame", r"(\d+)")
        end = _config_field(body, "endFrame", r"(\d+)")
        if name is None or start is None or end is None:
            line = text.count("\n", 0, match.start()) + 1
            raise DatasetError(f"{path} line {line}: entry without 'name', 'startFrame' or 'endFrame'")
        folder_path = _config_field(body, "path", r"'([^']*)'") or ""
        folders = [part for part in re.split(r"[\\/]", folder_path) if part]
        digits = _config_field(body, "nz", r"(\d+)")
        extension = _config_field(body, "ext", r"'([^']+)'")
        ranges[name] = FrameRange(
            video=folders[-1] if folders else None,
            start=int(start),
            end=int(end),
            digits=int(digits) if digits else 6,
            extension=extension or "jpg",
        )
    if not ranges:
        raise DatasetError(f"no struct('name', …, 'startFrame', …, 'endFrame', …) entry in {path}")
    return ranges


def read_uav123(
    path: str | os.PathLike,
    *,
    variant: str = "UAV123",
    frame_ranges: dict[str, tuple[int, int]] | None = None,
    config_path: str | os.PathLike | None = None,
) -> list[Sequence]:
    """Read UAV123 sequences.

    Args:
        path: The dataset root (it holds ``anno/`` and ``data_seq/``), or one video folder
            ``data_seq/<variant>/<video>`` (its sequences: the one named like it and its sub-sequences).
        variant: ``"UAV123"``, ``"UAV123_10fps"`` or ``"UAV20L"``: which ``anno/<variant>`` to read.
        frame_ranges: Sequence name → ``(start, end)`` 1-based inclusive frame numbers in the video folder
            named like the sequence, or like it without its ``_<n>`` suffix. Overrides ``configSeqs.m``.
        config_path: A ``configSeqs.m`` to take frame ranges from; by default the one at the root, if any.

    Returns:
        The sequences sorted by name; benchmark is the variant.

    Raises:
        DatasetError: Nothing UAV123-like at ``path``, no annotations of this variant, a sub-sequence
            without a frame range, a missing frame, a malformed line, or a box count that differs from the
            frame count.
    """
    if variant not in FRAME_FOLDERS:
        raise DatasetError(f"unknown UAV123 variant {variant!r}; known: {', '.join(FRAME_FOLDERS)}")
    given = existing_path(path, f"{variant} dataset")
    only_video = None
    if (given / "anno").is_dir() and (given / "data_seq").is_dir():
        root = given
    elif given.parent.parent.name == "data_seq" and given.is_dir():
        root, only_video = given.parents[2], given.name
        if given.parent.name != FRAME_FOLDERS[variant]:
            raise DatasetError(
                f"{given} holds {given.parent.name} frames but the reader expects {FRAME_FOLDERS[variant]} "
                f"(variant {variant})"
            )
    else:
        raise DatasetError(
            f"no UAV123 layout at {given}: expected a root with anno/ and data_seq/, or a video folder "
            f"data_seq/<variant>/<video>"
        )
    annotation_files = _annotation_files(root, variant)
    if config_path is None and (root / CONFIG_FILE).is_file():
        config_path = root / CONFIG_FILE
    ranges = read_config_seqs(config_path) if config_path is not None else {}
    annotation_folder = root / "anno" / variant
    names = {annotation_file.stem for annotation_file in annotation_files}
    for name, (start, end) in (frame_ranges or {}).items():
        # A mistyped name would otherwise be ignored and surface as a confusing "range needed" error.
        if name not in names:
            raise DatasetError(f"frame_ranges names {name!r}, which has no annotation in {annotation_folder}")
        if not 1 <= start <= end:
            raise DatasetError(f"frame_ranges[{name!r}] = {(start, end)} is not a range 1 <= start <= end")
        ranges[name] = FrameRange(None, int(start), int(end))
    frames_root = root / "data_seq" / FRAME_FOLDERS[variant]
    sequences = []
    for annotation_file in annotation_files:
        name = annotation_file.stem
        video = _video_folder(frames_root, name, ranges.get(name))
        if only_video is None or video == only_video:
            sequences.append(_read_sequence(annotation_file, frames_root / video, ranges.get(name), variant))
    if not sequences:
        raise DatasetError(f"no annotation in {annotation_folder} is for video folder {given}")
    return sequences


def read_uav123_10fps(
    path: str | os.PathLike,
    *,
    frame_ranges: dict[str, tuple[int, int]] | None = None,
    config_path: str | os.PathLike | None = None,
) -> list[Sequence]:
    """Read UAV123@10fps sequences: :func:`read_uav123` with ``variant="UAV123_10fps"``."""
    return read_uav123(path, variant="UAV123_10fps", frame_ranges=frame_ranges, config_path=config_path)


def _annotation_files(root: Path, variant: str) -> list[Path]:
    folder = root / "anno" / variant
    if not folder.is_dir():
        present = [d.name for d in subfolders(root / "anno")]
        readers = ", ".join(f"{name} ({_how_to_read(name)})" for name in present)
        raise DatasetError(
            f"no {variant} annotations: {folder} is missing; annotation variants here: {readers or 'none'}"
        )
    files = sorted(folder.glob("*.txt"), key=lambda file: natural_key(file.name))
    if not files:
        raise DatasetError(f"no annotation file (*.txt) in {folder}")
    return files


def _how_to_read(variant: str) -> str:
    return f"reader '{READER_NAMES[variant]}'" if variant in READER_NAMES else f"variant={variant!r}"


def _video_folder(frames_root: Path, name: str, frame_range: FrameRange | None) -> str:
    """The name of the folder under ``frames_root`` that holds the frames of sequence ``name``."""
    if frame_range is not None and frame_range.video is not None:
        return frame_range.video
    if (frames_root / name).is_dir():
        return name
    return _SUB_SEQUENCE_SUFFIX.sub("", name)


def _read_sequence(
    annotation_file: Path, video_folder: Path, frame_range: FrameRange | None, variant: str
) -> Sequence:
    name = annotation_file.stem
    boxes = read_boxes(annotation_file)
    attributes = {}
    if frame_range is not None:
        frame_paths = numbered_frame_paths(
            video_folder, frame_range.start, frame_range.end, frame_range.digits, frame_range.extension
        )
        frames_at = f"{video_folder} frames {frame_range.start}..{frame_range.end}"
        attributes = {"video": video_folder.name, "frame_range": (frame_range.start, frame_range.end)}
    elif video_folder.name == name:
        frame_paths = list_image_files(video_folder, first_number=1)
        frames_at = str(video_folder)
    elif video_folder.is_dir():
        raise DatasetError(
            f"{annotation_file} annotates part of video folder {video_folder}: a frame range is needed "
            f"(put {CONFIG_FILE} at the dataset root, pass config_path=..., or "
            f"frame_ranges={{{name!r}: (start, end)}})"
        )
    else:
        raise DatasetError(f"missing frames folder for {annotation_file}: {video_folder.parent / name}")
    check_row_count(annotation_file, len(boxes), len(frame_paths), frames_at)
    return Sequence(
        name=name,
        frames=ImageFiles(frame_paths),
        gt_boxes=boxes,
        absent=np.isnan(boxes).any(axis=1),
        benchmark=variant,
        attributes=attributes,
    )
