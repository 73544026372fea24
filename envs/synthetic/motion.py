"""Trajectories over a video's frames: smooth random signals, wandering 2-D paths, bursts and excursions.

Every function returns one value per frame (an ``(n,)`` or ``(n, 2)`` float64 array) and draws its randomness
from the ``rng`` it is given, so that a video is a pure function of its seed.
"""

from __future__ import annotations

import numpy as np


def _gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth ``values`` ``(n, d)`` along time with a Gaussian of ``sigma`` frames (reflecting at the ends)."""
    if sigma <= 0:
        return values
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="reflect" if len(values) > radius else "edge")
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(values.shape[1])], axis=1)


def smooth_noise(rng: np.random.Generator, n: int, dims: int = 1, correlation: float = 8.0) -> np.ndarray:
    """Gaussian noise ``(n, dims)`` correlated over about ``correlation`` frames, rescaled to unit std."""
    smoothed = _gaussian_smooth(rng.standard_normal((n, dims)), correlation)
    # Rescale by the smoothing kernel's theoretical gain rather than the sample std, so that a short video
    # is not inflated to unit variance.
    gain = 1.0 / np.sqrt(2 * np.sqrt(np.pi) * correlation) if correlation > 0 else 1.0
    return smoothed / gain


def smooth_signal(
    rng: np.random.Generator, n: int, amplitude: float, periods: tuple[float, float] = (25.0, 120.0)
) -> np.ndarray:
    """A sum of three sinusoids with random periods (frames) and phases, 0 at frame 0, peak about ``amplitude``.

    Used for slow drifts: log scale, log aspect ratio, rotation, illumination.
    """
    t = np.arange(n, dtype=np.float64)
    total = np.zeros(n)
    for _ in range(3):
        period, phase, weight = rng.uniform(*periods), rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.0)
        total += weight * (np.sin(2 * np.pi * t / period + phase) - np.sin(phase))
    # Three unit sinusoids minus their start values reach about ±2 at most; this puts typical peaks near ±1.
    return amplitude * total / 2.0


def burst_gain(
    rng: np.random.Generator, n: int, rate: float, peak: float, first_frame: int = 5
) -> np.ndarray:
    """A per-frame speed multiplier: 1, with Poisson(``rate`` per 100 frames) smooth bursts up to ``peak``.

    A burst is a short stretch of fast motion (a sudden swerve or a camera jerk), which is what makes
    trackers with a small search window lose the target and what motion blur is for.
    """
    gain = np.ones(n)
    t = np.arange(n, dtype=np.float64)
    if n <= first_frame + 2:
        return gain
    for _ in range(rng.poisson(rate * n / 100.0)):
        centre, width = rng.uniform(first_frame, n), rng.uniform(2.0, 5.0)
        gain += (peak - 1.0) * rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    return gain


def reflect_into(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Fold ``values`` ``(n, d)`` into ``[low, high]`` per dimension by mirroring at the bounds (a bounce)."""
    span = np.maximum(high - low, 1e-6)
    phase = np.mod(values - low, 2 * span)
    return low + np.where(phase > span, 2 * span - phase, phase)


def wandering_path(
    rng: np.random.Generator,
    n: int,
    start: np.ndarray,
    speed: float,
    correlation: float = 10.0,
    speed_gain: np.ndarray | None = None,
) -> np.ndarray:
    """A 2-D path ``(n, 2)`` from ``start`` whose velocity is smooth noise of about ``speed`` px per frame.

    The velocity turns over about ``correlation`` frames (smoothed random accelerations); ``speed_gain``
    (per frame) multiplies it, for bursts. The path is unbounded: fold it with :func:`reflect_into`.
    """
    velocity = speed * smooth_noise(rng, n, 2, correlation) / np.sqrt(2)
    # Keep a minimum drift so that "speed" really is a typical speed, not just a standard deviation around 0.
    drift = rng.normal(size=2)
    velocity += 0.5 * speed * drift / (np.linalg.norm(drift) + 1e-9)
    if speed_gain is not None:
        velocity *= speed_gain[:, None]
    velocity[0] = 0.0
    return np.asarray(start, dtype=np.float64) + np.cumsum(velocity, axis=0)


def excursion_profile(n: int, start: int, ramp: int, hold: int) -> np.ndarray:
    """0 until ``start``, a smooth rise to 1 over ``ramp`` frames, 1 for ``hold`` frames, a smooth fall to 0.

    Scales the offset that carries the target out of the view and back (a target-absent stretch).
    """
    t = np.arange(n, dtype=np.float64)
    rise = np.clip((t - start) / ramp, 0, 1)
    fall = np.clip((start + ramp + hold + ramp - t) / ramp, 0, 1)
    ramp_value = np.minimum(rise, fall)
    return ramp_value * ramp_value * (3 - 2 * ramp_value)
