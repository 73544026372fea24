"""Procedural textures: fractal noise, the target's texture family, and cluttered background canvases.

All textures are float32 RGB in [0, 255], drawn once per video (the per-frame work is in :mod:`.render`).
A *texture family* (:class:`TextureFamily`) is a pattern kind, a palette and a spatial frequency: the target
and its distractors share one family and differ only in the noise realisation and a small colour shift, so
that they look alike, the way two cars or two fish do.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PATTERNS: tuple[str, ...] = ("blobs", "stripes", "checker", "noise")
"""The pattern kinds a texture family can have."""


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, cells: float = 4.0, octaves: int = 4
) -> np.ndarray:
    """Smooth multi-octave value noise ``(height, width)`` in [0, 1].

    ``cells`` is the number of noise cells across the larger side at the coarsest octave; each octave
    doubles it and halves the amplitude (1/f noise, like natural images).
    """
    total = np.zeros((height, width), np.float32)
    amplitude, weight = 1.0, 0.0
    for octave in range(octaves):
        n = cells * 2**octave
        grid_h = max(2, int(np.ceil(n * height / max(height, width))) + 1)
        grid_w = max(2, int(np.ceil(n * width / max(height, width))) + 1)
        grid = rng.random((grid_h, grid_w), dtype=np.float32)
        total += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        weight += amplitude
        amplitude *= 0.5
    total /= weight
    low, high = float(total.min()), float(total.max())
    return (total - low) / max(high - low, 1e-6)


def random_color(rng: np.random.Generator, saturation: tuple[float, float] = (0.4, 1.0)) -> np.ndarray:
    """An RGB colour in [0, 255] with a random hue, the given saturation range and a mid-to-high value."""
    hsv = np.array(
        [[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(0.45, 1.0) * 255]]], np.float32
    )
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def shift_color(rng: np.random.Generator, color: np.ndarray, amount: float) -> np.ndarray:
    """``color`` moved by a random RGB offset of norm about ``amount`` (0..255 units), kept in range."""
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction) + 1e-9
    return np.clip(color + amount * direction, 0, 255).astype(np.float32)


@dataclass(frozen=True)
class TextureFamily:
    """What a target and its look-alikes have in common.

    Attributes:
        pattern: One of :data:`PATTERNS`.
        palette: ``(3, 3)`` RGB colours (rows) the pattern mixes.
        frequency: Pattern cycles across the texture's larger side.
        angle: Stripe / checker orientation in radians.
        detail: Strength of the fine speckle in [0, 1]: how much small-scale structure the texture has.
    """

    pattern: str
    palette: np.ndarray
    frequency: float
    angle: float
    detail: float


def random_family(rng: np.random.Generator) -> TextureFamily:
    """A texture family with contrasting colours and a mid frequency, so correlation filters have structure."""
    first = random_color(rng)
    # The second colour is pushed away from the first so that the pattern has contrast in every channel mix.
    second = np.clip(255 - first + rng.normal(0, 30, 3), 0, 255).astype(np.float32)
    palette = np.stack([first, second, random_color(rng)])
    return TextureFamily(
        pattern=PATTERNS[rng.integers(len(PATTERNS))],
        palette=palette,
        frequency=float(rng.uniform(2.0, 4.5)),
        angle=float(rng.uniform(0, np.pi)),
        detail=float(rng.uniform(0.2, 1.0)),
    )


def family_member(rng: np.random.Generator, family: TextureFamily, color_shift: float) -> TextureFamily:
    """A look-alike family: the same pattern and frequency, the palette moved by ``color_shift`` (0..255)."""
    palette = np.stack([shift_color(rng, color, color_shift) for color in family.palette])
    angle = family.angle + rng.normal(0, 0.3)
    frequency = family.frequency * rng.uniform(0.85, 1.15)
    return TextureFamily(family.pattern, palette, frequency, angle, family.detail)


def family_texture(rng: np.random.Generator, family: TextureFamily, height: int, width: int) -> np.ndarray:
    """A ``(height, width, 3)`` float32 texture of ``family``; each call draws a new noise realisation."""
    size = max(height, width)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) / size
    warp = fractal_noise(rng, height, width, cells=3, octaves=2) - 0.5
    along = xs * np.cos(family.angle) + ys * np.sin(family.angle) + 0.15 * warp
    across = -xs * np.sin(family.angle) + ys * np.cos(family.angle) + 0.15 * warp
    phase = rng.uniform(0, 2 * np.pi)
    f = family.frequency
    if family.pattern == "stripes":
        mix = 0.5 + 0.5 * np.tanh(3 * np.sin(2 * np.pi * f * along + phase))
    elif family.pattern == "checker":
        mix = 0.5 + 0.5 * np.tanh(3 * np.sin(2 * np.pi * f * along + phase) * np.sin(2 * np.pi * f * across))
    elif family.pattern == "blobs":
        mix = 0.5 + 0.5 * np.tanh(8 * (fractal_noise(rng, height, width, cells=f, octaves=2) - 0.5))
    else:
        mix = fractal_noise(rng, height, width, cells=f, octaves=3)
    accent = np.clip(4 * (fractal_noise(rng, height, width, cells=f * 1.5, octaves=2) - 0.7), 0, 1)
    mix, accent = mix[..., None], accent[..., None]
    texture = (1 - mix) * family.palette[0] + mix * family.palette[1]
    texture = (1 - accent) * texture + accent * family.palette[2]
    # Fine detail (speckles a few pixels across): real objects have edges and print at every scale, and a
    # correlation filter needs them for a sharp peak. How much varies per family, like real targets do.
    fine = fractal_noise(rng, height, width, cells=max(4.0, size / 5.0), octaves=2)
    speckle = np.tanh(6 * (fine - 0.5))[..., None]
    shade = 1.0 + family.detail * 0.45 * speckle
    return np.clip(texture * shade, 0, 255).astype(np.float32)


def clutter_canvas(rng: np.random.Generator, height: int, width: int, clutter: float) -> np.ndarray:
    """A ``(height, width, 3)`` float32 background: coloured fractal noise plus ``clutter``-many shapes.

    ``clutter`` in [0, 1] sets the contrast of the base noise and the number of random rectangles, ellipses
    and lines per 100x100 pixels, which give trackers edges and corners to confuse with the target.
    """
    base = np.stack([random_color(rng, (0.1, 0.6)) for _ in range(3)])
    low = fractal_noise(rng, height, width, cells=3, octaves=3)[..., None]
    high = fractal_noise(rng, height, width, cells=12, octaves=3)[..., None]
    canvas = (1 - low) * base[0] + low * base[1]
    canvas = canvas * (1 - 0.3 * clutter) + (0.3 * clutter) * high * base[2] * 1.5
    num_shapes = rng.poisson(clutter * 6 * height * width / 100**2)
    for _ in range(num_shapes):
        color = tuple(float(c) for c in random_color(rng, (0.0, 0.8)))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(6, 40))
        kind = rng.integers(3)
        if kind == 0:
            cv2.rectangle(canvas, (cx, cy), (cx + size, cy + int(size * rng.uniform(0.3, 2))), color, -1)
        elif kind == 1:
            axes = (size // 2 + 1, int(size * rng.uniform(0.2, 0.6)) + 1)
            cv2.ellipse(canvas, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, color, -1, cv2.LINE_AA)
        else:
            end = (cx + int(rng.integers(-60, 60)), cy + int(rng.integers(-60, 60)))
            cv2.line(canvas, (cx, cy), end, color, int(rng.integers(1, 4)), cv2.LINE_AA)
    # Shading over the shapes too, so that they are textured surfaces rather than flat paint.
    canvas *= 0.75 + 0.5 * high
    return np.clip(canvas, 0, 255).astype(np.float32)
