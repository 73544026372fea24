"""The state crop ρ in torch: bilinear sampling that gradients flow through, equal to :mod:`~tracking_by_trackers.envs.crops`.

The attack (docs/attack.md) needs the gradient of the student's box with respect to the frame's pixels,
and the project's crop is a ``cv2.warpAffine`` on uint8 arrays, which torch cannot differentiate. This
module samples the same points with ``torch.nn.functional.grid_sample``: the same inverse affine map
(:func:`~tracking_by_trackers.envs.crops.crop_inverse_maps`: box centre kept, sides scaled by the context c,
pixel centres aligned), bilinear interpolation, zeros outside the image. The only differences are OpenCV's
fixed-point arithmetic (source coordinates rounded to 1/32 pixel), which moves a few pixels of a crop by one
grey level (tested). The crops are rounded to whole grey levels like OpenCV's uint8 output, with the
gradient passed straight through the rounding (:func:`rounded`): the student then sees what the tracker
sees, and a linear read-out that amplifies sub-level differences cannot drift away from the real tracker.

Frames are float ``(T, H, W, 3)`` tensors on the 0–255 scale of the uint8 frames, channel-last like the
project's images; crops come back the same way, ready for the student's float forward pass
(:mod:`tracking_by_trackers.experiments.attack.tras_unrolled`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tracking_by_trackers.envs.crops import _MIN_REGION

__all__ = ["crop_pairs_torch", "crop_regions_torch", "rounded", "sampling_grid"]


def rounded(values: torch.Tensor) -> torch.Tensor:
    """``values`` rounded to whole grey levels, as the uint8 images and crops the trackers see are, with
    the gradient passed straight through the rounding (whose own gradient is zero almost everywhere)."""
    return values + (torch.round(values) - values).detach()


def sampling_grid(boxes: torch.Tensor, context: float, size: int, image_hw: tuple[int, int]) -> torch.Tensor:
    """``grid_sample``'s ``(N, S, S, 2)`` grid for the crops of ``boxes`` ``(N, 4)`` out of an ``H × W`` image.

    Output pixel ``(u, v)`` samples source pixel ``x = x0 + (u + ½)·rw/S − ½`` (OpenCV's pixel-centre
    coordinates, as in :func:`~tracking_by_trackers.envs.crops.crop_inverse_maps`), written in the normalised
    coordinates of ``grid_sample(align_corners=False)``, where pixel ``i``'s centre is ``(2i + 1)/W − 1``.
    """
    height, width = image_hw
    boxes = boxes.reshape(-1, 4)
    region_wh = torch.clamp(boxes[:, 2:] * context, min=_MIN_REGION)
    region_xy = boxes[:, :2] + boxes[:, 2:] / 2 - region_wh / 2
    steps = (torch.arange(size, dtype=boxes.dtype, device=boxes.device) + 0.5) / size  # (S,)
    # Source pixel-centre coordinate of each output pixel, then normalised: (2x + 1)/W − 1.
    xs = region_xy[:, 0:1] + steps[None] * region_wh[:, 0:1] - 0.5  # (N, S)
    ys = region_xy[:, 1:2] + steps[None] * region_wh[:, 1:2] - 0.5
    gx = (2 * xs + 1) / width - 1
    gy = (2 * ys + 1) / height - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)  # (N, S, S, 2)
    return grid


def crop_regions_torch(images: torch.Tensor, boxes: torch.Tensor, context: float, size: int) -> torch.Tensor:
    """Crop ``boxes[i]`` (with context) out of ``images[i]``: float ``(N, S, S, 3)``, zeros outside the image.

    Args:
        images: ``(N, H, W, 3)`` float frames, 0–255.
        boxes: ``(N, 4)`` ``[x, y, w, h]``; only the images get gradients (the boxes are positions).
        context: The context factor c.
        size: The output side S.
    """
    grid = sampling_grid(boxes.detach().to(torch.float64), context, size, images.shape[1:3])
    return _sample(images, grid)


def _sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    # Bilinear, zeros outside the image, as the OpenCV crop; channels last in and out, whole grey levels.
    sampled = F.grid_sample(
        images.permute(0, 3, 1, 2),
        grid.to(images.dtype),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    return rounded(sampled.permute(0, 2, 3, 1))


def crop_pairs_torch(frames: torch.Tensor, boxes: torch.Tensor, context: float, size: int) -> torch.Tensor:
    """The states ρ(F_{t-1}, F_t, b_{t-1}) of consecutive frames, all in one ``grid_sample`` call.

    Pair ``t`` (``t = 1 … T−1``) crops box ``boxes[t−1]`` out of ``frames[t−1]`` and out of ``frames[t]``.
    Every frame is sampled twice, as the previous frame of one pair and the current frame of the next, so
    each frame gets one grid twice as wide (its two crops side by side) and the frames are not copied
    once per crop.

    Args:
        frames: ``(T, H, W, 3)`` float frames, 0–255, T ≥ 2.
        boxes: ``(T−1, 4)``: the box each pair is cropped around.
        context: The context factor c.
        size: The crop side S.

    Returns:
        ``(T−1, 2, S, S, 3)`` float: index 0 the crop of the previous frame, index 1 of the current one.
    """
    count = len(frames)
    if count < 2 or boxes.shape != (count - 1, 4):
        raise ValueError(
            f"expected T >= 2 frames and (T-1, 4) boxes, got {count} frames, boxes {tuple(boxes.shape)}"
        )
    boxes = boxes.detach().to(torch.float64)
    # Frame k is the previous frame of pair k+1 (box k) and the current frame of pair k (box k-1); the
    # missing ends (frame 0 has no pair before it, frame T-1 none after) sample a dummy box.
    as_previous = torch.cat([boxes, boxes[-1:]])
    as_current = torch.cat([boxes[:1], boxes])
    hw = frames.shape[1:3]
    grid = torch.cat(
        [sampling_grid(as_previous, context, size, hw), sampling_grid(as_current, context, size, hw)], dim=2
    )  # (T, S, 2S, 2)
    sampled = _sample(frames, grid)  # (T, S, 2S, 3)
    previous = sampled[:-1, :, :size]
    current = sampled[1:, :, size:]
    return torch.stack([previous, current], dim=1)
