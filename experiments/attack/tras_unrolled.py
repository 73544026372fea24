"""TRAS as one differentiable function of the frames: the student's boxes over a sequence, in torch.

docs/attack.md, *Gradients through TRAS*. TRAS (:class:`~tracking_by_trackers.policies.trackers.tras.TRAS`) crops
ρ(F_{t-1}, F_t, b_{t-1}) around its own previous box, runs the student with its LSTM state carried (and
reset every 32 predictions to the state after the first; docs/method.md, *LSTM reset*) and moves the box by
``ψ(clamp(μ), b_{t-1})``, clipped to the image. The attack needs ``∂ b_t / ∂ pixels``; this module gives
it in two passes per attack step:

1. :func:`tras_trajectory`, without gradients: TRAS frame by frame (each crop needs the box before it),
   which fixes where every crop is taken;
2. :func:`tras_boxes`, with gradients: every crop pair of the sequence in ONE sampling call and one
   batched pass through the backbone and the LSTM (the LSTM runs over the reset chunks side by side, all
   starting from the state after prediction 1), giving the same boxes as a function of the pixels.

The crop positions (the previous boxes) are held fixed in pass 2: gradients reach the pixels through what
each crop shows and through the LSTM state carried from frame to frame, not through where the crop was
taken. This is how a patch attack on a Siamese tracker treats the search region, and it is what lets the
whole sequence go through the network at once.

Only the actor's path runs (backbone → FC → LSTM → μ): TRAS never uses the value head. The student's
:meth:`~tracking_by_trackers.policies.student_model.StudentNetwork.forward` takes uint8 crops only, so the
float crops are normalised here with the network's own constants (tested equal to ``forward``'s μ).
"""

from __future__ import annotations

import torch

from tracking_by_trackers.experiments.attack.differentiable_crop import crop_pairs_torch
from tracking_by_trackers.policies.student_model import LSTMState, StudentNetwork
from tracking_by_trackers.policies.trackers.lstm_stream import RESET_INTERVAL, LSTMStream

__all__ = ["actor_mu", "move_boxes", "tras_boxes", "tras_trajectory"]


def _normalised(network: StudentNetwork, crops: torch.Tensor) -> torch.Tensor:
    """Float crops ``(..., S, S, 3)`` on the 0–255 scale → the backbone's input, as the network's own
    :class:`~tracking_by_trackers.policies.backbones.ImageNetNormalize` does for uint8 crops."""
    normalize = network.normalize
    channel_first = crops.reshape(-1, *crops.shape[-3:]).permute(0, 3, 1, 2)
    if normalize.bgr:
        channel_first = channel_first.flip(1)
    return torch.addcmul(normalize.shift, channel_first.to(normalize.scale.dtype), normalize.scale)


def actor_mu(network: StudentNetwork, obs: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
    """μ ``(B, T, 4)`` (unclamped) and the actor's new LSTM state for float observations.

    Args:
        network: The student.
        obs: ``(B, T, 2, S, S, 3)`` float crop pairs on the 0–255 scale.
        state: The actor's ``(h, c)``, each ``(B, lstm_width)``: the first half of the network's state when
            the critic has its own trunk.
    """
    batch, steps = obs.shape[:2]
    maps = network.backbone(_normalised(network, obs)).reshape(batch, steps, -1)
    h, c = state
    out, (h_n, c_n) = network.lstm(
        network.fc(maps), (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous())
    )
    return network.actor(out), (h_n.squeeze(0), c_n.squeeze(0))


def _zero_actor_state(network: StudentNetwork, batch: int) -> LSTMState:
    h, c = network.initial_state(batch)
    return h[:, : network.lstm_width], c[:, : network.lstm_width]


def move_boxes(mu: torch.Tensor, boxes: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
    """ψ(clamp(μ), b) clipped to the image, as :func:`~tracking_by_trackers.envs.boxes.apply_action` with
    ``image_hw`` (1-pixel minimum size), differentiable in μ. ``mu`` and ``boxes`` are ``(N, 4)``."""
    height, width = image_hw
    action = torch.clamp(mu.to(boxes.dtype), -1.0, 1.0)
    sizes = torch.cat([boxes[:, 2:], boxes[:, 2:]], dim=1)
    moved = boxes + action * sizes
    x1 = torch.clamp(moved[:, 0], 0, width - 1.0)
    y1 = torch.clamp(moved[:, 1], 0, height - 1.0)
    x2 = torch.minimum(torch.maximum(moved[:, 0] + moved[:, 2], x1 + 1.0), torch.tensor(float(width)))
    y2 = torch.minimum(torch.maximum(moved[:, 1] + moved[:, 3], y1 + 1.0), torch.tensor(float(height)))
    return torch.stack([x1, y1, x2 - x1, y2 - y1], dim=1)


@torch.no_grad()
def tras_trajectory(
    network: StudentNetwork,
    frames: torch.Tensor,
    init_box: torch.Tensor,
    context: float,
    reset_interval: int = RESET_INTERVAL,
) -> torch.Tensor:
    """TRAS's boxes ``(T, 4)`` (float64; row 0 the initial box) on float frames ``(T, H, W, 3)``, frame by frame."""
    size = network.config.crop_size
    image_hw = tuple(frames.shape[1:3])
    boxes = [init_box.reshape(1, 4).to(torch.float64)]
    stream = LSTMStream(_zero_actor_state(network, 1), reset_interval)
    for index in range(1, len(frames)):
        obs = crop_pairs_torch(frames[index - 1 : index + 1], boxes[-1], context, size)
        mu, new_state = actor_mu(network, obs[None], stream.state)
        stream.advance(new_state)
        boxes.append(move_boxes(mu[0], boxes[-1], image_hw))
    return torch.cat(boxes)


def tras_boxes(
    network: StudentNetwork,
    frames: torch.Tensor,
    trajectory: torch.Tensor,
    context: float,
    reset_interval: int = RESET_INTERVAL,
) -> torch.Tensor:
    """TRAS's boxes for frames 1 … T−1, ``(T−1, 4)``, differentiable in ``frames``, in one batched pass.

    Args:
        network: The student.
        frames: ``(T, H, W, 3)`` float frames (0–255), T ≥ 2.
        trajectory: ``(T, 4)`` the boxes of :func:`tras_trajectory` on the same frames: frame t is cropped
            around ``trajectory[t−1]`` (held fixed, see the module docstring).
        context: The crop's context factor.
        reset_interval: Predictions between LSTM resets (the trackers' 32).
    """
    size = network.config.crop_size
    previous_boxes = trajectory[:-1].detach()
    obs = crop_pairs_torch(frames, previous_boxes, context, size)  # (T-1, 2, S, S, 3), prediction t at t-1
    count = len(obs)
    # Prediction 1 from the zero state; its new state is where predictions 2 … R and every later chunk of
    # R predictions start (lstm_stream's reset), so those chunks run side by side as one batch.
    mu_first, saved = actor_mu(network, obs[None, :1], _zero_actor_state(network, 1))
    mus = [mu_first[0]]
    if count > 1:
        starts = [1, *range(reset_interval, count, reset_interval)]
        stops = [*starts[1:], count]
        length = max(stop - start for start, stop in zip(starts, stops, strict=True))
        padding = obs.new_zeros((length, *obs.shape[1:]))
        chunks = torch.stack(
            [
                torch.cat([obs[start:stop], padding[: length - (stop - start)]])
                for start, stop in zip(starts, stops, strict=True)
            ]
        )
        h, c = saved
        chunk_state = (h.expand(len(starts), -1), c.expand(len(starts), -1))
        mu_chunks, _ = actor_mu(network, chunks, chunk_state)
        # The padding sits after each chunk's frames, so it never changes their outputs (the LSTM is causal).
        mus += [
            mu_chunks[i, : stop - start] for i, (start, stop) in enumerate(zip(starts, stops, strict=True))
        ]
    mu = torch.cat(mus)
    return move_boxes(mu, previous_boxes, tuple(frames.shape[1:3]))
