"""Pure torch loss terms of the KD-RL student (knowledge distillation + actor-critic).

These functions know nothing about RLlib: a Learner's ``compute_loss_for_module`` only has to wire
batch columns into them, and every term can be checked on a hand-made batch.

Shapes follow RLlib's learner layout: every column is ``[B, T]`` (``[B, T, 4]`` for actions), rows are
right-padded, and ``loss_mask[b, t]`` is True on real steps and False on padding.

Terms (sums run over valid steps ``t`` of every row ``b``):

* Distillation (distilling students), L1 towards the best teacher's action, kept only where the
  teacher's reward strictly beats the student's::

      L_KD = Σ_t m_t · Σ_d |a_t^(T)[d] − μ(s_t)[d]|,   m_t = [r_t^(T) > r_t^(S)] · loss_mask_t

  plus an explicit L2 penalty ``½·wd·Σ‖θ‖²`` (weight decay 1e-4 applies to this term only, so it
  cannot be left to the optimiser; docs/rllib.md, *The optimiser*).
* Exploration distribution (autonomous students): ``N(μ, σ)`` with ``σ = |μ − a_gt|`` (not learned,
  clamped ≥ ``min_sigma``); the log-probability only sends gradient into μ.
* n-step returns, backwards in each row: ``R_t = r_t + γ·R_{t+1}``; restart after a terminated step;
  the last step of a row bootstraps from the value of the state after it, and a step whose next state is
  not in its row has no return (:func:`n_step_returns`).
* Advantage actor-critic, n-step advantage ``A_t = R_t − v(s_t)`` (detached)::

      L_π = −Σ_t log π(a_t|s_t) · A_t,   L_v = Σ_t ½ (R_t − v(s_t))²,   L_RL = 1e-3 · (L_π + L_v)

  The functions here return the unscaled sums; the learner normalises them and applies the 1e-3
  (``KDRLConfig.rl_loss_scale``).

  The paper writes the one-step error ``r_t + γ v(s_{t+1}) − v(s_t)`` in L_π (eq. 6) but n-step returns
  in L_v (docs/method.md, *Actor-critic*).
  We use ``R_t − v(s_t)`` in both, as A3C does over t_max-step segments (Mnih et al. 2016, Alg. S3);
  the one-step form is the special case t_max = 1, and using one return for both terms keeps the actor
  and the critic consistent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import Tensor

from tracking_by_trackers.envs.sample_keys import MIN_SIGMA

__all__ = [
    "ActorCriticLoss",
    "DistillationLoss",
    "NStepReturns",
    "actor_critic_loss",
    "autonomous_sigma",
    "gaussian_log_prob",
    "l2_penalty",
    "masked_l1_distillation",
    "n_step_returns",
    "truncated_importance_weights",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class DistillationLoss(NamedTuple):
    """Result of :func:`masked_l1_distillation`."""

    loss: Tensor
    """Scalar L1 distillation loss (differentiable w.r.t. μ)."""
    mask_rate: Tensor
    """Scalar, no gradient: fraction of valid steps where the teacher beat the student (m_t = 1)."""


class ActorCriticLoss(NamedTuple):
    """Result of :func:`actor_critic_loss`; unpacks as ``(policy_loss, value_loss)``."""

    policy_loss: Tensor
    """Unscaled ``L_π``."""
    value_loss: Tensor
    """Unscaled ``L_v``."""


def masked_l1_distillation(
    mu: Tensor,
    teacher_action: Tensor,
    teacher_reward: Tensor,
    student_reward: Tensor,
    loss_mask: Tensor,
) -> DistillationLoss:
    """Masked L1 distillation ``Σ_t m_t · Σ_d |a_t^(T)[d] − μ_t[d]|``.

    Args:
        mu: ``[B, T, 4]`` student mean action μ(s_t).
        teacher_action: ``[B, T, 4]`` best teacher's action a_t^(T); detached (a fixed target).
        teacher_reward: ``[B, T]`` reward of the teacher's action against the ground truth.
        student_reward: ``[B, T]`` reward of the student's action against the ground truth.
        loss_mask: ``[B, T]`` bool, True on real steps, False on padding.

    Returns:
        :class:`DistillationLoss` ``(loss, mask_rate)``, both scalars; ``loss`` is the sum (the learner
        normalises it). ``m_t = 1`` only where the
        teacher's reward is STRICTLY greater (a tie keeps the student's action) and the step is valid.
    """
    valid = loss_mask.bool()
    m = (teacher_reward > student_reward) & valid
    per_step = (teacher_action.detach() - mu).abs().sum(dim=-1)
    # `where` rather than a product: padded steps may hold garbage (even NaN) and must not leak.
    loss = torch.where(m, per_step, torch.zeros_like(per_step)).sum()
    n_valid = valid.sum().clamp(min=1)
    mask_rate = m.sum().to(per_step.dtype) / n_valid
    return DistillationLoss(loss=loss, mask_rate=mask_rate.detach())


def autonomous_sigma(mu: Tensor, gt_action: Tensor, min_sigma: float = MIN_SIGMA) -> Tensor:
    """Exploration std ``σ = max(|μ − a_gt|, min_sigma)``, not learned (no gradient).

    Args:
        mu: ``[..., 4]`` student mean action (e.g. ``[B, T, 4]``); detached here.
        gt_action: same shape, the ground-truth action φ(g_t, b_{t-1}).
        min_sigma: floor that keeps the density finite when μ equals the ground-truth action.

    Returns:
        ``[..., 4]`` σ, wide when μ is far from the ground truth and narrow when close.
    """
    return (mu.detach() - gt_action.detach()).abs().clamp(min=min_sigma)


def gaussian_log_prob(actions: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """Diagonal Normal log density, summed over the action dims.

    Equals ``Normal(mu, sigma).log_prob(actions).sum(-1)``, but only μ receives gradient: σ is a
    function of μ (see :func:`autonomous_sigma`) yet is not a learned quantity, and the actions are
    sampled data.

    Args:
        actions: ``[B, T, 4]`` actions taken.
        mu: ``[B, T, 4]`` student mean action.
        sigma: ``[B, T, 4]`` std, > 0; detached here.

    Returns:
        ``[B, T]`` log π(a_t | s_t).
    """
    sigma = sigma.detach()
    z = (actions.detach() - mu) / sigma
    return (-0.5 * z.pow(2) - sigma.log() - _HALF_LOG_2PI).sum(dim=-1)


class NStepReturns(NamedTuple):
    """Result of :func:`n_step_returns`; unpacks as ``(returns, valid)``."""

    returns: Tensor
    """``[B, T]`` R_t, detached (regression targets); 0 where ``valid`` is False."""
    valid: Tensor
    """``[B, T]`` bool, the steps that have a return in their row: the only ones a loss may train."""


def n_step_returns(
    rewards: Tensor,
    values: Tensor,
    terminateds: Tensor,
    loss_mask: Tensor,
    seq_lens: Tensor,
    gamma: float = 1.0,
) -> NStepReturns:
    """Discounted n-step returns inside each row of RLlib's learner batch, and which steps have one.

    Layout (after ``AddOneTsToEpisodesAndTruncate`` and ``AddTimeDimToBatchAndZeroPad``), all ``[B, T]``
    but ``seq_lens`` ``[B]``: row ``b`` holds ``seq_lens[b]`` consecutive states of one episode chunk,
    right-padded; ``values[b, t] = v(s_t)``; ``rewards[b, t]`` and ``terminateds[b, t]`` (the episode
    ended after that action) belong to the action taken in ``s_t``; ``loss_mask[b, t]`` is True on steps
    (states an action was taken in) and False on the bootstrap state RLlib appends to a chunk and on
    padding.

    Recursion, backwards in each row: ``R_t = r_t + γ·X_{t+1}``, where ``X_{t+1}`` is 0 after a terminated
    step (the return restarts there), else ``R_{t+1}`` when step t+1 has a return, else ``v(s_{t+1})``.
    A step has a return when it terminated or its next state is in its row. The one step that has none is
    the last position of a row cut from a chunk longer than ``max_seq_len − 1`` steps (its next state opens
    the following row): it is not valid (``R = 0``), and a loss must leave it out rather than train it
    toward 0. The steps before it bootstrap from its value.

    Returns:
        :class:`NStepReturns` ``(returns, valid)``, both ``[B, T]``; the returns are detached.
    """
    B, T = rewards.shape
    positions = torch.arange(T, device=rewards.device).unsqueeze(0)
    lens = seq_lens.to(device=rewards.device, dtype=torch.long).unsqueeze(1)
    done = terminateds.bool()
    valid = loss_mask.bool() & (positions < lens) & (done | (positions + 1 < lens))
    rewards = rewards.detach()
    values = values.detach().to(rewards.dtype)
    zero = rewards.new_zeros(B)
    returns = torch.zeros_like(rewards)
    carry, carry_valid = zero, torch.zeros(B, dtype=torch.bool, device=rewards.device)
    for t in range(T - 1, -1, -1):
        following = torch.where(carry_valid, carry, values[:, t + 1]) if t + 1 < T else zero
        # `where`, not a product: the value past a row's end is padding and may hold garbage (even NaN).
        following = torch.where(done[:, t], zero, following)
        carry = torch.where(valid[:, t], rewards[:, t] + gamma * following, zero)
        carry_valid = valid[:, t]
        returns[:, t] = carry
    return NStepReturns(returns, valid)


def actor_critic_loss(
    log_probs: Tensor,
    values: Tensor,
    returns: Tensor,
    loss_mask: Tensor,
    importance_weights: Tensor | None = None,
) -> ActorCriticLoss:
    """Advantage actor-critic loss with the n-step advantage ``A_t = R_t − v(s_t)``.

    ``L_π = −Σ_t log π(a_t|s_t)·A_t`` with A detached (the actor must not train the critic),
    ``L_v = Σ_t ½ (R_t − v(s_t))²`` with R detached. Sums over the valid steps, unscaled (the learner
    applies the 1e-3). See the module docstring for why n-step and not the paper's one-step error.

    Args:
        log_probs: ``[B, T]`` log π(a_t|s_t) (e.g. from :func:`gaussian_log_prob`).
        values: ``[B, T]`` v(s_t).
        returns: ``[B, T]`` R_t (e.g. from :func:`n_step_returns`).
        loss_mask: ``[B, T]`` bool, True on real steps.
        importance_weights: optional ``[B, T]`` weights ``ρ_t`` on the policy term (detached), e.g. the
            truncated ratios of :func:`truncated_importance_weights`: ``L_π = −Σ_t ρ_t·log π(a_t|s_t)·A_t``.

    Returns:
        :class:`ActorCriticLoss` ``(policy_loss, value_loss)``, scalars.
    """
    valid = loss_mask.bool()
    returns = returns.detach()
    advantages = (returns - values).detach()
    if importance_weights is not None:
        advantages = advantages * importance_weights.detach()
    zero = torch.zeros_like(log_probs)
    policy_loss = -torch.where(valid, log_probs * advantages, zero).sum()
    value_loss = torch.where(valid, 0.5 * (returns - values).pow(2), torch.zeros_like(values)).sum()
    return ActorCriticLoss(policy_loss, value_loss)


def truncated_importance_weights(log_probs: Tensor, behaviour_log_probs: Tensor, clip: float = 1.0) -> Tensor:
    """V-trace's truncated ratios ``ρ_t = min(clip, π(a_t|s_t) / μ_b(a_t|s_t))``, detached.

    The asynchronous env runners act with weights one or more updates old (IMPALA), whereas an A3C
    student takes its gradient with the very weights that acted. Weighting the policy term by ρ_t keeps
    the update on the actions the current policy would still take, and drops (ρ → 0) those the policy
    has already moved away from, whose score ``(a − μ)/σ²`` would otherwise be huge when σ is small.

    Args:
        log_probs: ``[B, T]`` log π(a_t|s_t) under the learner's current weights.
        behaviour_log_probs: ``[B, T]`` log-probabilities recorded by the env runner that acted.
        clip: ρ̄, the truncation level (1 in IMPALA).

    Returns:
        ``[B, T]`` ρ_t in ``[0, clip]``; a NaN log-probability (garbage on padding) gives 0.
    """
    log_ratio = log_probs.detach() - behaviour_log_probs.detach().to(log_probs.dtype)
    rho = torch.exp(log_ratio).clamp(max=clip)
    return torch.where(torch.isfinite(rho), rho, torch.zeros_like(rho))


def l2_penalty(parameters: Iterable[Tensor], weight_decay: float = 1e-4) -> Tensor:
    """Explicit weight decay ``½·wd·Σ_θ ‖θ‖²``.

    The ½ makes the gradient exactly ``wd·θ``, the same as an optimiser's ``weight_decay=wd``; it is
    explicit because the decay applies to the distillation term only (one optimiser per module).

    Args:
        parameters: tensors of any shape (e.g. ``module.parameters()``).
        weight_decay: wd.

    Returns:
        Scalar penalty (0 when there are no parameters).
    """
    total: Tensor | None = None
    for p in parameters:
        sq = p.pow(2).sum()
        total = sq if total is None else total + sq
    if total is None:
        return torch.zeros(())
    return 0.5 * weight_decay * total
