"""What TRAS, TRAST and TRASFUST share: the student on a device, frames, boxes, and one batched pass.

:class:`StudentTracker` holds the network and the tracking state common to the three trackers: the
previous frame ``F_{t-1}``, the previous output box ``b_{t-1}``, and the member chosen on each frame. Its
:meth:`~StudentTracker.evaluate_states` is the only place the network runs: it crops ρ(F_{t-1}, F_t, b)
for several candidate boxes at once (one batched warp call) and sends every crop pair through the
network in ONE forward pass, each row with its own LSTM stream (:mod:`tracking_by_trackers.policies.trackers.lstm_stream`).

Interface: the project's tracker protocol (:class:`tracking_by_trackers.teachers.tracker.FusingTracker`: a tracker that
records whose box it output on each frame), which is the GOT-10k toolkit's tracker (``name``,
``init(image, box)``, ``update(image) -> box``) plus the toolkit's ``is_deterministic`` and
``track(img_files, box)``. The toolkit's class is not subclassed, so that the toolkit stays a test-only
dependency; its own ``Tracker.track`` drives these classes unchanged (tested). Images may be RGB ``uint8``
arrays (the project's convention) or the toolkit's PIL images.

Boxes: float ``[x, y, w, h]``. The student's action is clamped to [-1, 1]^4 and ψ's result clipped to the
image (:func:`tracking_by_trackers.envs.boxes.apply_action`); every box a tracker outputs lies inside the image.

Device: CUDA when available, else the CPU; ``device="cpu"`` or ``"cuda"`` overrides. The network is moved
there and switched to eval mode IN PLACE: several trackers share one network (tracking never changes its
weights, so sharing is safe and saves a copy per video), and a caller that hands over a network it is
still training must pass a copy.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

import numpy as np
import torch

from tracking_by_trackers.envs.boxes import apply_action, clip_to_image
from tracking_by_trackers.envs.crops import DEFAULT_CONTEXT, crop_state_pairs
from tracking_by_trackers.envs.sequence import read_rgb_image
from tracking_by_trackers.policies.student_export import load_student
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers.lstm_stream import (
    RESET_INTERVAL,
    LSTMStream,
    advance_streams,
    stack_states,
)
from tracking_by_trackers.teachers.tracker import BaseTracker

__all__ = ["INIT_CHOICE", "STUDENT", "StudentTracker", "as_rgb_frame", "check_initial_box", "resolve_device"]

logger = logging.getLogger(__name__)

STUDENT = "student"
"""The member name recorded when the student's own box is the output."""
INIT_CHOICE = "init"
"""The member name recorded for frame 0, whose box is the given initial box."""


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a torch device; None picks CUDA when it is available, else the CPU.

    Raises:
        ValueError: CUDA asked for on a machine without it, or a device name torch does not know.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:<index>'") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but this machine has no CUDA device; use 'cpu'")
    return resolved


def as_network(student: StudentNetwork | str | os.PathLike) -> StudentNetwork:
    """A student network given as itself, an exported ``.pt`` file or a training checkpoint folder."""
    if isinstance(student, StudentNetwork):
        return student
    return load_student(student)


def as_rgb_frame(image) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB array from an RGB array, a grey ``(H, W)`` array or a PIL image."""
    frame = np.asarray(image)
    if frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {frame.dtype}")
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3) or a grey one (H, W), got shape {frame.shape}")
    return frame


def check_initial_box(box, image_hw: tuple[int, int]) -> np.ndarray:
    """The initial box as a float ``[x, y, w, h]``, checked: finite, positive size, overlapping the image.

    Raises:
        ValueError: Naming the box and the image size.
    """
    values = np.asarray(box, dtype=np.float64).reshape(-1)
    height, width = image_hw
    if values.shape != (4,) or not np.isfinite(values).all() or values[2] <= 0 or values[3] <= 0:
        raise ValueError(
            f"the initial box must be four finite numbers x, y, w, h with w, h > 0, got {values.tolist()}"
        )
    x, y, w, h = values
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(
            f"the initial box {values.tolist()} lies outside the {width}x{height} frame "
            f"(x must be below {width}, y below {height}, and x + w, y + h above 0)"
        )
    return values


class StudentTracker(BaseTracker):
    """Base of the three trackers: the student network, the previous frame and box, and the choices.

    A :class:`tracking_by_trackers.teachers.tracker.FusingTracker` whose only member is the student; TRAST and TRASFUST add
    their teachers. ``last_ok`` stays True: the student always outputs a box inside the image.

    Args:
        student: The network, an exported student file or a training checkpoint folder.
        name: The name results are stored under.
        device: ``"cpu"``, ``"cuda"``, a torch device, or None for CUDA when available.
        context: The crop's context factor c (the paper's 1.5; docs/method.md, *The state crop*).
        reset_interval: Predictions between LSTM resets (32; docs/method.md, *LSTM reset*).

    Attributes:
        choices: Per frame since the last ``init``, the member whose box was output: ``"init"`` for frame
            0, ``"student"`` or a teacher's name after it.
    """

    is_deterministic = True
    mode: str
    """The tracker's kind (``"tras"``, ``"trast"``, ``"trasfust"``): a spec's first word and the default
    name's."""

    def __init__(
        self,
        student: StudentNetwork | str | os.PathLike,
        *,
        name: str,
        device: str | torch.device | None = None,
        context: float = DEFAULT_CONTEXT,
        reset_interval: int = RESET_INTERVAL,
    ):
        self.name = name
        self.device = resolve_device(device)
        network = as_network(student)
        # Trackers in threads share one network. Module.to() rebuilds the LSTM's flat weight list even when
        # nothing moves, and a forward pass in another thread then fails ("zip() argument 2 is longer than
        # argument 1"): move the network only when it is elsewhere.
        where = next(network.parameters()).device
        if where.type != self.device.type or self.device.index not in (None, where.index):
            network = network.to(self.device)
        self.network = network.eval()
        self.crop_size = self.network.config.crop_size
        self.context = float(context)
        self.reset_interval = int(reset_interval)
        self.choices: list[str] = []
        self._previous_frame: np.ndarray | None = None
        self._box: np.ndarray | None = None

    @property
    def member_names(self) -> list[str]:
        """Every name :attr:`choices` may hold after frame 0: the student's alone here."""
        return [STUDENT]

    # -- the toolkit's interface -------------------------------------------------------------------------

    def track(self, img_files: Sequence[str | os.PathLike], box, visualize: bool = False):
        """The GOT-10k toolkit's ``Tracker.track``: ``(boxes (N, 4), times (N,))`` over image files.

        ``visualize`` is accepted for the toolkit's signature and ignored: nothing here opens a window
        (``tbt track`` writes an annotated video instead).
        """
        if visualize:
            logger.warning("%s: visualize=True is ignored; use `tbt track` for an annotated video", self.name)
        boxes = np.zeros((len(img_files), 4))
        boxes[0] = box
        times = np.zeros(len(img_files))
        for index, path in enumerate(img_files):
            image = read_rgb_image(path)
            start = time.perf_counter()
            if index == 0:
                self.init(image, box)
            else:
                boxes[index] = self.update(image)
            times[index] = time.perf_counter() - start
        return boxes, times

    # -- shared steps -----------------------------------------------------------------------------------

    def new_stream(self) -> LSTMStream:
        """A fresh LSTM stream (zero state) for one member, on this tracker's device."""
        return LSTMStream(self.network.initial_state(1), self.reset_interval)

    def start(self, image, box) -> np.ndarray:
        """Begin a video: check the box, remember frame 0 and ``b_0``; the frame as an RGB array."""
        frame = as_rgb_frame(image)
        self._box = check_initial_box(box, frame.shape[:2])
        self._previous_frame = frame
        self.choices = [INIT_CHOICE]
        return frame

    def next_frame(self, image) -> np.ndarray:
        """The frame an ``update`` was given, as an RGB array; fails clearly before ``init``."""
        if self._previous_frame is None:
            raise RuntimeError(f"{self.name}: call init(image, box) before update(image)")
        return as_rgb_frame(image)

    def evaluate_states(
        self, frame: np.ndarray, boxes: np.ndarray, streams: list[LSTMStream]
    ) -> tuple[np.ndarray, np.ndarray]:
        """μ and v for the states ρ(F_{t-1}, F_t, boxes[i]), all rows in one forward pass.

        Row ``i`` starts from ``streams[i]``'s state, and the stream is advanced with its new state.

        Args:
            frame: ``F_t``, RGB uint8 (``F_{t-1}`` is the frame of the last :meth:`finish`).
            boxes: ``(K, 4)`` previous boxes, one per state.
            streams: K LSTM streams, one per state.

        Returns:
            ``mu (K, 4)`` (unclamped) and ``values (K,)``, float64 numpy arrays.
        """
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        count = len(boxes)
        crops = crop_state_pairs(
            [self._previous_frame] * count, [frame] * count, boxes, self.context, self.crop_size
        )
        observations = torch.from_numpy(crops).to(self.device).unsqueeze(1)  # (K, T=1, 2, S, S, 3)
        with torch.inference_mode():
            mu, values, new_state = self.network(observations, stack_states(streams))
        advance_streams(streams, new_state)
        return mu[:, 0].double().cpu().numpy(), values[:, 0].double().cpu().numpy()

    def student_box(self, mu: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """ψ(clamp(μ), b_{t-1}), clipped to the frame."""
        return apply_action(np.clip(mu, -1.0, 1.0), self._box, frame.shape[:2])

    def clipped(self, box: np.ndarray, frame: np.ndarray) -> np.ndarray:
        """A member's box clipped to the frame, as every output box is."""
        return clip_to_image(box, frame.shape[:2])

    def finish(self, frame: np.ndarray, box: np.ndarray, member: str) -> np.ndarray:
        """End a frame: ``box`` becomes ``b_{t-1}`` and ``frame`` becomes ``F_{t-1}``; a copy of ``box``."""
        self._box = np.asarray(box, dtype=np.float64)
        self._previous_frame = frame
        self.choices.append(member)
        return self._box.copy()
