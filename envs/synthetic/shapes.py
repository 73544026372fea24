"""Object outlines: rectangles, ellipses and irregular blobs, as polygons in unit coordinates.

An outline is a ``(k, 2)`` float64 polygon whose bounding box is exactly ``[-0.5, 0.5]²`` (x right, y down):
scaled by an object's ``(w, h)`` it fills a ``w × h`` box before rotation. Only rectangles fill that box;
ellipses and blobs leave background in its corners, as most real objects do in their ground-truth boxes.
"""

from __future__ import annotations

import cv2
import numpy as np

OUTLINES: tuple[str, ...] = ("rect", "ellipse", "blob")
"""The kinds of outline :func:`make_outline` draws."""

_CIRCLE_POINTS = 48


def _fill_unit_box(points: np.ndarray) -> np.ndarray:
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - (low + high) / 2) / (high - low)


def make_outline(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A unit outline of ``kind`` (one of :data:`OUTLINES`); blobs get a random wobbly, star-shaped edge."""
    if kind == "rect":
        return np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    angles = np.linspace(0, 2 * np.pi, _CIRCLE_POINTS, endpoint=False)
    radius = np.ones(_CIRCLE_POINTS)
    if kind == "blob":
        for harmonic in range(2, 6):
            radius += rng.uniform(0, 0.35 / harmonic * 2) * np.cos(
                harmonic * angles + rng.uniform(0, 2 * np.pi)
            )
        radius = np.maximum(radius, 0.35)
    elif kind != "ellipse":
        raise ValueError(f"unknown outline kind {kind!r}; valid kinds: {', '.join(OUTLINES)}")
    return _fill_unit_box(np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1))


def outline_alpha(outline: np.ndarray, height: int, width: int) -> np.ndarray:
    """The ``(height, width)`` float32 coverage of the outline stretched over the image, antialiased."""
    if len(outline) == 4 and np.allclose(np.abs(outline), 0.5):
        return np.ones((height, width), np.float32)
    # Filled 4x larger in fixed point, then averaged down: smoother than cv2's own antialiasing.
    supersample, fixed_point = 4, 16
    points = (outline + 0.5) * np.array([width, height]) * supersample
    big = np.zeros((height * supersample, width * supersample), np.uint8)
    cv2.fillPoly(big, [np.round(points * fixed_point).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def rotation_matrix(angle_deg: float) -> np.ndarray:
    """2x2 rotation counter-clockwise on screen (image y points down), as ``cv2.getRotationMatrix2D``."""
    theta = np.deg2rad(angle_deg)
    cos, sin = np.cos(theta), np.sin(theta)
    return np.array([[cos, sin], [-sin, cos]])


def outline_box(outline: np.ndarray, center: np.ndarray, size_wh: np.ndarray, angle_deg: float) -> np.ndarray:
    """The axis-aligned ``[x, y, w, h]`` box enclosing the outline scaled to ``size_wh``, rotated, centred."""
    points = (outline * np.asarray(size_wh)) @ rotation_matrix(angle_deg).T
    low, high = points.min(axis=0), points.max(axis=0)
    return np.concatenate([np.asarray(center, dtype=np.float64) + low, high - low])


def outline_area(outline: np.ndarray, size_wh: np.ndarray) -> float:
    """Area in pixels enclosed by the outline scaled to ``size_wh`` (the shoelace formula)."""
    x, y = outline[:, 0], outline[:, 1]
    unit_area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return unit_area * float(size_wh[0] * size_wh[1])
