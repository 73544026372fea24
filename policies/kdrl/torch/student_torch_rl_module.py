"""The student network as a stateful RLlib (new API stack) ``TorchRLModule`` with a value function.

Batch layout (RLlib adds the time dim for stateful modules): ``Columns.OBS`` is uint8
``(B, T, 2, S, S, 3)`` (normalisation happens inside :class:`tracking_by_trackers.policies.student_model.StudentNetwork`),
``Columns.STATE_IN`` is ``{"h": (B, H), "c": (B, H)}``; ``get_initial_state()`` is unbatched ``(H,)``, with H
the network's ``state_width``.

Action distribution: RLlib's default diagonal Gaussian for a Box action space (``TorchDiagGaussian``),
fed ``ACTION_DIST_INPUTS = concat(μ, log σ)`` of shape ``(B, T, 8)``. The σ rule of KD-RL (docs/method.md,
*Autonomous students*):

- when the batch carries the ground-truth action column ``tracking_by_trackers.envs.sample_keys.GT_ACTION`` (``(B, T, 4)``),
  ``σ = max(|μ.detach() − a_gt|, MIN_SIGMA)``: the policy explores more where it is further from the
  ground truth, and the detach keeps σ out of the gradient (it is a schedule, not a learnt output);
- except on the steps of distilling students (the ``role`` column, ``tracking_by_trackers.envs.sample_keys.ROLE``), and
  without a ground-truth action (deployment, plain inference): there σ = ``MIN_SIGMA``, so sampling
  returns μ to within 1e-3 and the log-probabilities stay finite.

A module-to-env connector cannot set σ (the action is sampled before custom pieces run), which is why σ
is computed here, where both runner and learner compute it the same way (docs/rllib.md, *The student module*).

``model_config`` keys: ``"preset"`` (a key of :data:`tracking_by_trackers.policies.student_model.PRESETS`, default
``"small"``), optionally overridden field by field with any field of
:class:`~tracking_by_trackers.policies.student_model.StudentPreset` (``"crop_size"``, …; the checkpoints of runs from before
the ``small-separate-critic`` preset carry ``"separate_critic"`` this way), and ``"backbone_weights"``
(the pretrained backbone's file, read from this local path, nothing downloaded: torchvision's
``resnet18`` state dict for ResNet-18, ``nanotrackv2.pth`` for NanoTrack v2). RLlib itself reads ``"max_seq_len"``, which ``KDRLConfig`` derives from t_max
(``tracking_by_trackers.policies.kdrl.kdrl.max_seq_len_for``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields, is_dataclass, replace
from typing import Any

import numpy as np
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.rllib.utils.annotations import override

from tracking_by_trackers.envs.sample_keys import GT_ACTION, MIN_SIGMA, ROLE, ROLE_AUTONOMOUS
from tracking_by_trackers.policies.student_model import StudentNetwork, StudentPreset, preset

__all__ = ["DEFAULT_PRESET", "StudentTorchRLModule", "student_config"]

DEFAULT_PRESET = "small"
_FIELDS = tuple(field.name for field in fields(StudentPreset))


def student_config(model_config: Any) -> StudentPreset:
    """The network sizes named by an RLModule ``model_config``: a preset, then per-field overrides."""
    config = asdict(model_config) if is_dataclass(model_config) else dict(model_config or {})
    base = preset(config.get("preset") or DEFAULT_PRESET)
    return replace(base, **{k: config[k] for k in _FIELDS if config.get(k) is not None})


class StudentTorchRLModule(TorchRLModule, ValueFunctionAPI):
    """Stateful student module: μ and the σ rule for the action distribution, v for the critic."""

    @override(TorchRLModule)
    def setup(self) -> None:
        sizes = student_config(self.model_config)
        shape = getattr(self.observation_space, "shape", None)
        expected = (2, sizes.crop_size, sizes.crop_size, 3)
        if shape is not None and tuple(shape) != expected:
            raise ValueError(
                f"observation space shape {tuple(shape)} does not match the student's crops {expected}; "
                "set model_config['crop_size'] (or the preset) to the env's crop size"
            )
        self.net = StudentNetwork.from_config(sizes)
        # "imagenet_weights": the key's name in checkpoints from before the NanoTrack backbone.
        weights = (self.model_config or {}).get("backbone_weights") or (self.model_config or {}).get(
            "imagenet_weights"
        )
        if weights:
            # Read on every runner and learner at build time, so the file must exist on every node; a
            # restored checkpoint then overwrites these weights with the trained ones.
            if not hasattr(self.net.backbone, "load_pretrained"):
                raise ValueError(f"backbone_weights given, but the {sizes.backbone!r} backbone takes none")
            self.net.backbone.load_pretrained(weights)

    @override(TorchRLModule)
    def get_initial_state(self) -> dict[str, np.ndarray]:
        width = self.net.state_width
        return {"h": np.zeros(width, dtype=np.float32), "c": np.zeros(width, dtype=np.float32)}

    @override(TorchRLModule)
    def _forward_inference(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        with torch.no_grad():
            return self._policy_outputs(batch)[0]

    @override(TorchRLModule)
    def _forward_exploration(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        with torch.no_grad():
            return self._policy_outputs(batch)[0]

    @override(TorchRLModule)
    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        outputs, embeddings = self._policy_outputs(batch)
        # The learner hands these back to compute_values, so the critic costs no second network pass.
        outputs[Columns.EMBEDDINGS] = embeddings
        return outputs

    @override(ValueFunctionAPI)
    def compute_values(self, batch: dict[str, Any], embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """Values ``(B, T)``: from ``embeddings`` (the LSTM outputs of ``_forward_train``) if given, else
        by running the network on ``Columns.OBS`` from ``Columns.STATE_IN``."""
        if embeddings is None:
            embeddings, _ = self._embed(batch)
        return self.net.heads(embeddings)[1]

    def _embed(self, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        state_in = batch[Columns.STATE_IN]
        embeddings, (h, c) = self.net.embed(batch[Columns.OBS], (state_in["h"], state_in["c"]))
        return embeddings, {"h": h, "c": c}

    def _policy_outputs(self, batch: dict[str, Any]) -> tuple[dict[str, Any], torch.Tensor]:
        embeddings, state_out = self._embed(batch)
        mu = self.net.heads(embeddings)[0]
        outputs = {
            Columns.ACTION_DIST_INPUTS: torch.cat(
                [mu, _log_sigma(mu, batch.get(GT_ACTION), batch.get(ROLE))], dim=-1
            ),
            Columns.STATE_OUT: state_out,
        }
        return outputs, embeddings


def _log_sigma(mu: torch.Tensor, gt_action: Any, role: Any) -> torch.Tensor:
    """log σ with the σ rule of the module docstring; same shape as ``mu``."""
    if gt_action is None:
        return torch.full_like(mu, math.log(MIN_SIGMA))
    gt = torch.as_tensor(gt_action, dtype=mu.dtype, device=mu.device)
    sigma = (mu.detach() - gt).abs().clamp_min(MIN_SIGMA)
    if role is not None:
        autonomous = torch.as_tensor(role, device=mu.device) == ROLE_AUTONOMOUS
        sigma = torch.where(autonomous.unsqueeze(-1), sigma, torch.full_like(sigma, MIN_SIGMA))
    return sigma.log()
