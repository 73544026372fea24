"""The patch optimisation: iterative gradient-sign ascent of the L1 box error through TRAS (docs/attack.md).

Each step pastes the patch into the sequence's frames (:class:`~tracking_by_trackers.experiments.attack.background_patch.PatchGeometry`),
runs TRAS on them (:mod:`~tracking_by_trackers.experiments.attack.tras_unrolled`), takes the L1 distance
between TRAS's boxes and the ground truth summed over the frames whose truth is known, and moves every
patch pixel by δ in the direction of the sign of its gradient, clamped to [0, 1]: the update of the
adversarial-texture attack the paper uses (its eq. 4, ``x ← x + δ·∇L``, with the toolbox's sign of the
gradient, so that δ is a step in pixel value, 0.1 being about 26 grey levels). A pixel no crop ever sees
gets no gradient and keeps its grey.

The attack targets TRAS, the student alone; TRAST and TRASFUST are scored on the same patched frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from tracking_by_trackers.envs.crops import DEFAULT_CONTEXT
from tracking_by_trackers.envs.sequence import DatasetError, Sequence
from tracking_by_trackers.experiments.attack.background_patch import PatchGeometry, sequence_frames
from tracking_by_trackers.experiments.attack.tras_unrolled import tras_boxes, tras_trajectory
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers.lstm_stream import RESET_INTERVAL

__all__ = ["AttackStep", "PatchAttack"]


@dataclass(frozen=True)
class AttackStep:
    """The patch after ``step`` updates, and the L1 loss the last update climbed from."""

    step: int
    patch: np.ndarray
    loss: float


class PatchAttack:
    """The attack on one sequence: its frames, ground truth and patch geometry on the attack's device.

    Args:
        network: The student (eval mode; its weights are not changed).
        sequence: The frames to attack (callers cut it to the attacked frames first).
        geometry: Where the patch lies on each frame.
        device: Where the unrolled TRAS runs (the network must be there already).
        context: The crop's context factor (the trackers' 1.5).
        reset_interval: TRAS's LSTM reset interval (32).
    """

    def __init__(
        self,
        network: StudentNetwork,
        sequence: Sequence,
        geometry: PatchGeometry,
        device: torch.device,
        context: float = DEFAULT_CONTEXT,
        reset_interval: int = RESET_INTERVAL,
    ):
        if len(sequence) < 2:
            raise DatasetError(
                f"sequence {sequence.benchmark}/{sequence.name} has one frame: nothing to attack"
            )
        self.network = network.eval()
        self.geometry = geometry
        self.device = device
        self.context = float(context)
        self.reset_interval = int(reset_interval)
        self.frames = torch.from_numpy(sequence_frames(sequence)).to(device=device, dtype=torch.float32)
        self.gt_boxes = torch.from_numpy(sequence.gt_boxes[1:]).to(device)
        known = np.isfinite(sequence.gt_boxes[1:]).all(axis=1) & ~sequence.absent[1:]
        self.known = torch.from_numpy(known).to(device)
        self.init_box = torch.from_numpy(sequence.init_box).to(device)

    def loss_and_gradient(self, patch: torch.Tensor) -> tuple[float, torch.Tensor]:
        """The L1 box error of TRAS on the frames with ``patch``, and its gradient with respect to the patch."""
        patch = patch.detach().requires_grad_(True)
        patched = self.geometry.apply_torch(self.frames, patch)
        trajectory = tras_trajectory(
            self.network, patched.detach(), self.init_box, self.context, self.reset_interval
        )
        boxes = tras_boxes(self.network, patched, trajectory, self.context, self.reset_interval)
        loss = (boxes - self.gt_boxes).abs()[self.known].sum()
        if not loss.requires_grad:  # no known frame, or every action clamped: nothing to climb
            return float(loss), torch.zeros_like(patch)
        (gradient,) = torch.autograd.grad(loss, patch)
        return float(loss.detach()), gradient

    def run(
        self,
        delta: float,
        checkpoints: Iterable[int],
        start: np.ndarray | None = None,
        start_step: int = 0,
        on_step: Callable[[int], None] | None = None,
    ):
        """Yield an :class:`AttackStep` at each step in ``checkpoints``, climbing from ``start`` (mid-grey).

        Args:
            delta: The step size δ, in pixel value on [0, 1].
            checkpoints: Step counts to report (those at or below ``start_step`` are skipped).
            start: The patch after ``start_step`` steps (to resume); None for the initial grey patch.
            start_step: How many steps ``start`` already took.
            on_step: Called with the step number after every update (for a progress bar).
        """
        if not delta > 0:
            raise ValueError(f"the attack's step size delta must be > 0, got {delta}")
        wanted = sorted({int(step) for step in checkpoints if int(step) > start_step})
        initial = self.geometry.initial_patch() if start is None else np.asarray(start, dtype=np.float32)
        if initial.shape != self.geometry.shape:
            raise ValueError(
                f"a patch of shape {initial.shape} given for a patch of shape {self.geometry.shape}"
            )
        patch = torch.from_numpy(initial.copy()).to(self.device)
        for step in range(start_step + 1, (wanted[-1] if wanted else start_step) + 1):
            loss, gradient = self.loss_and_gradient(patch)
            with torch.no_grad():
                patch = torch.clamp(patch + delta * gradient.sign(), 0.0, 1.0)
            if on_step is not None:
                on_step(step)
            if step in wanted:
                yield AttackStep(step, patch.cpu().numpy(), loss)
