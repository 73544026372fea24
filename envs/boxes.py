"""Box geometry of the tracking MDP: IoU, centre error, ψ, φ, clipping, conversions and the reward.

Conventions (house rules, see docs/method.md, *Boxes and geometry*):

- A box is a float ``[x, y, w, h]``: top-left corner, width and height in pixels. Any other format carries
  its name in the variable (``box_xyxy``, ``box_cxcywh``, ``polygon``).
- Every function is vectorised: it takes one box of shape ``(4,)`` or many of shape ``(..., 4)`` (leading
  dimensions broadcast against each other) and returns a result with the same leading shape; per-box scalars
  come back as a numpy scalar for a single box and an array otherwise.

Defined results for degenerate boxes (so that callers never see an exception or a silent garbage value):

- A **NaN box** (any NaN coordinate; the readers use it for "target absent" or "not annotated") has IoU 0 with
  everything, an infinite centre error, and reward 0 when it is the ground truth (there is nothing to reward);
  ψ, φ, clipping and conversions propagate NaN unchanged.
- A **zero-area box** (w <= 0 or h <= 0; negative sizes count as 0) has area 0: its IoU is 0 with every box,
  including an identical one, because the union of two empty boxes is empty
  (docs/method.md, *Boxes and geometry*). φ from a zero-size previous box divides by a tiny epsilon, so the
  action saturates at ±1 (or is 0 where the boxes agree): the clamp keeps it finite.
- :func:`clip_to_image` never returns a zero-area box: the result is at least ``min_size`` pixels wide and
  high and lies inside the image, so a tracker that drifts off the image keeps a valid box to crop around.
"""

from __future__ import annotations

import numpy as np

# Grid of the reward's floor (the paper's eq. 2): IoU is floored to multiples of 0.05 before mapping to
# [-1, 1].
REWARD_GRID = 0.05
# The IoU below which the reward is the failure value -1 (the paper's eq. 2).
REWARD_IOU_THRESHOLD = 0.5
# Guards φ against dividing by a zero-size previous box; the quotient is then clamped to [-1, 1].
_EPS = 1e-9


def _as_boxes(boxes) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"expected boxes of shape (4,) or (..., 4), got shape {boxes.shape}")
    return boxes


def _scalar_if_0d(values: np.ndarray):
    return values[()] if values.ndim == 0 else values


def is_valid(boxes) -> np.ndarray:
    """True where a box has no NaN/inf coordinate and a positive width and height."""
    boxes = _as_boxes(boxes)
    finite = np.isfinite(boxes).all(axis=-1)
    with np.errstate(invalid="ignore"):
        positive = (boxes[..., 2] > 0) & (boxes[..., 3] > 0)
    return _scalar_if_0d(finite & positive)


def area(boxes) -> np.ndarray:
    """Area w·h, with negative sizes counted as 0 and NaN boxes giving NaN."""
    boxes = _as_boxes(boxes)
    return _scalar_if_0d(np.clip(boxes[..., 2], 0, None) * np.clip(boxes[..., 3], 0, None))


def iou(boxes_a, boxes_b) -> np.ndarray:
    """Intersection over union of ``[x, y, w, h]`` boxes, broadcast over leading dimensions.

    Matches the GOT-10k toolkit's ``rect_iou`` (continuous coordinates, no +1 pixel) on valid boxes; 0 where
    the union is empty or either box has a NaN coordinate.
    """
    a, b = _as_boxes(boxes_a), _as_boxes(boxes_b)
    aw, ah = np.clip(a[..., 2], 0, None), np.clip(a[..., 3], 0, None)
    bw, bh = np.clip(b[..., 2], 0, None), np.clip(b[..., 3], 0, None)
    inter_w = np.minimum(a[..., 0] + aw, b[..., 0] + bw) - np.maximum(a[..., 0], b[..., 0])
    inter_h = np.minimum(a[..., 1] + ah, b[..., 1] + bh) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
    union = aw * ah + bw * bh - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    # Recomputing the intersection from x + w can exceed the area by an ulp; keep IoU inside [0, 1].
    overlap = np.clip(np.where(np.isnan(overlap), 0.0, overlap), 0.0, 1.0)
    return _scalar_if_0d(overlap)


def centers(boxes) -> np.ndarray:
    """Box centres ``(..., 2)`` as ``x + w/2, y + h/2``."""
    boxes = _as_boxes(boxes)
    return boxes[..., :2] + boxes[..., 2:] / 2


def center_error(boxes_a, boxes_b) -> np.ndarray:
    """Euclidean distance in pixels between box centres; +inf where either box has a NaN coordinate.

    The GOT-10k toolkit places the centre at ``x + (w - 1)/2``; the −½ offset cancels in the difference, so
    the distances agree.
    """
    diff = centers(boxes_a) - centers(boxes_b)
    dist = np.sqrt((diff**2).sum(axis=-1))
    return _scalar_if_0d(np.where(np.isnan(dist), np.inf, dist))


def normalized_center_error(boxes, gt_boxes) -> np.ndarray:
    """Centre error with each axis divided by the ground-truth size (LaSOT / TrackingNet normalised precision).

    +inf where either box has a NaN coordinate or the ground truth has zero size.
    """
    boxes, gt_boxes = _as_boxes(boxes), _as_boxes(gt_boxes)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = (centers(boxes) - centers(gt_boxes)) / gt_boxes[..., 2:]
        dist = np.sqrt((diff**2).sum(axis=-1))
    return _scalar_if_0d(np.where(np.isfinite(dist), dist, np.inf))


def clip_to_image(boxes, image_hw: tuple[int, int], min_size: float = 1.0) -> np.ndarray:
    """Clip boxes so that they lie inside an image of ``(height, width)`` and keep at least ``min_size`` px.

    A box that left the image entirely comes back as a ``min_size`` box on the nearest border, so the
    tracker still has something to crop around. NaN coordinates stay NaN.
    """
    boxes = _as_boxes(boxes)
    height, width = image_hw
    if min_size <= 0 or min_size > min(height, width):
        raise ValueError(f"min_size must be in (0, min(height, width)], got {min_size} for image {image_hw}")
    x1 = np.clip(boxes[..., 0], 0, width - min_size)
    y1 = np.clip(boxes[..., 1], 0, height - min_size)
    x2 = np.clip(boxes[..., 0] + boxes[..., 2], x1 + min_size, width)
    y2 = np.clip(boxes[..., 1] + boxes[..., 3], y1 + min_size, height)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=-1)


def apply_action(
    actions, boxes, image_hw: tuple[int, int] | None = None, min_size: float = 1.0
) -> np.ndarray:
    """ψ: move ``boxes`` by ``actions`` ``[Δx, Δy, Δw, Δh]`` (docs/method.md, *Boxes and geometry*).

    ``x' = x + Δx·w, y' = y + Δy·h, w' = w + Δw·w, h' = h + Δh·h`` with the action first clamped to [-1, 1]^4.
    With ``image_hw`` the result is clipped to the image (see :func:`clip_to_image`); without it a Δw of -1
    can produce a zero-size box.
    """
    actions = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    boxes = _as_boxes(boxes)
    if actions.shape[-1:] != (4,):
        raise ValueError(f"expected actions of shape (4,) or (..., 4), got shape {actions.shape}")
    sizes = np.concatenate([boxes[..., 2:], boxes[..., 2:]], axis=-1)
    moved = boxes + actions * sizes
    return moved if image_hw is None else clip_to_image(moved, image_hw, min_size)


def action_between(boxes_prev, boxes) -> np.ndarray:
    """φ: the action that moves ``boxes_prev`` onto ``boxes`` (ψ's inverse), clamped to [-1, 1]^4.

    ``Δx = (x − x_prev)/w_prev, Δy = (y − y_prev)/h_prev, Δw = (w − w_prev)/w_prev, Δh = (h − h_prev)/h_prev``.
    NaN in either box gives a NaN action.
    """
    boxes_prev, boxes = _as_boxes(boxes_prev), _as_boxes(boxes)
    sizes_prev = np.concatenate([boxes_prev[..., 2:], boxes_prev[..., 2:]], axis=-1)
    offsets = np.concatenate(
        [boxes[..., :2] - boxes_prev[..., :2], boxes[..., 2:] - boxes_prev[..., 2:]], axis=-1
    )
    return np.clip(offsets / np.maximum(sizes_prev, _EPS), -1.0, 1.0)


def omega(ious) -> np.ndarray:
    """ω(z) = 2·floor_0.05(z) − 1: IoU floored to the 0.05 grid and mapped from [0, 1] to [-1, 1].

    A tiny epsilon before the floor absorbs float error, so that exactly 0.6 maps to 0.2 and not 0.1.
    """
    ious = np.asarray(ious, dtype=np.float64)
    return _scalar_if_0d(2.0 * np.floor(ious / REWARD_GRID + 1e-6) * REWARD_GRID - 1.0)


def reward(boxes, gt_boxes) -> np.ndarray:
    """The paper's eq. 2: ``ω(IoU(b, g))`` if IoU ≥ 0.5, else −1; 0 where the ground truth is absent (NaN)."""
    gt_boxes = _as_boxes(gt_boxes)
    overlaps = np.asarray(iou(boxes, gt_boxes))
    rewards = np.where(overlaps >= REWARD_IOU_THRESHOLD, omega(overlaps), -1.0)
    absent = np.isnan(gt_boxes).any(axis=-1)
    return _scalar_if_0d(np.where(absent, 0.0, rewards))


def xywh_to_xyxy(boxes) -> np.ndarray:
    """``[x, y, w, h]`` → ``[x1, y1, x2, y2]``."""
    boxes = _as_boxes(boxes)
    return np.concatenate([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], axis=-1)


def xyxy_to_xywh(boxes_xyxy) -> np.ndarray:
    """``[x1, y1, x2, y2]`` → ``[x, y, w, h]``."""
    boxes_xyxy = _as_boxes(boxes_xyxy)
    return np.concatenate([boxes_xyxy[..., :2], boxes_xyxy[..., 2:] - boxes_xyxy[..., :2]], axis=-1)


def xywh_to_cxcywh(boxes) -> np.ndarray:
    """``[x, y, w, h]`` → ``[cx, cy, w, h]`` (centre and size)."""
    boxes = _as_boxes(boxes)
    return np.concatenate([centers(boxes), boxes[..., 2:]], axis=-1)


def cxcywh_to_xywh(boxes_cxcywh) -> np.ndarray:
    """``[cx, cy, w, h]`` → ``[x, y, w, h]``."""
    boxes_cxcywh = _as_boxes(boxes_cxcywh)
    return np.concatenate([boxes_cxcywh[..., :2] - boxes_cxcywh[..., 2:] / 2, boxes_cxcywh[..., 2:]], axis=-1)


def polygon_to_xywh(polygons) -> np.ndarray:
    """8-value polygons ``[x1, y1, …, x4, y4]`` (VOT rotated boxes) → the enclosing axis-aligned box."""
    polygons = np.asarray(polygons, dtype=np.float64)
    if polygons.shape[-1:] != (8,):
        raise ValueError(f"expected polygons of shape (8,) or (..., 8), got shape {polygons.shape}")
    xs, ys = polygons[..., 0::2], polygons[..., 1::2]
    top_left = np.stack([xs.min(axis=-1), ys.min(axis=-1)], axis=-1)
    bottom_right = np.stack([xs.max(axis=-1), ys.max(axis=-1)], axis=-1)
    return xyxy_to_xywh(np.concatenate([top_left, bottom_right], axis=-1))
