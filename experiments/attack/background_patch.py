"""Where the adversarial patch lies in each frame, and patched frames (docs/attack.md, *The patch*).

The patch is ONE static image in image coordinates, shared by every frame of a sequence: the rectangle
left after cutting a margin of 10 % of the frame's width and height from each edge (64 % of the frame).
On each frame it is hidden where the target is, inside the ground-truth box padded by 25 pixels on each
side, so the target stays wholly visible; frame 0 is never patched, so every tracker starts from a clean
template. Frames of one sequence share one size (the readers refuse frames of changing size), so one
patch array fits every frame; where the target is absent or not annotated (a NaN ground truth) the whole
rectangle is patched.

The patch's pixels are floats in [0, 1] (the attack's step size δ is on that scale); a patched frame is
``frame·(1 − m) + 255·patch·m`` for the frame's 0/1 mask ``m``, and the uint8 frames the trackers are
scored on round that to the nearest grey level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tracking_by_trackers.envs.sequence import DatasetError, InMemoryFrames, Sequence
from tracking_by_trackers.experiments.attack.differentiable_crop import rounded

__all__ = ["DEFAULT_MARGIN", "DEFAULT_PADDING", "PatchGeometry", "patched_sequence", "sequence_frames"]

DEFAULT_MARGIN = 0.1
"""Fraction of the frame's width (height) left unpatched at the left and right (top and bottom) edges."""
DEFAULT_PADDING = 25.0
"""Pixels added on each side of the ground-truth box to the region the patch never covers."""


def sequence_frames(sequence: Sequence) -> np.ndarray:
    """Every frame of ``sequence`` as one ``(T, H, W, 3)`` uint8 array.

    Raises:
        DatasetError: A frame whose size differs from frame 0's (one patch must fit every frame), naming
            the sequence and the frame.
    """
    first = sequence.frames[0]
    frames = np.empty((len(sequence), *first.shape), dtype=np.uint8)
    frames[0] = first
    for index in range(1, len(sequence)):
        frame = sequence.frames[index]
        if frame.shape != first.shape:
            raise DatasetError(
                f"sequence {sequence.benchmark}/{sequence.name}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                f"frame 0 {first.shape[1]}x{first.shape[0]}; the attack's patch needs frames of one size"
            )
        frames[index] = frame
    return frames


@dataclass(frozen=True)
class PatchGeometry:
    """The patch rectangle of one sequence and the per-frame masks that hide the target from it.

    Attributes:
        image_hw: ``(H, W)`` of the sequence's frames.
        top, left, height, width: The patch rectangle, in pixels of the frame.
        masks: ``(T, height, width)`` bool, True where frame t shows the patch (all False on frame 0).
    """

    image_hw: tuple[int, int]
    top: int
    left: int
    height: int
    width: int
    masks: np.ndarray

    @classmethod
    def for_sequence(
        cls, sequence: Sequence, margin: float = DEFAULT_MARGIN, padding: float = DEFAULT_PADDING
    ) -> PatchGeometry:
        """The patch of ``sequence``: its frames' size from frame 0, its target region from the ground truth.

        Raises:
            ValueError: ``margin`` outside [0, 0.5) or a negative ``padding``.
        """
        if not 0 <= margin < 0.5:
            raise ValueError(f"the patch margin must be in [0, 0.5) of the frame, got {margin}")
        if padding < 0:
            raise ValueError(f"the padding around the target must be >= 0 pixels, got {padding}")
        height, width = sequence.frames[0].shape[:2]
        top, left = int(round(margin * height)), int(round(margin * width))
        patch_h, patch_w = height - 2 * top, width - 2 * left
        rows = np.arange(top, top + patch_h) + 0.5  # pixel centres
        cols = np.arange(left, left + patch_w) + 0.5
        boxes = sequence.gt_boxes
        known = np.isfinite(boxes).all(axis=1) & ~sequence.absent
        x1, y1 = boxes[:, 0] - padding, boxes[:, 1] - padding
        x2, y2 = boxes[:, 0] + boxes[:, 2] + padding, boxes[:, 1] + boxes[:, 3] + padding
        with np.errstate(invalid="ignore"):
            inside_rows = (rows[None] >= y1[:, None]) & (rows[None] < y2[:, None])  # (T, patch_h)
            inside_cols = (cols[None] >= x1[:, None]) & (cols[None] < x2[:, None])  # (T, patch_w)
        target = inside_rows[:, :, None] & inside_cols[:, None, :] & known[:, None, None]
        masks = ~target
        masks[0] = False
        return cls((height, width), top, left, patch_h, patch_w, masks)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The patch array's shape, ``(height, width, 3)``."""
        return self.height, self.width, 3

    def initial_patch(self) -> np.ndarray:
        """The patch before any attack step: mid-grey 0.5 everywhere (the value the paper's toolbox starts from)."""
        return np.full(self.shape, 0.5, dtype=np.float32)

    def apply_torch(self, frames: torch.Tensor, patch: torch.Tensor) -> torch.Tensor:
        """``(T, H, W, 3)`` float frames (0–255) with ``patch`` (``(h, w, 3)``, 0–1) pasted where the masks say.

        Differentiable in ``patch``; the frames outside the patch rectangle are the input's own values. The
        patch's pixels are rounded to whole grey levels, as in :meth:`apply_uint8`, with the gradient passed
        straight through.
        """
        mask = torch.from_numpy(self.masks).to(frames.device)[..., None].to(frames.dtype)  # (T, h, w, 1)
        rows, cols = slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)
        inside = frames[:, rows, cols] * (1 - mask) + rounded(255.0 * patch[None]) * mask
        patched = frames.clone()
        patched[:, rows, cols] = inside
        return patched

    def apply_uint8(self, frames: np.ndarray, patch: np.ndarray) -> np.ndarray:
        """The uint8 ``(T, H, W, 3)`` frames the trackers see: ``patch`` (0–1) pasted and rounded."""
        patched = np.array(frames, dtype=np.uint8, copy=True)
        pixels = np.rint(np.clip(patch, 0.0, 1.0) * 255.0).astype(np.uint8)
        rows, cols = slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)
        inside = patched[:, rows, cols]
        inside[self.masks] = np.broadcast_to(pixels, inside.shape)[self.masks]
        return patched


def patched_sequence(sequence: Sequence, geometry: PatchGeometry, patch: np.ndarray | None) -> Sequence:
    """``sequence`` with its frames in memory and ``patch`` pasted (None: the clean frames)."""
    frames = sequence_frames(sequence)
    if patch is not None:
        frames = geometry.apply_uint8(frames, patch)
    return Sequence(
        name=sequence.name,
        frames=InMemoryFrames(frames),
        gt_boxes=sequence.gt_boxes,
        absent=sequence.absent,
        benchmark=sequence.benchmark,
        attributes=dict(sequence.attributes),
    )
