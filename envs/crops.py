"""The state crop ρ: square-resized regions around boxes, batched, one affine warp per crop.

docs/method.md, *The state crop*: keep the box centre, scale width and height by the context factor c (1.5),
cut that region out of the frame (pixels outside the image are zero) and resize it to S×S. The crops stay
``uint8`` RGB: ImageNet normalisation happens inside the model, where it is one fused op on the device instead
of a float copy per crop here.

Each crop is a single ``cv2.warpAffine`` with the inverse map given directly, so cutting, zero padding and
resizing happen in one pass over the S×S output pixels, whatever the size of the region. The matrices for
a whole batch are computed at once; the warps write straight into one preallocated output array.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

DEFAULT_CONTEXT = 1.5
DEFAULT_CROP_SIZE = 128
# A region is never smaller than one pixel, so a zero-size box still gives a (blurry) crop instead of a
# division by zero.
_MIN_REGION = 1.0


def crop_inverse_maps(boxes: np.ndarray, context: float, size: int) -> np.ndarray:
    """``(N, 2, 3)`` affine maps from output pixel ``(u, v)`` to source pixel ``(x, y)`` for each box.

    Pixel centres are aligned: output pixel u covers the source interval ``x0 + [u, u+1)·rw/S``, so its
    centre samples ``x0 + (u + ½)·rw/S − ½`` in OpenCV's pixel-centre coordinates.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    region_wh = np.maximum(boxes[:, 2:] * context, _MIN_REGION)
    region_xy = boxes[:, :2] + boxes[:, 2:] / 2 - region_wh / 2
    scale = region_wh / size
    maps = np.zeros((len(boxes), 2, 3))
    maps[:, 0, 0], maps[:, 1, 1] = scale[:, 0], scale[:, 1]
    maps[:, :, 2] = region_xy + 0.5 * scale - 0.5
    return maps


def crop_regions(
    images: Sequence[np.ndarray] | np.ndarray,
    boxes,
    context: float = DEFAULT_CONTEXT,
    size: int = DEFAULT_CROP_SIZE,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Crop ``boxes[i]`` (with context) out of ``images[i]`` and resize to ``size × size``.

    Args:
        images: N images of shape ``(H_i, W_i, 3)`` uint8 (sizes may differ between images).
        boxes: ``(N, 4)`` ``[x, y, w, h]`` boxes, one per image.
        context: Factor c applied to the box width and height around its centre.
        size: Output side S.
        out: Optional ``(N, S, S, 3)`` uint8 array to write into (avoids an allocation in hot loops).

    Returns:
        ``(N, S, S, 3)`` uint8 crops; pixels outside the image are zero.

    Raises:
        ValueError: On a count mismatch or a box with a NaN/inf coordinate.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(images) != len(boxes):
        raise ValueError(f"got {len(images)} images but {len(boxes)} boxes")
    bad = ~np.isfinite(boxes).all(axis=1)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ValueError(f"cannot crop around a non-finite box: box {index} is {boxes[index].tolist()}")
    if out is None:
        out = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    elif out.shape != (len(boxes), size, size, 3) or out.dtype != np.uint8:
        raise ValueError(f"out must be ({len(boxes)}, {size}, {size}, 3) uint8, got {out.shape} {out.dtype}")
    maps = crop_inverse_maps(boxes, context, size)
    for image, inverse_map, crop in zip(images, maps, out, strict=True):
        cv2.warpAffine(
            image,
            inverse_map,
            (size, size),
            dst=crop,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
    return out


def crop_state_pairs(
    previous_frames: Sequence[np.ndarray],
    current_frames: Sequence[np.ndarray],
    boxes,
    context: float = DEFAULT_CONTEXT,
    size: int = DEFAULT_CROP_SIZE,
) -> np.ndarray:
    """ρ for a batch of states: the same box cut out of the previous and the current frame.

    Returns:
        ``(N, 2, S, S, 3)`` uint8: index 0 is the crop of the previous frame, index 1 of the current one.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    count = len(boxes)
    if not len(previous_frames) == len(current_frames) == count:
        raise ValueError(
            f"got {len(previous_frames)} previous frames, {len(current_frames)} current frames "
            f"and {count} boxes"
        )
    out = np.empty((count, 2, size, size, 3), dtype=np.uint8)
    # Interleave (prev, cur) so that the flat (2N, S, S, 3) view of `out` is filled in one batched call.
    interleaved = [frame for pair in zip(previous_frames, current_frames, strict=True) for frame in pair]
    crop_regions(
        interleaved, np.repeat(boxes, 2, axis=0), context, size, out=out.reshape(2 * count, size, size, 3)
    )
    return out


def crop_state(
    previous_frame: np.ndarray,
    current_frame: np.ndarray,
    box,
    context: float = DEFAULT_CONTEXT,
    size: int = DEFAULT_CROP_SIZE,
) -> np.ndarray:
    """ρ(F_{t-1}, F_t, b_{t-1}) for one state: ``(2, S, S, 3)`` uint8."""
    return crop_state_pairs([previous_frame], [current_frame], np.asarray(box)[None], context, size)[0]
