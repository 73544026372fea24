"""Clip sources: where the tracking MDP draws its episodes from.

An episode is one *clip*: a short run of consecutive frames of a video, with its ground truth and, when
teachers have tracked the video (step 2's transfer set), every teacher's boxes on those frames. A clip
source only has to implement :meth:`ClipSource.sample`; the environment does everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from tracking_by_trackers.envs.boxes import is_valid
from tracking_by_trackers.envs.sequence import FrameSource, Sequence


@dataclass(frozen=True, eq=False)
class Clip:
    """Consecutive frames of one video, the unit an episode is made of.

    Attributes:
        name: Where the clip comes from, e.g. ``"OTB/Crossing[40:72]"``.
        frames: ``T`` lazy RGB uint8 frames.
        gt_boxes: ``(T, 4)`` ground truth; NaN rows where the target is absent or not annotated. Frame 0
            is always a valid box: the episode starts from it.
        absent: ``(T,)`` bool, the benchmark's absence flags.
        teacher_boxes: Teacher name → ``(T, 4)`` boxes, NaN on frames where that teacher has no usable box
            (it failed or reported low confidence). Empty when no teacher tracked the video.
    """

    name: str
    frames: FrameSource
    gt_boxes: np.ndarray
    absent: np.ndarray
    teacher_boxes: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        length = len(self.frames)
        if length < 2:
            raise ValueError(f"clip {self.name} has {length} frame(s); an episode needs at least 2")
        for what, array in [("gt_boxes", self.gt_boxes), *self.teacher_boxes.items()]:
            if np.shape(array) != (length, 4):
                raise ValueError(
                    f"clip {self.name}: {what} has shape {np.shape(array)}, expected ({length}, 4)"
                )
        if np.shape(self.absent) != (length,):
            raise ValueError(
                f"clip {self.name}: absent has shape {np.shape(self.absent)}, expected ({length},)"
            )
        if not is_valid(self.gt_boxes[0]) or self.absent[0]:
            raise ValueError(f"clip {self.name} must start on a frame with a valid, present ground-truth box")

    def __len__(self) -> int:
        return len(self.gt_boxes)


@runtime_checkable
class ClipSource(Protocol):
    """Anything the environment can draw episodes from."""

    def sample(self, rng: np.random.Generator, length: int) -> Clip:
        """A clip of ``length`` frames (fewer only if no video is that long), drawn with ``rng``."""
        ...


class SequenceClipSource:
    """Clips cut at random from a list of sequences, optionally with teacher boxes per sequence.

    A video is drawn uniformly, then a start frame uniformly among those whose ground truth is valid and
    present (so the episode can start from it) and which leave ``length`` frames. A video shorter than
    ``length`` gives a shorter clip; a video with no possible start is rejected at construction.

    Args:
        sequences: The videos.
        teacher_boxes: Optional, one mapping per sequence (same order): teacher name → ``(N, 4)`` boxes
            over the whole sequence, NaN where the teacher has no usable box.
    """

    def __init__(
        self,
        sequences: SequenceABC[Sequence],
        teacher_boxes: SequenceABC[Mapping[str, np.ndarray]] | None = None,
    ):
        if len(sequences) == 0:
            raise ValueError("a SequenceClipSource needs at least one sequence")
        if teacher_boxes is not None and len(teacher_boxes) != len(sequences):
            raise ValueError(
                f"got teacher boxes for {len(teacher_boxes)} sequences but {len(sequences)} sequences"
            )
        self.sequences = list(sequences)
        self.teacher_boxes = [dict(t) for t in teacher_boxes] if teacher_boxes is not None else None
        self._valid_starts = []
        for sequence in self.sequences:
            starts = np.flatnonzero(is_valid(sequence.gt_boxes) & ~sequence.absent)
            starts = starts[starts < len(sequence) - 1]
            if len(starts) == 0:
                raise ValueError(
                    f"sequence {sequence.benchmark}/{sequence.name} has no frame an episode can start from"
                )
            self._valid_starts.append(starts)

    def __len__(self) -> int:
        return len(self.sequences)

    def sample(self, rng: np.random.Generator, length: int) -> Clip:
        if length < 2:
            raise ValueError(f"clip length must be at least 2, got {length}")
        index = int(rng.integers(len(self.sequences)))
        sequence, starts = self.sequences[index], self._valid_starts[index]
        fitting = starts[starts + length <= len(sequence)]
        # A video shorter than the clip length: take the longest clip it offers.
        start = int(rng.choice(fitting)) if len(fitting) else int(starts[0])
        stop = min(start + length, len(sequence))
        teachers = self.teacher_boxes[index] if self.teacher_boxes is not None else {}
        return Clip(
            name=f"{sequence.benchmark}/{sequence.name}[{start}:{stop}]",
            frames=sequence.frames.slice(start, stop),
            gt_boxes=sequence.gt_boxes[start:stop],
            absent=sequence.absent[start:stop],
            teacher_boxes={name: np.asarray(b, dtype=np.float64)[start:stop] for name, b in teachers.items()},
        )


def synthetic_clip_source(
    num_videos: int = 8, num_frames: int = 64, seed: int = 0, **config_fields
) -> SequenceClipSource:
    """The embedded default: clips from procedurally generated videos (no download, no teachers).

    ``config_fields`` are further fields of :class:`tracking_by_trackers.envs.synthetic.SyntheticConfig` (``difficulty``, …).
    """
    from tracking_by_trackers.envs.synthetic import SyntheticConfig, generate_dataset

    config = SyntheticConfig(num_frames=num_frames, **config_fields)
    return SequenceClipSource(generate_dataset(num_videos, seed=seed, config=config))
