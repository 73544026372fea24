"""The `Sequence`: one video with its ground truth, as every reader and the synthetic generator return it.

Frames are read lazily through a *frame source* and always come back as RGB ``uint8`` arrays of shape
``(H, W, 3)``. RGB is the one image convention of this project (the GOT-10k toolkit's PIL images are RGB);
code that talks to OpenCV converts to BGR at its edge.

Image files that are not 8-bit, 3-channel are converted rather than refused, as the GOT-10k toolkit's
``Image.open(...).convert("RGB")`` does: grey frames (whole OTB sequences are grey) get three equal
channels, an alpha channel is dropped, 16-bit images are scaled to 8 bits. A missing, empty or undecodable
file is a :class:`DatasetError` naming it. A frame whose size differs from its video's first frame is
refused by :func:`read_frame` (the ground truth is in the pixels of one frame size; see
docs/bad_input.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import cv2
import numpy as np


class DatasetError(ValueError):
    """Bad dataset input: a missing or unreadable frame, a malformed annotation line, a length mismatch."""


@runtime_checkable
class FrameSource(Protocol):
    """Random access to a video's frames, read on demand."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` as an RGB ``uint8`` array ``(H, W, 3)``."""
        ...

    def slice(self, start: int, stop: int) -> FrameSource:
        """Frames ``start`` to ``stop - 1`` as a source of their own, still lazy."""
        ...


def _check_index(index: int, length: int, what: str) -> int:
    if not -length <= index < length:
        raise IndexError(f"frame {index} is out of range for {what} of {length} frames")
    return index % length


def read_rgb_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB uint8, raising :class:`DatasetError` that names the file if it fails."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetError(f"missing frame: {path}")
    if os.path.getsize(path) == 0:
        raise DatasetError(f"unreadable frame (empty file, 0 bytes): {path}")
    # IMREAD_COLOR converts grey, alpha and 16-bit images to 8-bit, 3-channel (module docstring).
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"unreadable frame (not a decodable image): {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_frame(
    frames: FrameSource, index: int, where: str, expected_hw: tuple[int, int] | None = None
) -> np.ndarray:
    """Frame ``index`` of ``frames``, with a :class:`DatasetError` that names ``where`` and the frame.

    Args:
        frames: The video's frames.
        index: The frame to read.
        where: The video, as messages name it (``"OTB/Crossing"``, a clip's name).
        expected_hw: The ``(height, width)`` every frame must have (its video's first frame); None: any.

    Raises:
        DatasetError: The frame is missing or unreadable (the reader's message, which names the file,
            prefixed with ``where`` and the frame), or its size is not ``expected_hw``. A resized frame is
            refused rather than used: boxes are pixel coordinates of one frame size, so every box on it
            would be off.
    """
    try:
        frame = frames[index]
    except DatasetError as error:
        raise DatasetError(f"{where} frame {index}: {error}") from None
    if expected_hw is not None and tuple(frame.shape[:2]) != tuple(expected_hw):
        path = f" ({frames.paths[index]})" if isinstance(frames, ImageFiles) else ""
        raise DatasetError(
            f"{where} frame {index}{path}: frame size changes from {expected_hw[1]}x{expected_hw[0]} "
            f"(frame 0) to {frame.shape[1]}x{frame.shape[0]}; every frame of a video must have one size"
        )
    return frame


@dataclass(frozen=True)
class ImageFiles:
    """Frames stored as one image file each."""

    paths: tuple[str, ...]

    def __post_init__(self):
        object.__setattr__(self, "paths", tuple(os.fspath(p) for p in self.paths))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        return read_rgb_image(self.paths[_check_index(index, len(self), "an image folder")])

    def slice(self, start: int, stop: int) -> ImageFiles:
        return ImageFiles(self.paths[start:stop])


@dataclass(frozen=True)
class InMemoryFrames:
    """Frames held in one ``(N, H, W, 3)`` uint8 array (synthetic videos, tests)."""

    array: np.ndarray

    def __post_init__(self):
        if self.array.ndim != 4 or self.array.shape[-1] != 3 or self.array.dtype != np.uint8:
            raise ValueError(
                f"expected a (N, H, W, 3) uint8 array, got {self.array.shape} {self.array.dtype}"
            )

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.array[_check_index(index, len(self), "an in-memory video")]

    def slice(self, start: int, stop: int) -> InMemoryFrames:
        return InMemoryFrames(self.array[start:stop])


class VideoFileFrames:
    """Frames decoded from a video file (mp4, avi, …) with OpenCV.

    Decoding is sequential, so reading frames in order costs one decode each; a backwards jump seeks.
    The frame count is established once by decoding the whole file, because container metadata
    (``CAP_PROP_FRAME_COUNT``) is often wrong.
    """

    def __init__(self, path: str | os.PathLike, start: int = 0, stop: int | None = None):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise DatasetError(f"missing video file: {self.path}")
        total = self._count_frames()
        self.start, self.stop = start, total if stop is None else min(stop, total)
        self._capture: cv2.VideoCapture | None = None
        self._next_index = 0

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self.path)
        if not capture.isOpened():
            raise DatasetError(f"unreadable video file (OpenCV cannot open it): {self.path}")
        return capture

    def _count_frames(self) -> int:
        capture, count = self._open(), 0
        while capture.grab():
            count += 1
        capture.release()
        if count == 0:
            raise DatasetError(f"video file has no decodable frame: {self.path}")
        return count

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: int) -> np.ndarray:
        absolute = self.start + _check_index(index, len(self), f"video {self.path}")
        if self._capture is None or absolute < self._next_index:
            if self._capture is not None:
                self._capture.release()
            self._capture = self._open()
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, absolute)
            self._next_index = absolute
        while self._next_index < absolute:
            self._capture.grab()
            self._next_index += 1
        ok, image = self._capture.read()
        self._next_index += 1
        if not ok:
            raise DatasetError(f"cannot decode frame {absolute} of video file {self.path}")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def slice(self, start: int, stop: int) -> VideoFileFrames:
        sliced = object.__new__(VideoFileFrames)
        sliced.path, sliced._capture, sliced._next_index = self.path, None, 0
        sliced.start, sliced.stop = self.start + start, min(self.start + stop, self.stop)
        return sliced

    def __getstate__(self):
        # A cv2.VideoCapture cannot be pickled (Ray ships sequences to actors); reopen on the other side.
        return {**self.__dict__, "_capture": None, "_next_index": 0}


@dataclass(frozen=True, eq=False)
class Sequence:
    """One video and its ground truth.

    Attributes:
        name: The sequence name, unique within its benchmark.
        frames: Lazy RGB uint8 frames.
        gt_boxes: ``(N, 4)`` float64 ``[x, y, w, h]``; NaN rows where the target is absent or not annotated
            (a video file with only an initial box has NaN everywhere after frame 0).
        absent: ``(N,)`` bool, True where the benchmark marks the target absent (fully occluded or out of
            view). Evaluation leaves these frames out.
        benchmark: The benchmark the sequence comes from (``"OTB"``, ``"GOT-10k"``, ``"synthetic"``, …).
        attributes: Extra per-sequence data a reader found (``cover`` levels, frame range, …).
    """

    name: str
    frames: FrameSource
    gt_boxes: np.ndarray
    absent: np.ndarray
    benchmark: str = "custom"
    attributes: dict = field(default_factory=dict)

    def __post_init__(self):
        gt_boxes = np.asarray(self.gt_boxes, dtype=np.float64).reshape(-1, 4)
        absent = np.asarray(self.absent, dtype=bool).reshape(-1)
        object.__setattr__(self, "gt_boxes", gt_boxes)
        object.__setattr__(self, "absent", absent)
        if not (len(self.frames) == len(gt_boxes) == len(absent)):
            raise DatasetError(
                f"sequence {self.benchmark}/{self.name}: {len(self.frames)} frames but {len(gt_boxes)} "
                f"ground-truth boxes and {len(absent)} absence flags"
            )
        if len(gt_boxes) == 0:
            raise DatasetError(f"sequence {self.benchmark}/{self.name} has no frames")
        if not np.isfinite(gt_boxes[0]).all() or gt_boxes[0, 2] <= 0 or gt_boxes[0, 3] <= 0:
            first = f" ({self.frames.paths[0]})" if isinstance(self.frames, ImageFiles) else ""
            raise DatasetError(
                f"sequence {self.benchmark}/{self.name}: the first frame{first} needs a valid initial box "
                f"(finite, width and height > 0; trackers start from it), got {gt_boxes[0].tolist()}"
            )

    def __len__(self) -> int:
        return len(self.gt_boxes)

    @property
    def init_box(self) -> np.ndarray:
        """The ground truth of frame 0, which one-pass evaluation initialises trackers with."""
        return self.gt_boxes[0].copy()

    @property
    def image_files(self) -> list[str] | None:
        """The frame paths when frames are image files (the GOT-10k toolkit's ``track`` wants them)."""
        return list(self.frames.paths) if isinstance(self.frames, ImageFiles) else None

    def slice(self, start: int, stop: int) -> Sequence:
        """Frames ``start`` to ``stop - 1`` as a sequence of their own (sub-sequences, training clips)."""
        if not 0 <= start < stop <= len(self):
            raise IndexError(f"cannot slice frames [{start}, {stop}) out of {self.name} ({len(self)} frames)")
        return Sequence(
            name=self.name,
            frames=self.frames.slice(start, stop),
            gt_boxes=self.gt_boxes[start:stop],
            absent=self.absent[start:stop],
            benchmark=self.benchmark,
            attributes={**self.attributes, "frame_offset": self.attributes.get("frame_offset", 0) + start},
        )
