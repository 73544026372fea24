"""The student network of SPEC ("The student network") as a plain torch module.

Observation layout: the env's state ρ, ``(2, S, S, 3)`` uint8 RGB, channel-last, crop 0 from frame t−1
and crop 1 from frame t. The network takes a batch of sequences, ``(B, T, 2, S, S, 3)``; uint8 →
float conversion and ImageNet normalisation happen inside the network (:class:`ImageNetNormalize`,
its first layer), so observations stay uint8 everywhere outside it.

Architecture: both crops go through ONE backbone (shared weights, a single batched pass over all
``B·T·2`` crops) → the two flattened maps are concatenated → FC + ReLU → FC + ReLU → LSTM (one layer,
batch-first) → actor head (4, the action mean μ) and critic head (1, the value v).

The actor head is linear, with no tanh: the paper's reference implementation clamps the predicted
action to [-1, 1] at tracking time, and a linear μ keeps the gradient alive when the target offset sits
at the edge of the action box (tanh saturates there). Callers clamp μ when they use it as an action.

Batch norm always runs on its stored statistics (``train()`` leaves the BatchNorm layers in eval mode;
their affine weights still learn). RLlib runs exploration in eval mode and the learner's ``forward_train``
in train mode: with batch statistics the learner would see a different μ from the one the runner sampled
around, and the runner-side and learner-side log-probabilities would disagree. It also makes an output
independent of the rest of the batch, so one call over T steps equals T calls of one step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from policies.backbones import ImageNetNormalize, make_backbone

__all__ = ["ACTION_SIZE", "PRESETS", "LSTMState", "StudentNetwork", "StudentPreset", "preset"]

ACTION_SIZE = 4

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class StudentPreset:
    """The sizes that define a student network."""

    backbone: str
    """Backbone name for :func:`policies.backbones.make_backbone` (``"resnet18"`` or ``"small"``)."""
    crop_size: int
    """Side S of the square crops in the observation (must match the env's crop size)."""
    fc_width: int
    """Width of the two fully connected layers after the concatenated features."""
    lstm_width: int
    """Hidden (and cell) size of the one-layer LSTM; the recurrent state is ``(h, c)``, each this wide."""


PRESETS: dict[str, StudentPreset] = {
    # SPEC's network: ResNet-18 on 128×128 crops, FC 512, LSTM 512.
    "paper": StudentPreset(backbone="resnet18", crop_size=128, fc_width=512, lstm_width=512),
    # CPU training. SPEC's feasibility study had no LSTM; we keep the paper's recurrent architecture
    # (the tracker relies on the LSTM state) but narrower, so one CPU thread still gives enough samples.
    "small": StudentPreset(backbone="small", crop_size=64, fc_width=256, lstm_width=256),
}


def preset(name: str) -> StudentPreset:
    """The :class:`StudentPreset` called ``name`` (a key of :data:`PRESETS`)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown student preset {name!r}; valid presets: {', '.join(PRESETS)}") from None


class StudentNetwork(nn.Module):
    """Shared-weight two-crop backbone → FC → FC → LSTM → actor (μ) and critic (v) heads.

    ``forward(obs, state)`` maps uint8 observations ``(B, T, 2, S, S, 3)`` and an LSTM state
    ``(h, c)``, each ``(B, H)``, to ``mu (B, T, 4)``, ``value (B, T)`` and the new state.
    """

    def __init__(
        self, backbone: str = "small", crop_size: int = 64, fc_width: int = 256, lstm_width: int = 256
    ) -> None:
        super().__init__()
        self.config = StudentPreset(backbone, crop_size, fc_width, lstm_width)
        self.normalize = ImageNetNormalize()
        self.backbone = make_backbone(backbone)
        side = self.backbone.output_side(crop_size)
        features_per_crop = self.backbone.out_channels * side * side
        self.fc = nn.Sequential(
            nn.Linear(2 * features_per_crop, fc_width),
            nn.ReLU(inplace=True),
            nn.Linear(fc_width, fc_width),
            nn.ReLU(inplace=True),
        )
        self.lstm = nn.LSTM(fc_width, lstm_width, num_layers=1, batch_first=True)
        self.actor = nn.Linear(lstm_width, ACTION_SIZE)
        self.critic = nn.Linear(lstm_width, 1)

    def train(self, mode: bool = True) -> StudentNetwork:
        super().train(mode)
        # Frozen statistics: see the module docstring.
        for module in self.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self

    @classmethod
    def from_preset(cls, name: str) -> StudentNetwork:
        """A freshly initialised network with the sizes of preset ``name``."""
        p = preset(name)
        return cls(p.backbone, p.crop_size, p.fc_width, p.lstm_width)

    @property
    def lstm_width(self) -> int:
        return self.config.lstm_width

    def initial_state(self, batch_size: int) -> LSTMState:
        """The all-zero LSTM state ``(h, c)``, each ``(batch_size, lstm_width)``."""
        param = self.actor.weight
        zeros = torch.zeros(batch_size, self.lstm_width, dtype=param.dtype, device=param.device)
        return zeros, zeros.clone()

    def embed(self, obs: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """LSTM outputs ``(B, T, H)`` (the input of both heads) and the new state."""
        S = self.config.crop_size
        if obs.ndim != 6 or tuple(obs.shape[2:]) != (2, S, S, 3):
            raise ValueError(f"expected observations of shape (B, T, 2, {S}, {S}, 3), got {tuple(obs.shape)}")
        B, T = obs.shape[:2]
        # One backbone pass over all B·T·2 crops: far faster than looping over time, and it is what makes
        # the two branches share weights.
        maps = self.backbone(self.normalize(obs))
        # normalize keeps crop order (step-major, crop-minor), so this reshape concatenates each step's
        # two flattened maps: crop t−1 first, then crop t.
        features = self.fc(maps.reshape(B, T, -1))
        h, c = state
        out, (h_n, c_n) = self.lstm(features, (h.unsqueeze(0), c.unsqueeze(0)))
        return out, (h_n.squeeze(0), c_n.squeeze(0))

    def heads(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu (B, T, 4)`` and ``value (B, T)`` from LSTM outputs ``(B, T, H)``."""
        return self.actor(embeddings), self.critic(embeddings).squeeze(-1)

    def forward(self, obs: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        embeddings, new_state = self.embed(obs, state)
        mu, value = self.heads(embeddings)
        return mu, value, new_state
