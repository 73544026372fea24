"""A video file (mp4, avi, …) with an initial box: run a tracker on your own footage.

The initial box comes from the ``init_box`` option or from a text file named like the video (``clip.mp4`` →
``clip.txt``), which may also hold one box per frame. After an initial box only, the other frames have NaN
(unknown) boxes but are not absent. Frames are decoded lazily by :class:`~tracking_by_trackers.envs.sequence.VideoFileFrames`,
which decodes the file once up front to count them, since container frame counts are often wrong. The
benchmark is ``"custom"``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence as SequenceOf
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.datasets.annotation_files import initial_or_full_boxes, read_boxes
from tracking_by_trackers.envs.datasets.frame_files import existing_path, natural_key
from tracking_by_trackers.envs.sequence import DatasetError, Sequence, VideoFileFrames

BENCHMARK = "custom"

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")


def read_video_file(path: str | os.PathLike, *, init_box: SequenceOf[float] | None = None) -> list[Sequence]:
    """Read a video file as one sequence, or each video file in a folder as one.

    Args:
        path: A video file, or a folder of video files (each with its ``.txt`` box file).
        init_box: The target's ``[x, y, w, h]`` in frame 0; overrides the ``.txt`` file. Only for a single
            video.

    Returns:
        The sequences sorted by name, each named after its file without the extension.

    Raises:
        DatasetError: No video at ``path``, no initial box, a malformed box file, or a video OpenCV cannot
            decode.
    """
    given = existing_path(path, "video file")
    if given.is_file():
        videos = [given]
    else:
        videos = [f for f in given.iterdir() if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file()]
        videos.sort(key=lambda video: natural_key(video.name))
        if not videos:
            raise DatasetError(f"no video file ({', '.join(VIDEO_EXTENSIONS)}) in {given}")
        if init_box is not None and len(videos) > 1:
            raise DatasetError(
                f"init_box is ambiguous for the {len(videos)} videos in {given}: give one video, or put each "
                f"initial box in a .txt file named like its video"
            )
    return [_read_video(video, init_box) for video in videos]


def _read_video(video: Path, init_box: SequenceOf[float] | None) -> Sequence:
    box_file = video.with_suffix(".txt")
    if init_box is not None:
        try:
            file_boxes = np.asarray(init_box, dtype=np.float64).reshape(1, 4)
        except (TypeError, ValueError):
            raise DatasetError(f"init_box must be 4 numbers (x, y, w, h), got {init_box!r}") from None
    elif box_file.is_file():
        file_boxes = read_boxes(box_file)
    else:
        raise DatasetError(
            f"no initial box for video {video}: pass an initial box with init_box=(x, y, w, h) or write it "
            f"to {box_file}"
        )
    frames = VideoFileFrames(video)
    boxes, absent = initial_or_full_boxes(box_file, file_boxes, len(frames), str(video))
    return Sequence(
        name=video.stem,
        frames=frames,
        gt_boxes=boxes,
        absent=absent,
        benchmark=BENCHMARK,
        attributes={"first_box_only": True} if len(file_boxes) == 1 < len(frames) else {},
    )
