"""Scripted teachers for tests and controlled experiments, reading the ground truth in ``prepare(sequence)``.

- :class:`NoisyGroundTruthTeacher`: the ground truth plus seeded, size-relative noise; a teacher of known,
  tunable quality, identical in every process.
- :class:`FailingTeacher`: the ground truth until a chosen frame, then a chosen way of failing (raising,
  NaN or zero-size boxes, low confidence, a failed ``init``, or killing its whole process).

Both need :func:`tracking_by_trackers.teachers.one_pass.track_sequence` (or a caller that does the same) to call
``prepare(sequence)`` before ``init``. Frame 0 is the ``init`` frame, the first ``update`` is frame 1, and
frame ``k`` is frame ``k`` of the sequence given to ``prepare``.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from tracking_by_trackers.envs.sequence import Sequence
from tracking_by_trackers.teachers.tracker import BaseTracker

FAILURE_MODES: tuple[str, ...] = ("raise", "nan", "zero", "low_confidence", "init", "crash")
"""The ways a :class:`FailingTeacher` can fail."""


def _stable_hash(text: str) -> int:
    # Python's hash() of a str is salted per process; a teacher must give the same boxes in every actor.
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


class _GroundTruthTeacher(BaseTracker):
    """The ground truth of the prepared sequence, frame by frame; subclasses decide what to return."""

    def __init__(self, name: str):
        self.name = name
        self.last_ok = False
        self._prepared: Sequence | None = None
        self._sequence: Sequence | None = None
        self._frame = 0
        self._box: np.ndarray | None = None

    def prepare(self, sequence: Sequence) -> None:
        """Remember ``sequence``; its ground truth drives the boxes after the next ``init``."""
        self._prepared = sequence

    def init(self, image: np.ndarray, box) -> None:
        if self._prepared is None:
            raise RuntimeError(
                f"scripted teacher {self.name} reads the ground truth and needs prepare(sequence) before "
                "each init: run it through tracking_by_trackers.teachers.one_pass.track_sequence"
            )
        # Consumed here, so that a second video cannot silently follow the first one's ground truth.
        self._sequence, self._prepared = self._prepared, None
        self._frame = 0
        self._box = np.asarray(box, dtype=np.float64).copy()
        self.last_ok = True

    def _next_ground_truth(self) -> np.ndarray:
        """Advance one frame; the ground truth there, or NaN where the target is absent or not annotated."""
        if self._sequence is None:
            raise RuntimeError(f"scripted teacher {self.name}: call init(image, box) before update(image)")
        self._frame += 1
        if self._frame >= len(self._sequence):
            raise IndexError(
                f"scripted teacher {self.name}: update for frame {self._frame}, but sequence "
                f"{self._sequence.name} has {len(self._sequence)} frames"
            )
        return self._sequence.gt_boxes[self._frame]


class NoisyGroundTruthTeacher(_GroundTruthTeacher):
    """The ground truth with Gaussian noise relative to the box size.

    On each frame, with ``(x, y, w, h)`` the ground truth: ``x + N(0, noise·w)``, ``y + N(0, noise·h)``,
    ``w · exp(N(0, noise))``, ``h · exp(N(0, noise))`` (multiplicative, so sizes stay positive). The noise of
    frame ``k`` is drawn from a generator seeded by ``(seed, benchmark/name, k + frame_offset)``: the same
    teacher gives the same box on the same frame in any process, whatever ran before, and a clip made with
    ``Sequence.slice`` gets the boxes of the whole video. Where the ground truth is NaN (target absent), the
    last returned box is returned again.

    Args:
        noise: The relative standard deviation; 0 returns the ground truth exactly.
        seed: Picks one of many equally noisy teachers.
        name: The name results are stored under.
    """

    def __init__(self, noise: float = 0.1, seed: int = 0, name: str = "noisy_gt"):
        if not noise >= 0:
            raise ValueError(f"noise must be a non-negative number, got {noise}")
        super().__init__(name)
        self.noise = float(noise)
        self.seed = int(seed)

    def update(self, image: np.ndarray) -> np.ndarray:
        gt = self._next_ground_truth()
        if np.isfinite(gt).all():
            sequence = self._sequence
            frame = self._frame + sequence.attributes.get("frame_offset", 0)
            key = _stable_hash(f"{sequence.benchmark}/{sequence.name}")
            rng = np.random.default_rng([self.seed, key, frame])
            shift, log_scale = rng.normal(0.0, self.noise, 2), rng.normal(0.0, self.noise, 2)
            self._box = np.concatenate([gt[:2] + shift * gt[2:], gt[2:] * np.exp(log_scale)])
        return self._box.copy()


class FailingTeacher(_GroundTruthTeacher):
    """The exact ground truth until frame ``at_frame``, then one scripted failure.

    Modes (:data:`FAILURE_MODES`):

    - ``"raise"``: ``update`` raises :class:`RuntimeError` on every frame from ``at_frame`` on.
    - ``"nan"``: returns NaN boxes from ``at_frame`` on.
    - ``"zero"``: returns zero-size boxes (the ground truth's corner, ``w = h = 0``) from ``at_frame`` on.
    - ``"low_confidence"``: keeps returning the ground truth but sets ``last_ok`` False from ``at_frame`` on.
    - ``"init"``: ``init`` raises :class:`RuntimeError` (``at_frame`` is not used).
    - ``"crash"``: at frame ``at_frame``, **kills the whole process** with ``os._exit(1)``: no exception, no
      ``finally``, no flushing, as a segfaulting tracker takes down its Ray actor. **Only for tests of actor
      crashes, run inside a Ray actor or a subprocess: in the test process it ends pytest.**

    Where the ground truth is NaN before ``at_frame``, the last returned box is returned again.

    Args:
        mode: One of :data:`FAILURE_MODES`.
        at_frame: The first failing frame, at least 1 (frame 0 is ``init``).
        name: The name results are stored under.
    """

    def __init__(self, mode: str, at_frame: int = 5, name: str = "failing"):
        if mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; valid modes: {', '.join(FAILURE_MODES)}")
        if at_frame < 1:
            raise ValueError(
                f"at_frame must be at least 1 (frame 0 is init; use mode 'init'), got {at_frame}"
            )
        super().__init__(name)
        self.mode = mode
        self.at_frame = int(at_frame)

    def init(self, image: np.ndarray, box) -> None:
        super().init(image, box)
        if self.mode == "init":
            raise RuntimeError(f"scripted teacher {self.name}: scripted failure in init")

    def update(self, image: np.ndarray) -> np.ndarray:
        gt = self._next_ground_truth()
        if np.isfinite(gt).all():
            self._box = gt.copy()
        failing = self._frame >= self.at_frame
        self.last_ok = not (failing and self.mode == "low_confidence")
        if not failing:
            return self._box.copy()
        if self.mode == "crash":
            os._exit(1)
        if self.mode == "raise":
            raise RuntimeError(f"scripted teacher {self.name}: scripted failure on frame {self._frame}")
        if self.mode == "nan":
            return np.full(4, np.nan)
        if self.mode == "zero":
            return np.array([*self._box[:2], 0.0, 0.0])
        return self._box.copy()
