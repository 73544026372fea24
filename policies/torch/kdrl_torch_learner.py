"""Torch Learner of KD-RL: per-role losses (distillation or n-step actor-critic) and RAdam.

Batch layout (stateful module, after ``AddOneTsToEpisodesAndTruncate`` and
``AddTimeDimToBatchAndZeroPad``): one row per t_max chunk of an episode (``max_seq_len ≥ t_max + 1`` is
enforced by ``KDRLConfig.validate``), every column ``[B, T]`` (actions ``[B, T, 4]``), the last valid
position of a row (``seq_lens − 1``) is the appended bootstrap step and ``loss_mask`` is False there and
on padding. The ``role`` column (``policies.connectors``) says which loss a row's steps get:

* distilling rows: ``masked_l1_distillation(μ, a^(T), r^(T), r, m)`` + ``l2_penalty(θ, 1e-4)``
  (the penalty once per batch that holds distilling steps);
* autonomous rows: ``gaussian_log_prob(a, μ, σ = |μ − a_gt|)`` and n-step returns with γ, bootstrapped
  from ``v`` at the bootstrap step (zero past a terminal), ``actor_critic_loss(..., rl_scale)``.

Normalisation: SPEC's losses are sums over the t_max steps of one segment (one A3C gradient). A batch
holds many segments, so each sum is divided by the number of rows (segments) of its role: the loss is
the mean per-segment loss, and the 1e-3 ratio between the RL and distillation terms is kept.
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.algorithms.impala.torch.impala_torch_learner import IMPALATorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override

from policies.connectors import ROLE, ROLE_DISTIL, TEACHER_ACTION, TEACHER_REWARD
from policies.kdrl_learner import (
    DISTILLATION_LOSS,
    LOGP_GAP,
    MASK_RATE,
    NUM_AUTONOMOUS_STEPS,
    NUM_DISTIL_STEPS,
    POLICY_LOSS,
    TEACHER_L1,
    TOTAL_LOSS,
    VALUE_LOSS,
    KDRLLearner,
)
from policies.kdrl_losses import (
    actor_critic_loss,
    autonomous_sigma,
    gaussian_log_prob,
    l2_penalty,
    masked_l1_distillation,
    n_step_returns,
)
from policies.torch.student_torch_rl_module import GT_ACTION, MIN_SIGMA

__all__ = ["KDRLTorchLearner"]


class KDRLTorchLearner(KDRLLearner, IMPALATorchLearner):
    """KD-RL loss in torch (replaces IMPALA's V-trace loss); RAdam optimiser."""

    @override(TorchLearner)
    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        module = self._module[module_id]
        params = self.get_parameters(module)
        self.register_optimizer(
            module_id=module_id,
            optimizer=torch.optim.RAdam(params),
            params=params,
            lr_or_lr_schedule=config.lr,
        )

    @override(IMPALATorchLearner)
    def compute_loss_for_module(
        self, *, module_id: str, config: Any, batch: dict, fwd_out: dict
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        loss_mask = batch[Columns.LOSS_MASK].bool()
        role = batch[ROLE]
        distil_steps = loss_mask & (role == ROLE_DISTIL)
        auto_steps = loss_mask & (role != ROLE_DISTIL)
        n_distil_rows = distil_steps.any(dim=1).sum().clamp(min=1)
        n_auto_rows = auto_steps.any(dim=1).sum().clamp(min=1)

        dist_inputs = fwd_out[Columns.ACTION_DIST_INPUTS]
        mu = dist_inputs[..., : dist_inputs.shape[-1] // 2]
        values = module.compute_values(batch, embeddings=fwd_out.get(Columns.EMBEDDINGS))
        rewards = batch[Columns.REWARDS].to(mu.dtype)

        # Distilling students.
        distil = masked_l1_distillation(
            mu, batch[TEACHER_ACTION].to(mu.dtype), batch[TEACHER_REWARD], rewards, distil_steps
        )
        distil_loss = distil.loss / n_distil_rows
        has_distil = bool(distil_steps.any())
        penalty = (
            l2_penalty(module.parameters(), config.distil_weight_decay) if has_distil else mu.new_zeros(())
        )

        # Autonomous students.
        sigma = autonomous_sigma(mu, batch[GT_ACTION].to(mu.dtype), MIN_SIGMA)
        log_probs = gaussian_log_prob(batch[Columns.ACTIONS].to(mu.dtype), mu, sigma)
        returns = n_step_returns(
            rewards,
            values,
            batch[Columns.TERMINATEDS],
            None,
            config.gamma,
            seq_lens=batch[Columns.SEQ_LENS],
        )
        ac = actor_critic_loss(log_probs, values, returns, auto_steps, config.rl_loss_scale)
        rl_loss = ac.total / n_auto_rows

        total = distil_loss + penalty + rl_loss
        stats = {
            TOTAL_LOSS: total.detach(),
            NUM_DISTIL_STEPS: distil_steps.sum(),
            NUM_AUTONOMOUS_STEPS: auto_steps.sum(),
        }
        if has_distil:  # a batch without distilling steps leaves the last value of these
            stats[DISTILLATION_LOSS] = distil_loss.detach()
            stats[MASK_RATE] = distil.mask_rate  # over distilling steps
            # Unmasked mean per-step L1 to the teacher: a learning signal the mask does not confound.
            l1 = (batch[TEACHER_ACTION].to(mu.dtype) - mu.detach()).abs().sum(-1)
            stats[TEACHER_L1] = torch.where(distil_steps, l1, torch.zeros_like(l1)).sum() / distil_steps.sum()
        if bool(auto_steps.any()):
            # |log π_learner − log π_runner| on autonomous steps: 0 up to float error when σ is computed
            # identically on both sides and the weights did not move (else: policy lag).
            gap = (log_probs.detach() - batch[Columns.ACTION_LOGP].to(mu.dtype)).abs()
            stats[LOGP_GAP] = torch.where(auto_steps, gap, torch.zeros_like(gap)).sum() / auto_steps.sum()
            stats[POLICY_LOSS] = (ac.policy_loss / n_auto_rows).detach()
            stats[VALUE_LOSS] = (ac.value_loss / n_auto_rows).detach()
        self.metrics.log_dict(stats, key=module_id, window=1)
        return total
