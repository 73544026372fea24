"""Track one target through your own footage (a video file or a folder of images): ``tbt track``.

Given a tracker and the target's box in the first frame, :func:`track_video` runs the tracker over every
frame and writes to the output folder:

- ``boxes.csv``: ``frame,x,y,w,h,member,seconds``: the box of every frame (frame 0 is the given box), the
  member whose box it is (``student`` or a teacher; ``init`` on frame 0) and the seconds the tracker spent
  on the frame (``init`` or ``update``; reading and drawing left out);
- ``annotated.mp4``: the frames with the box drawn in the chosen member's colour and its name (MPEG-4
  Part 2, ``mp4v``: the codec this OpenCV build writes and reads without extra libraries; its H.264
  encoder is not available);
- ``summary.json``: the frame count, the tracker's FPS (frames after the first over the seconds in
  ``update``) and the overall FPS including decoding, drawing and encoding.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tracking_by_trackers.envs.datasets.frame_files import existing_path, list_image_files
from tracking_by_trackers.envs.datasets.video_file import VIDEO_EXTENSIONS
from tracking_by_trackers.envs.sequence import (
    DatasetError,
    FrameSource,
    ImageFiles,
    Sequence,
    VideoFileFrames,
    read_frame,
)
from tracking_by_trackers.policies.trackers.student_tracker import INIT_CHOICE, STUDENT, check_initial_box
from tracking_by_trackers.teachers.atomic_io import write_text_atomically
from tracking_by_trackers.teachers.tracker import FusingTracker, Tracker, check_tracker

__all__ = [
    "ANNOTATED_VIDEO",
    "BOXES_CSV",
    "SUMMARY_JSON",
    "TrackedVideo",
    "open_frames",
    "parse_box",
    "track_video",
]

BOXES_CSV = "boxes.csv"
ANNOTATED_VIDEO = "annotated.mp4"
SUMMARY_JSON = "summary.json"
VIDEO_CODEC = "mp4v"
# Frame rate of the annotated video when the input (a folder of images) has none.
DEFAULT_VIDEO_FPS = 25.0

# BGR colours: the student green, teachers in distinct colours, the given box white.
_STUDENT_BGR = (60, 200, 60)
_INIT_BGR = (255, 255, 255)
_TEACHER_BGR = [
    (40, 140, 255),
    (255, 120, 40),
    (200, 60, 220),
    (40, 220, 220),
    (120, 120, 255),
    (255, 200, 0),
]


@dataclass(frozen=True)
class TrackedVideo:
    """What :func:`track_video` produced.

    Attributes:
        boxes: ``(N, 4)`` ``[x, y, w, h]`` per frame.
        members: Per frame, whose box it is (``init``, ``student`` or a teacher's name).
        seconds: ``(N,)`` seconds the tracker spent on each frame.
        wall_seconds: Seconds for the whole run, reading, drawing and writing included.
        out_dir: The folder the files were written to.
    """

    boxes: np.ndarray
    members: list[str]
    seconds: np.ndarray
    wall_seconds: float
    out_dir: Path

    @property
    def tracker_fps(self) -> float:
        """Frames after the first over the seconds spent in ``update``."""
        spent = float(self.seconds[1:].sum())
        return (len(self.seconds) - 1) / spent if spent > 0 else float("nan")

    @property
    def overall_fps(self) -> float:
        """All frames over the whole run's seconds, decoding and writing the video included."""
        return len(self.seconds) / self.wall_seconds if self.wall_seconds > 0 else float("nan")


def parse_box(text: str) -> np.ndarray:
    """``"x,y,w,h"`` → a float box; ValueError with the expected form otherwise."""
    try:
        box = np.array([float(part) for part in text.replace(" ", "").split(",")])
    except ValueError:
        box = np.empty(0)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(f"a box is four numbers x,y,w,h (left, top, width, height in pixels), got {text!r}")
    return box


def open_frames(path: str | os.PathLike) -> tuple[FrameSource, float]:
    """The frames of a video file or an image folder, and the frame rate to write them back at.

    Raises:
        DatasetError: The path does not exist, or is neither a video file nor a folder of images.
    """
    given = existing_path(path, "video")
    if given.is_dir():
        return ImageFiles(list_image_files(given)), DEFAULT_VIDEO_FPS
    if given.suffix.lower() not in VIDEO_EXTENSIONS:
        raise DatasetError(
            f"{given} is neither a folder of images nor a video file ({', '.join(VIDEO_EXTENSIONS)})"
        )
    frames = VideoFileFrames(given)
    capture = cv2.VideoCapture(str(given))
    rate = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, rate if rate and np.isfinite(rate) and rate > 0 else DEFAULT_VIDEO_FPS


def _member_colours(member_names: list[str]) -> dict[str, tuple[int, int, int]]:
    teachers = [name for name in member_names if name != STUDENT]
    colours = {name: _TEACHER_BGR[i % len(_TEACHER_BGR)] for i, name in enumerate(teachers)}
    return {STUDENT: _STUDENT_BGR, INIT_CHOICE: _INIT_BGR, **colours}


def _annotate(frame_rgb: np.ndarray, box: np.ndarray, label: str, colour, index: int) -> np.ndarray:
    """The frame in BGR with the box, its label above it and the frame number in the corner."""
    image = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
    x1, y1 = int(round(box[0])), int(round(box[1]))
    x2, y2 = int(round(box[0] + box[2])), int(round(box[1] + box[3]))
    thickness = max(2, round(min(image.shape[:2]) / 240))
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness)
    scale = max(0.45, min(image.shape[:2]) / 600)
    # Dark outline under the text, so it reads on any background.
    for text, origin, text_colour in (
        (label, (x1, max(y1 - 6, 14)), colour),
        (f"#{index}", (6, int(22 * scale / 0.45)), (255, 255, 255)),
    ):
        cv2.putText(
            image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA
        )
        cv2.putText(
            image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, text_colour, thickness - 1, cv2.LINE_AA
        )
    return image


def _rounded(value: float) -> float | None:
    return round(value, 2) if np.isfinite(value) else None  # JSON has no NaN


def track_video(
    tracker: Tracker,
    frames: FrameSource,
    init_box,
    out_dir: str | os.PathLike,
    *,
    video_fps: float = DEFAULT_VIDEO_FPS,
    name: str = "video",
) -> TrackedVideo:
    """Track ``init_box`` through ``frames`` with ``tracker``, writing boxes, video and summary to ``out_dir``.

    Args:
        tracker: A fresh :class:`~tracking_by_trackers.teachers.tracker.Tracker`; for a
            :class:`~tracking_by_trackers.teachers.tracker.FusingTracker` (TRAS, TRAST, TRASFUST) each box is labelled with the
            member it came from, for any other with ``student``. Closed at the end.
        frames: The frames, RGB uint8.
        init_box: The target's ``[x, y, w, h]`` in frame 0.
        out_dir: Created if missing; files in it are overwritten.
        video_fps: Frame rate of the annotated video.
        name: The video's name (what teachers replaying stored results look up).

    Raises:
        ValueError: ``init_box`` is malformed or lies outside the first frame.
        DatasetError: A frame is unreadable or of another size than the first (named, with the file).
        TypeError: ``tracker`` does not follow :class:`~tracking_by_trackers.teachers.tracker.Tracker`.
    """
    started = time.perf_counter()
    check_tracker(tracker, "tracker given to track_video")
    fusing = isinstance(tracker, FusingTracker)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    first = read_frame(frames, 0, f"video {name}")
    box = check_initial_box(init_box, first.shape[:2])
    count = len(frames)
    # Teachers that replay stored results read the video's name; only frame 0's box is known.
    known = np.full((count, 4), np.nan)
    known[0] = box
    tracker.prepare(Sequence(name, frames, known, np.zeros(count, bool)))
    colours = _member_colours(tracker.member_names if fusing else [STUDENT])
    height, width = first.shape[:2]
    video_path = out_dir / ANNOTATED_VIDEO
    writer = cv2.VideoWriter(
        str(video_path), cv2.VideoWriter_fourcc(*VIDEO_CODEC), video_fps, (width, height)
    )
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {VIDEO_CODEC} video to {video_path}")
    boxes, seconds, members = np.zeros((count, 4)), np.zeros(count), [INIT_CHOICE] * count
    try:
        for index in range(count):
            frame = first if index == 0 else read_frame(frames, index, f"video {name}", first.shape[:2])
            start = time.perf_counter()
            if index == 0:
                tracker.init(frame, box)
                boxes[0] = box
            else:
                boxes[index] = tracker.update(frame)
                members[index] = tracker.choices[-1] if fusing else STUDENT
            seconds[index] = time.perf_counter() - start
            colour = colours.get(members[index], _STUDENT_BGR)
            writer.write(_annotate(frame, boxes[index], members[index], colour, index))
    finally:
        writer.release()
        tracker.close()
    table = pd.DataFrame(boxes.round(3), columns=["x", "y", "w", "h"]).assign(
        member=members, seconds=seconds.round(6)
    )
    write_text_atomically(out_dir / BOXES_CSV, table.to_csv(index_label="frame"))
    result = TrackedVideo(boxes, members, seconds, time.perf_counter() - started, out_dir)
    summary = {
        "frames": count,
        "tracker": tracker.name,
        "tracker_fps": _rounded(result.tracker_fps),
        "overall_fps": _rounded(result.overall_fps),
        "handed_to_teachers": sum(m not in (STUDENT, INIT_CHOICE) for m in members[1:]) / max(count - 1, 1),
    }
    write_text_atomically(out_dir / SUMMARY_JSON, json.dumps(summary, indent=2) + "\n")
    return result
