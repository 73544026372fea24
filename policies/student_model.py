"""The student network (docs/method.md, *The student network*; the paper's §3.4) as a plain torch module.

Observation layout: the env's state ρ, ``(2, S, S, 3)`` uint8 RGB, channel-last, crop 0 from frame t−1
and crop 1 from frame t. The network takes a batch of sequences, ``(B, T, 2, S, S, 3)``; uint8 →
float conversion and normalisation happen inside the network (the backbone's own,
:func:`~tracking_by_trackers.policies.backbones.normalize_for`, its first layer), so observations stay uint8 everywhere outside it.

Architecture: both crops go through ONE backbone (shared weights, a single batched pass over all
``B·T·2`` crops) → the two flattened maps are concatenated → FC + ReLU → FC + ReLU → LSTM (one layer,
batch-first) → actor head (4, the action mean μ) and critic head (1, the value v).

With ``separate_critic`` (a departure from the paper, see :class:`StudentPreset`; the preset
``small-separate-critic``) the critic has its own FC → FC → LSTM trunk on the same backbone maps; the
recurrent state is then the actor's and the critic's states side by side, ``(h, c)`` each ``(B, 2H)``,
so every caller keeps handling one ``(h, c)`` pair.

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

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from tracking_by_trackers.policies.backbones import make_backbone, normalize_for

__all__ = ["ACTION_SIZE", "PRESETS", "LSTMState", "StudentNetwork", "StudentPreset", "preset"]

ACTION_SIZE = 4

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class StudentPreset:
    """The sizes that define a student network."""

    backbone: str
    """Backbone name for :func:`tracking_by_trackers.policies.backbones.make_backbone` (``"resnet18"``,
    ``"small"`` or ``"nanotrack_v2"``)."""
    crop_size: int
    """Side S of the square crops in the observation (must match the env's crop size)."""
    fc_width: int
    """Width of the two fully connected layers after the concatenated features."""
    lstm_width: int
    """Hidden (and cell) size of the one-layer LSTM; the recurrent state is ``(h, c)``, each this wide."""
    separate_critic: bool = False
    """Give the critic its own FC → FC → LSTM trunk instead of sharing the actor's (the paper shares it).

    Why: the critic trains on ``1e-3·(L_π + L_v)`` while the actor's layers also carry the distillation
    loss, so in a shared trunk the critic is a linear read-out of the actor's features, and TRAST's
    hand-overs inherit the actor's mistakes. RAdam normalises each parameter's step, so a trunk that only
    the value loss reaches learns at the full rate. With it the critic chose better among teachers
    (TRASFUST) but did not lift TRAST, and TRAS was weaker, so the paper's shared critic stays the default
    (docs/experiments.md, 2026-11-21-separate-critic; the preset ``small-separate-critic``)."""


PRESETS: dict[str, StudentPreset] = {
    # The paper's network: ResNet-18 on 128×128 crops, FC 512, LSTM 512.
    "paper": StudentPreset(backbone="resnet18", crop_size=128, fc_width=512, lstm_width=512),
    # CPU training: the paper's recurrent architecture (the tracker relies on the LSTM state), narrower,
    # so one CPU thread still gives enough samples (docs/method.md, *The student network*).
    "small": StudentPreset(backbone="small", crop_size=64, fc_width=256, lstm_width=256),
    # Real video: NanoTrack v2's backbone, pretrained on real tracking video, on the paper's 128×128
    # crops (48×8×8 features per crop), with the small student's CPU-sized FC and LSTM.
    "nanotrack": StudentPreset(backbone="nanotrack_v2", crop_size=128, fc_width=256, lstm_width=256),
}
# The small student with the critic's own trunk (see StudentPreset.separate_critic): it chooses among
# teachers better (TRASFUST) at the cost of TRAS.
PRESETS["small-separate-critic"] = replace(PRESETS["small"], separate_critic=True)


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
        self,
        backbone: str = "small",
        crop_size: int = 64,
        fc_width: int = 256,
        lstm_width: int = 256,
        separate_critic: bool = False,
    ) -> None:
        super().__init__()
        self.config = StudentPreset(backbone, crop_size, fc_width, lstm_width, bool(separate_critic))
        self.normalize = normalize_for(backbone)
        self.backbone = make_backbone(backbone)
        side = self.backbone.output_side(crop_size)
        features_per_crop = self.backbone.out_channels * side * side
        self.fc = _fc_trunk(2 * features_per_crop, fc_width)
        self.lstm = nn.LSTM(fc_width, lstm_width, num_layers=1, batch_first=True)
        if separate_critic:
            self.critic_fc = _fc_trunk(2 * features_per_crop, fc_width)
            self.critic_lstm = nn.LSTM(fc_width, lstm_width, num_layers=1, batch_first=True)
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
        return cls.from_config(preset(name))

    @classmethod
    def from_config(cls, config: StudentPreset) -> StudentNetwork:
        """A freshly initialised network with the sizes in ``config``."""
        return cls(**asdict(config))

    @property
    def lstm_width(self) -> int:
        return self.config.lstm_width

    @property
    def state_width(self) -> int:
        """Width of ``h`` and ``c``: the LSTM's, doubled when the critic has its own LSTM."""
        return self.lstm_width * (2 if self.config.separate_critic else 1)

    def initial_state(self, batch_size: int) -> LSTMState:
        """The all-zero LSTM state ``(h, c)``, each ``(batch_size, state_width)``."""
        param = self.actor.weight
        zeros = torch.zeros(batch_size, self.state_width, dtype=param.dtype, device=param.device)
        return zeros, zeros.clone()

    def embed(self, obs: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """LSTM outputs ``(B, T, state_width)`` (the input of both heads) and the new state."""
        S = self.config.crop_size
        if obs.ndim != 6 or tuple(obs.shape[2:]) != (2, S, S, 3):
            raise ValueError(f"expected observations of shape (B, T, 2, {S}, {S}, 3), got {tuple(obs.shape)}")
        B, T = obs.shape[:2]
        # One backbone pass over all B·T·2 crops: far faster than looping over time, and it is what makes
        # the two branches share weights.
        maps = self.backbone(self.normalize(obs))
        # normalize keeps crop order (step-major, crop-minor), so this reshape concatenates each step's
        # two flattened maps: crop t−1 first, then crop t.
        maps = maps.reshape(B, T, -1)
        if not self.config.separate_critic:
            return _run_lstm(self.lstm, self.fc(maps), state)
        H = self.lstm_width
        h, c = state
        actor_out, (actor_h, actor_c) = _run_lstm(self.lstm, self.fc(maps), (h[:, :H], c[:, :H]))
        critic_out, (critic_h, critic_c) = _run_lstm(
            self.critic_lstm, self.critic_fc(maps), (h[:, H:], c[:, H:])
        )
        return (
            torch.cat([actor_out, critic_out], dim=-1),
            (torch.cat([actor_h, critic_h], dim=-1), torch.cat([actor_c, critic_c], dim=-1)),
        )

    def heads(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu (B, T, 4)`` and ``value (B, T)`` from the outputs of :meth:`embed`."""
        H = self.lstm_width
        if self.config.separate_critic:
            return self.actor(embeddings[..., :H]), self.critic(embeddings[..., H:]).squeeze(-1)
        return self.actor(embeddings), self.critic(embeddings).squeeze(-1)

    def forward(self, obs: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, torch.Tensor, LSTMState]:
        embeddings, new_state = self.embed(obs, state)
        mu, value = self.heads(embeddings)
        return mu, value, new_state


def _fc_trunk(in_features: int, width: int) -> nn.Sequential:
    """FC + ReLU → FC + ReLU: the layers between the concatenated crop features and an LSTM."""
    return nn.Sequential(
        nn.Linear(in_features, width), nn.ReLU(inplace=True), nn.Linear(width, width), nn.ReLU(inplace=True)
    )


def _run_lstm(lstm: nn.LSTM, features: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
    """``lstm`` over ``features (B, T, F)`` from ``state`` (each ``(B, H)``): outputs and the new state."""
    h, c = state
    # contiguous: the separate-critic halves of (h, c) are column slices, and cuDNN wants dense states.
    out, (h_n, c_n) = lstm(features, (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()))
    return out, (h_n.squeeze(0), c_n.squeeze(0))
