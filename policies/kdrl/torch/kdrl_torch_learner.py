"""Torch Learner of KD-RL: per-role losses (distillation or n-step actor-critic) and RAdam.

Batch layout (stateful module, after ``AddOneTsToEpisodesAndTruncate`` and
``AddTimeDimToBatchAndZeroPad``): one row per chunk of an episode, every column ``[B, T]`` (actions
``[B, T, 4]``), the last valid position of a row (``seq_lens − 1``) is the appended bootstrap step and
``loss_mask`` is False there and on padding. A chunk holds t_max steps, or t_max + 1 when some sub-env of
the runner reset during the fragment (RLlib does not count a reset as a step), so ``max_seq_len`` is
``t_max + 2`` (``tracking_by_trackers.policies.kdrl.kdrl.max_seq_len_for``). A longer chunk is split over two rows; the step at the
end of the first has no return there and gets no actor-critic loss
(``tracking_by_trackers.policies.kdrl.kdrl_losses.n_step_returns``). The ``role`` column (``tracking_by_trackers.envs.sample_keys.ROLE``) says which loss a
row's steps get:

* teacher-distilling rows: ``masked_l1_distillation(μ, a^(T), r^(T), r, m)``;
* ground-truth rows (ablations ``kd_gt``/``gt_only``): the same L1 with ``a_gt`` as the target;
* ``l2_penalty(θ, 1e-4)`` once per batch that holds steps of either distilling kind;
* autonomous rows: ``gaussian_log_prob(a, μ, σ = |μ − a_gt|)`` and n-step returns with γ, bootstrapped
  from ``v`` at the bootstrap step (zero past a terminal), ``rl_loss_scale · (L_π + L_v)`` from
  ``actor_critic_loss``; with ``policy_lag_correction`` (the default) σ is the one the runner sampled with
  and the policy term is weighted by V-trace's truncated importance ratio (see the comment in the loss).

Normalisation: the paper's losses are sums over the t_max steps of one segment (one A3C gradient). A batch
holds many segments, so each sum is divided by the number of rows (segments) of its role: the loss is
the mean per-segment loss, and the 1e-3 ratio between the RL and distillation terms is kept
(docs/method.md, *Loss scales*).
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.algorithms.impala.torch.impala_torch_learner import IMPALATorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.annotations import override
from ray.rllib.utils.schedules.scheduler import Scheduler

from tracking_by_trackers.envs.sample_keys import (
    GT_ACTION,
    MIN_SIGMA,
    ROLE,
    ROLE_AUTONOMOUS,
    ROLE_DISTIL,
    ROLE_DISTIL_GT,
    TEACHER_ACTION,
    TEACHER_REWARD,
)
from tracking_by_trackers.policies.kdrl.kdrl_learner import (
    DISTILLATION_LOSS,
    GT_L1,
    GT_LOSS,
    IMPORTANCE_WEIGHT,
    LOGP_GAP,
    MASK_RATE,
    NUM_AUTONOMOUS_STEPS,
    NUM_DISTIL_STEPS,
    NUM_GT_STEPS,
    POLICY_LOSS,
    TEACHER_L1,
    TOTAL_LOSS,
    VALUE_LOSS,
    KDRLLearner,
)
from tracking_by_trackers.policies.kdrl.kdrl_losses import (
    actor_critic_loss,
    autonomous_sigma,
    gaussian_log_prob,
    l2_penalty,
    masked_l1_distillation,
    n_step_returns,
    truncated_importance_weights,
)

__all__ = ["KDRLTorchLearner"]


# The name of the backbone's own optimizer when it learns at a scaled rate (RLlib keys it "<module>_<name>").
BACKBONE_OPTIMIZER = "backbone"


class KDRLTorchLearner(KDRLLearner, IMPALATorchLearner):
    """KD-RL loss in torch (replaces IMPALA's V-trace loss); RAdam optimiser."""

    @override(TorchLearner)
    def configure_optimizers_for_module(self, module_id: str, config: Any = None) -> None:
        """RAdam over the module; with ``backbone_lr_scale`` below 1 the backbone gets its own RAdam at
        ``lr · backbone_lr_scale``, and at 0 none: its parameters stop requiring gradients, so autograd
        skips its backward pass (a frozen pretrained backbone)."""
        module = self._module[module_id]
        scale = float(getattr(config, "backbone_lr_scale", 1.0))
        backbone = module.unwrapped().net.backbone if scale != 1.0 else None
        backbone_ids = {id(p) for p in backbone.parameters()} if backbone is not None else set()
        params = [p for p in self.get_parameters(module) if id(p) not in backbone_ids]
        self.register_optimizer(
            module_id=module_id,
            optimizer=torch.optim.RAdam(params),
            params=params,
            lr_or_lr_schedule=config.lr,
        )
        if backbone is None:
            return
        backbone_params = list(backbone.parameters())
        if scale == 0.0:
            for param in backbone_params:
                param.requires_grad_(False)
            return
        self.register_optimizer(
            module_id=module_id,
            optimizer_name=BACKBONE_OPTIMIZER,
            optimizer=torch.optim.RAdam(backbone_params),
            params=backbone_params,
            lr_or_lr_schedule=config.lr * scale,
        )

    def set_learning_rate(self, lr: float) -> None:
        """Pin every optimizer's learning rate to ``lr`` from now on (the backbone's to ``lr`` times its
        scale).

        :class:`~tracking_by_trackers.policies.kdrl.kdrl.KDRL` anneals the rate over its budget
        (``tracking_by_trackers.policies.kdrl.lr_schedule``) and calls this through ``foreach_learner`` after every
        iteration: RLlib's own schedules count env steps, which a time budget cannot name in advance
        (docs/rllib.md, *The optimiser*).
        """
        scale = float(getattr(self.config, "backbone_lr_scale", 1.0))
        for optimizer in list(self._optimizer_lr_schedules):
            name = self._optimizer_name_of(optimizer)
            rate = lr * scale if name.endswith(BACKBONE_OPTIMIZER) else lr
            self._optimizer_lr_schedules[optimizer] = Scheduler(rate, framework="torch", device=self._device)
            self._set_optimizer_lr(optimizer, rate)

    def _optimizer_name_of(self, optimizer) -> str:
        return next((name for name, opt in self._named_optimizers.items() if opt is optimizer), "")

    @override(IMPALATorchLearner)
    def compute_loss_for_module(
        self, *, module_id: str, config: Any, batch: dict, fwd_out: dict
    ) -> torch.Tensor:
        module = self.module[module_id].unwrapped()
        loss_mask = batch[Columns.LOSS_MASK].bool()
        role = batch[ROLE]
        distil_steps = loss_mask & (role == ROLE_DISTIL)
        gt_steps = loss_mask & (role == ROLE_DISTIL_GT)
        auto_steps = loss_mask & (role == ROLE_AUTONOMOUS)

        dist_inputs = fwd_out[Columns.ACTION_DIST_INPUTS]
        mu = dist_inputs[..., : dist_inputs.shape[-1] // 2]
        values = module.compute_values(batch, embeddings=fwd_out.get(Columns.EMBEDDINGS))
        rewards = batch[Columns.REWARDS].to(mu.dtype)
        gt_action = batch[GT_ACTION].to(mu.dtype)
        stats: dict[str, Any] = {}

        # Students distilling from the best teacher: masked L1.
        distil = masked_l1_distillation(
            mu, batch[TEACHER_ACTION].to(mu.dtype), batch[TEACHER_REWARD], rewards, distil_steps
        )
        distil_loss = distil.loss / _rows(distil_steps)
        # Students learning the ground-truth action (ablations kd_gt, gt_only): the same L1 with the
        # ground truth as the teacher. Its reward ω(1) = 1 beats every imperfect student, so m_t = 1.
        gt = masked_l1_distillation(mu, gt_action, torch.ones_like(rewards), rewards, gt_steps)
        gt_loss = gt.loss / _rows(gt_steps)
        # Weight decay on the distillation term only (docs/method.md, *Distillation*): once per batch that
        # holds such steps.
        has_distil = bool((distil_steps | gt_steps).any())
        penalty = (
            l2_penalty(module.parameters(), config.distil_weight_decay) if has_distil else mu.new_zeros(())
        )

        # Autonomous students: n-step advantage actor-critic. An A3C student takes its gradient with the
        # very weights that acted; IMPALA's runners act with older ones, and at the small preset's lr μ
        # moves far more than σ between the two. The lag correction scores each action with the σ it was
        # sampled with (recorded by the runner in ACTION_DIST_INPUTS) and weights it by V-trace's
        # truncated ratio ρ_t, so actions the policy has moved away from (ρ → 0) send no gradient.
        actions = batch[Columns.ACTIONS].to(mu.dtype)
        weights = None
        if config.policy_lag_correction:
            behaviour_sigma = batch[Columns.ACTION_DIST_INPUTS][..., mu.shape[-1] :].to(mu.dtype).exp()
            log_probs = gaussian_log_prob(actions, mu, behaviour_sigma)
            weights = truncated_importance_weights(log_probs, batch[Columns.ACTION_LOGP])
        else:
            log_probs = gaussian_log_prob(actions, mu, autonomous_sigma(mu, gt_action, MIN_SIGMA))
        returns, has_return = n_step_returns(
            rewards, values, batch[Columns.TERMINATEDS], loss_mask, batch[Columns.SEQ_LENS], config.gamma
        )
        # A chunk longer than a row leaves the row's last step without its next state (docs/method.md,
        # *Actor-critic*): that step is left out, not trained toward a return of 0.
        auto_steps = auto_steps & has_return
        ac = actor_critic_loss(log_probs, values, returns, auto_steps, importance_weights=weights)
        rl_loss = config.rl_loss_scale * ac.policy_loss / _rows(auto_steps) + config.rl_loss_scale * (
            ac.value_loss / _rows(auto_steps)
        )

        total = distil_loss + gt_loss + penalty + rl_loss
        stats[TOTAL_LOSS] = total.detach()
        stats[NUM_DISTIL_STEPS] = distil_steps.sum()
        stats[NUM_GT_STEPS] = gt_steps.sum()
        stats[NUM_AUTONOMOUS_STEPS] = auto_steps.sum()
        # A batch without steps of a role leaves that role's metrics out, rather than logging a fake 0.
        if bool(distil_steps.any()):
            stats[DISTILLATION_LOSS] = distil_loss.detach()
            stats[MASK_RATE] = distil.mask_rate  # over distilling steps
            # Unmasked mean per-step L1 to the teacher: a learning signal the mask does not confound.
            stats[TEACHER_L1] = _mean_l1(batch[TEACHER_ACTION].to(mu.dtype), mu, distil_steps)
        if bool(gt_steps.any()):
            stats[GT_LOSS] = gt_loss.detach()
            stats[GT_L1] = _mean_l1(gt_action, mu, gt_steps)
        if bool(auto_steps.any()):
            # |log π_learner − log π_runner| on autonomous steps: 0 up to float error when σ is computed
            # identically on both sides and the weights did not move (else: policy lag).
            gap = (log_probs.detach() - batch[Columns.ACTION_LOGP].to(mu.dtype)).abs()
            stats[LOGP_GAP] = _mean(gap, auto_steps)
            stats[POLICY_LOSS] = (ac.policy_loss / _rows(auto_steps)).detach()
            if weights is not None:
                stats[IMPORTANCE_WEIGHT] = _mean(weights, auto_steps)
            stats[VALUE_LOSS] = (ac.value_loss / _rows(auto_steps)).detach()
        self.metrics.log_dict(stats, key=module_id, window=1)
        return total


def _rows(steps: torch.Tensor) -> torch.Tensor:
    """Number of rows (t_max segments) holding at least one of ``steps``, at least 1."""
    return steps.any(dim=1).sum().clamp(min=1)


def _mean(values: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``[B, T]`` over ``steps`` (no gradient)."""
    values = values.detach()
    return torch.where(steps, values, torch.zeros_like(values)).sum() / steps.sum()


def _mean_l1(target: torch.Tensor, mu: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Mean per-step L1 distance |target − μ| over ``steps`` (a diagnostic, no gradient)."""
    l1 = (target - mu.detach()).abs().sum(-1)
    return torch.where(steps, l1, torch.zeros_like(l1)).sum() / steps.sum()
