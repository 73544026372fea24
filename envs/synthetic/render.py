"""Compositing one frame: a camera window on the background canvas, textured sprites, blur, light and noise.

Frames are built in float32 RGB ([0, 255]) and converted to uint8 once, at the end. Sprites carry
premultiplied alpha, so that bilinear warping and blurring blend their edges correctly. Every sprite is warped
only into the region of interest it covers, which keeps the cost per object small.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tracking_by_trackers.envs.synthetic import shapes

# Transparent border around a sprite's texture, so that warping antialiases its outline.
_SPRITE_PAD = 2


@dataclass(frozen=True)
class Sprite:
    """A textured object to warp into frames.

    Attributes:
        rgba: ``(h + 2·pad, w + 2·pad, 4)`` float32, colour premultiplied by alpha.
        outline: The unit outline (:mod:`.shapes`) the texture is cut to.
        kind: The outline's kind, one of :data:`.shapes.OUTLINES`.
    """

    rgba: np.ndarray
    outline: np.ndarray
    kind: str

    @property
    def content_size(self) -> tuple[int, int]:
        """Width and height of the textured part, without the transparent border."""
        return self.rgba.shape[1] - 2 * _SPRITE_PAD, self.rgba.shape[0] - 2 * _SPRITE_PAD

    def box(self, center: np.ndarray, size_wh: np.ndarray, angle_deg: float) -> np.ndarray:
        """The axis-aligned ``[x, y, w, h]`` box enclosing the whole object posed so."""
        return shapes.outline_box(self.outline, center, size_wh, angle_deg)

    def area(self, size_wh: np.ndarray) -> float:
        """The object's area in pixels at ``size_wh`` (its outline's, not its box's)."""
        return shapes.outline_area(self.outline, size_wh)

    def with_rgba(self, rgba: np.ndarray) -> Sprite:
        """The same object with other pixels (an appearance change)."""
        return Sprite(rgba, self.outline, self.kind)


def make_sprite(texture: np.ndarray, outline: np.ndarray, kind: str) -> Sprite:
    """A sprite of ``texture`` ``(h, w, 3)`` cut to ``outline``."""
    height, width = texture.shape[:2]
    alpha = shapes.outline_alpha(outline, height, width)[..., None]
    rgba = np.concatenate([texture * alpha, alpha], axis=2).astype(np.float32)
    pad = ((_SPRITE_PAD, _SPRITE_PAD), (_SPRITE_PAD, _SPRITE_PAD), (0, 0))
    return Sprite(np.pad(rgba, pad), outline, kind)


def sprite_matrix(sprite: Sprite, center: np.ndarray, size_wh: np.ndarray, angle_deg: float) -> np.ndarray:
    """The 2x3 affine map from sprite pixels to image pixels.

    The sprite's textured part becomes a ``size_wh`` object centred at ``center``, rotated by ``angle_deg``
    (counter-clockwise on screen, as ``cv2.getRotationMatrix2D``).
    """
    content_w, content_h = sprite.content_size
    linear = shapes.rotation_matrix(angle_deg) @ np.diag([size_wh[0] / content_w, size_wh[1] / content_h])
    # Boxes put pixel i at [i, i + 1) while cv2 samples at pixel centres (index i is the point i + 0.5):
    # the map is built between centre-indexed coordinates, hence the half-pixel shifts.
    sprite_center = np.array([sprite.rgba.shape[1], sprite.rgba.shape[0]]) / 2.0 - 0.5
    offset = np.asarray(center, dtype=np.float64) - 0.5 - linear @ sprite_center
    return np.hstack([linear, offset[:, None]])


# cv2.filter2D switches to a DFT for kernels above 11x11, which is far slower on a frame: longer streaks
# are blurred at a reduced resolution instead, where the detail they smear away is not missed.
_LONGEST_DIRECT_STREAK = 10.0


def motion_blur_kernel(streak: np.ndarray) -> np.ndarray:
    """A normalised line kernel along ``streak``, the displacement (px) during the exposure."""
    length = float(np.hypot(*streak))
    radius = int(np.ceil(length / 2))
    size = 2 * radius + 1
    kernel = np.zeros((size, size), np.float32)
    dx, dy = np.asarray(streak, dtype=np.float64) / 2
    # cv2.line works in fixed point (shift=4) so that sub-pixel streak ends are kept.
    scale = 16
    p1 = (int(round((radius - dx) * scale)), int(round((radius - dy) * scale)))
    p2 = (int(round((radius + dx) * scale)), int(round((radius + dy) * scale)))
    cv2.line(kernel, p1, p2, 1.0, 1, cv2.LINE_AA, shift=4)
    return kernel / kernel.sum()


def streak_radius(streak: np.ndarray | None) -> int:
    """How far (px) a motion blur of ``streak`` spreads an image; 0 for no blur."""
    return 0 if streak is None else int(np.ceil(float(np.hypot(*streak)) / 2))


def motion_blur(image: np.ndarray, streak: np.ndarray | None, border: int = cv2.BORDER_REFLECT) -> np.ndarray:
    """``image`` smeared along ``streak`` (px), as a moving camera or object exposes it; unchanged if short."""
    if streak is None or float(np.hypot(*streak)) < 1.5:
        return image
    factor = int(np.ceil(float(np.hypot(*streak)) / _LONGEST_DIRECT_STREAK))
    if factor == 1:
        return cv2.filter2D(image, -1, motion_blur_kernel(streak), borderType=border)
    height, width = image.shape[:2]
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small = cv2.filter2D(small, -1, motion_blur_kernel(np.asarray(streak) / factor), borderType=border)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Placement:
    """Where a sprite landed in a frame: its region of interest and its alpha there.

    Attributes:
        x0: Left column of the region in the frame.
        y0: Top row of the region in the frame.
        alpha: ``(h, w)`` float32 coverage of the region by the sprite.
    """

    x0: int
    y0: int
    alpha: np.ndarray


def composite(frame: np.ndarray, sprite: Sprite, matrix: np.ndarray, streak: np.ndarray | None = None):
    """Paint ``sprite`` warped by ``matrix`` over ``frame`` (float32, in place); its :class:`Placement`.

    ``streak`` (px, see :func:`motion_blur`) smears the sprite, alpha included, before blending.
    Returns None when the sprite falls entirely outside the frame.
    """
    height, width = frame.shape[:2]
    sprite_h, sprite_w = sprite.rgba.shape[:2]
    corners = np.array([[0, 0, 1], [sprite_w, 0, 1], [0, sprite_h, 1], [sprite_w, sprite_h, 1]], np.float64)
    projected = corners @ matrix.T
    margin = 1 + streak_radius(streak)
    x0 = max(int(np.floor(projected[:, 0].min())) - margin, 0)
    y0 = max(int(np.floor(projected[:, 1].min())) - margin, 0)
    x1 = min(int(np.ceil(projected[:, 0].max())) + margin, width)
    y1 = min(int(np.ceil(projected[:, 1].max())) + margin, height)
    if x1 <= x0 or y1 <= y0:
        return None
    local = matrix.copy()
    local[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(
        sprite.rgba, local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    warped = motion_blur(warped, streak, border=cv2.BORDER_CONSTANT)
    alpha = warped[..., 3]
    region = frame[y0:y1, x0:x1]
    region *= 1.0 - alpha[..., None]
    region += warped[..., :3]
    return Placement(x0, y0, alpha)


def covered_fraction(target: Placement, cover: list[Placement]) -> np.ndarray:
    """Per pixel of ``target``'s region, how much of it the ``cover`` placements (drawn later) hide."""
    hidden = np.zeros_like(target.alpha)
    height, width = target.alpha.shape
    for other in cover:
        oh, ow = other.alpha.shape
        ix0, iy0 = max(target.x0, other.x0), max(target.y0, other.y0)
        ix1, iy1 = min(target.x0 + width, other.x0 + ow), min(target.y0 + height, other.y0 + oh)
        if ix1 <= ix0 or iy1 <= iy0:
            continue
        mine = hidden[iy0 - target.y0 : iy1 - target.y0, ix0 - target.x0 : ix1 - target.x0]
        theirs = other.alpha[iy0 - other.y0 : iy1 - other.y0, ix0 - other.x0 : ix1 - other.x0]
        mine += (1.0 - mine) * theirs
    return hidden


def camera_view(canvas: np.ndarray, origin: np.ndarray, zoom: float, size_hw: tuple[int, int]) -> np.ndarray:
    """The ``size_hw`` window of ``canvas`` whose top-left is at ``origin``, magnified by ``zoom``."""
    inverse = np.array([[1.0 / zoom, 0.0, origin[0]], [0.0, 1.0 / zoom, origin[1]]])
    return cv2.warpAffine(
        canvas,
        inverse,
        (size_hw[1], size_hw[0]),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def expose(
    frame: np.ndarray,
    gain_map: np.ndarray,
    contrast: float,
    brightness: float,
    noise: np.ndarray,
    noise_sigma: float,
) -> np.ndarray:
    """The camera's uint8 output: ``frame·gain_map·contrast + brightness + noise_sigma·noise``, saturated."""
    lit = cv2.multiply(frame, gain_map)
    return cv2.addWeighted(lit, contrast, noise, noise_sigma, brightness, dtype=cv2.CV_8U)
