"""Hand-computed checks of every KD-RL loss term (policies/kdrl/kdrl_losses.py)."""

from __future__ import annotations

import math

import pytest
import torch

from tracking_by_trackers.policies.kdrl.kdrl_losses import (
    actor_critic_loss,
    autonomous_sigma,
    gaussian_log_prob,
    l2_penalty,
    masked_l1_distillation,
    n_step_returns,
    truncated_importance_weights,
)

# --- masked L1 distillation -------------------------------------------------------------------


def _kd_batch() -> dict[str, torch.Tensor]:
    # Row 0: m = [1, 0 (tie), 1]; row 1: m = [1, 0 (student better), 0 (padding)].
    # |a^T - mu| summed over dims: row 0 -> [4, 1, 0.5], row 1 -> [1, 3, 20].
    mu = torch.tensor(
        [
            [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.5, 0.0, 0.0, 0.0]],
            [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]],
        ],
        requires_grad=True,
    )
    teacher_action = torch.tensor(
        [
            [[1.0, 2.0, 0.5, -0.5], [1.0, 1.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]],
            [[0.1, 0.2, 0.3, 0.4], [3.0, 0.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0]],
        ],
        requires_grad=True,
    )
    return {
        "mu": mu,
        "teacher_action": teacher_action,
        "teacher_reward": torch.tensor([[0.9, 0.5, 0.7], [0.8, 0.1, 0.9]]),
        "student_reward": torch.tensor([[0.1, 0.5, 0.2], [0.2, 0.3, 0.0]]),
        "loss_mask": torch.tensor([[True, True, True], [True, True, False]]),
    }


def test_masked_l1_matches_hand_computation() -> None:
    batch = _kd_batch()
    loss, mask_rate = masked_l1_distillation(**batch)
    # 4 (row 0, step 0) + 0.5 (row 0, step 2) + 1 (row 1, step 0)
    assert loss.item() == pytest.approx(5.5)
    assert mask_rate.item() == pytest.approx(3 / 5)  # 3 steps with m = 1 out of 5 valid


def test_masked_l1_gradient_only_on_masked_steps_and_not_into_teacher() -> None:
    batch = _kd_batch()
    loss = masked_l1_distillation(**batch).loss
    (grad_mu,) = torch.autograd.grad(loss, batch["mu"])
    # d|a - mu|/dmu = -sign(a - mu) on steps with m = 1.
    assert torch.equal(grad_mu[0, 0], torch.tensor([-1.0, -1.0, -1.0, 1.0]))
    assert torch.equal(grad_mu[0, 2], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    for b, t in [(0, 1), (1, 1), (1, 2)]:
        assert torch.equal(grad_mu[b, t], torch.zeros(4))
    assert loss.grad_fn is not None
    (grad_teacher,) = torch.autograd.grad(
        masked_l1_distillation(**batch).loss, batch["teacher_action"], allow_unused=True
    )
    assert grad_teacher is None or torch.equal(grad_teacher, torch.zeros_like(grad_teacher))


def test_masked_l1_zero_mask_gives_zero_gradient() -> None:
    batch = _kd_batch()
    batch["teacher_reward"] = batch["student_reward"].clone()  # ties everywhere -> m = 0
    loss, mask_rate = masked_l1_distillation(**batch)
    (grad_mu,) = torch.autograd.grad(loss, batch["mu"])
    assert loss.item() == 0.0
    assert mask_rate.item() == 0.0
    assert torch.equal(grad_mu, torch.zeros_like(grad_mu))


# --- sigma and Gaussian log-probability ------------------------------------------------------


def test_gaussian_log_prob_matches_torch_normal_and_sigma_gets_no_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(2, 3, 4, generator=gen, requires_grad=True)
    gt = torch.randn(2, 3, 4, generator=gen)
    sigma = autonomous_sigma(mu, gt)
    actions = torch.randn(2, 3, 4, generator=gen)
    logp = gaussian_log_prob(actions, mu, sigma)
    assert logp.shape == (2, 3)
    expected = torch.distributions.Normal(mu.detach(), sigma).log_prob(actions).sum(-1)
    torch.testing.assert_close(logp, expected)
    assert not sigma.requires_grad

    # Only mu receives gradient, even if sigma is built from a leaf that requires grad.
    sigma_leaf = sigma.clone().requires_grad_(True)
    logp = gaussian_log_prob(actions, mu, sigma_leaf)
    grad_mu, grad_sigma = torch.autograd.grad(logp.sum(), [mu, sigma_leaf], allow_unused=True)
    assert grad_sigma is None
    torch.testing.assert_close(grad_mu, (actions - mu.detach()) / sigma**2)


def test_autonomous_sigma_values_and_clamp() -> None:
    mu = torch.tensor([[[0.0, 1.0, -2.0, 0.5]]], requires_grad=True)
    gt = torch.tensor([[[0.0, 3.0, 1.0, 0.5]]])
    sigma = autonomous_sigma(mu, gt, min_sigma=1e-3)
    assert torch.equal(sigma, torch.tensor([[[1e-3, 2.0, 3.0, 1e-3]]]))
    assert not sigma.requires_grad


# --- n-step returns ---------------------------------------------------------------------------


def test_n_step_returns_by_hand_on_rllib_rows() -> None:
    # Rows as RLlib's learner connector lays them out: steps (loss_mask True), then the appended bootstrap
    # state (loss_mask False), then padding; rows 3 and 4 are cut from chunks longer than a row.
    nan = float("nan")
    rewards = torch.tensor(
        [
            [1.0, 2.0, 3.0, 0.0],  # 3 steps + bootstrap state
            [1.0, 1.0, 1.0, 0.0],  # 3 steps, terminated at the last
            [1.0, 2.0, 0.0, 99.0],  # 2 steps + bootstrap state + padding
            [1.0, 1.0, 1.0, 1.0],  # 4 steps, the next state in the next row
            [1.0, 1.0, 1.0, 1.0],  # 4 steps, the last one terminated
            [0.0, 9.0, 9.0, 9.0],  # the next row of row 3: its bootstrap state alone
        ]
    )
    values = torch.tensor(
        [
            [0.0, 0.0, 0.0, 10.0],
            [0.0, 0.0, 0.0, 100.0],
            [0.0, 0.0, 5.0, nan],  # garbage on padding must not leak
            [0.0, 0.0, 0.0, 6.0],
            [0.0, 0.0, 0.0, 6.0],
            [3.0, nan, nan, nan],
        ]
    )
    terminateds = torch.zeros(6, 4, dtype=torch.bool)
    terminateds[1, 2] = terminateds[4, 3] = True
    terminateds[2, 3] = True  # garbage on padding must not matter
    seq_lens = torch.tensor([4, 4, 3, 4, 4, 1])
    loss_mask = torch.tensor(
        [
            [True, True, True, False],
            [True, True, True, False],
            [True, True, False, False],
            [True, True, True, True],
            [True, True, True, True],
            [False, False, False, False],
        ]
    )
    expected = torch.tensor(
        [
            [16.0, 15.0, 13.0, 0.0],  # R2 = 3 + v(s3) = 13
            [3.0, 2.0, 1.0, 0.0],  # no bootstrap after the terminal
            [8.0, 7.0, 0.0, 0.0],  # R1 = 2 + v(s2) = 7
            [9.0, 8.0, 7.0, 0.0],  # R2 = 1 + v(s3) = 7; step 3 has no next state here
            [4.0, 3.0, 2.0, 1.0],  # a terminal at the row's end needs no next state
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    returns, valid = n_step_returns(rewards, values, terminateds, loss_mask, seq_lens, gamma=1.0)
    torch.testing.assert_close(returns, expected)
    expected_valid = loss_mask.clone()
    expected_valid[3, 3] = False
    assert torch.equal(valid, expected_valid)


def test_n_step_returns_discounted_and_detached() -> None:
    rewards = torch.tensor([[1.0, 2.0, 0.0]])
    values = torch.tensor([[0.0, 0.0, 4.0]], requires_grad=True)
    loss_mask = torch.tensor([[True, True, False]])
    returns, valid = n_step_returns(
        rewards, values, torch.zeros(1, 3, dtype=torch.bool), loss_mask, torch.tensor([3]), gamma=0.5
    )
    # R1 = 2 + 0.5 * 4 = 4, R0 = 1 + 0.5 * 4 = 3
    torch.testing.assert_close(returns, torch.tensor([[3.0, 4.0, 0.0]]))
    assert valid.tolist() == [[True, True, False]] and not returns.requires_grad


# --- actor-critic -----------------------------------------------------------------------------


def test_actor_critic_loss_matches_hand_computation() -> None:
    log_probs = torch.tensor([[-1.0, -3.0, -5.0]], requires_grad=True)
    values = torch.tensor([[1.0, 2.0, 0.0]], requires_grad=True)
    returns = torch.tensor([[3.0, 1.0, 7.0]])
    loss_mask = torch.tensor([[True, True, False]])
    policy_loss, value_loss = actor_critic_loss(log_probs, values, returns, loss_mask)
    # A = [2, -1]; L_pi = -(-1 * 2 + -3 * -1) = -1; L_v = 0.5 * 4 + 0.5 * 1 = 2.5
    assert policy_loss.item() == pytest.approx(-1.0)
    assert value_loss.item() == pytest.approx(2.5)

    # The advantage is detached: the policy term sends no gradient into the critic.
    (grad_v_from_pi,) = torch.autograd.grad(policy_loss, values, retain_graph=True, allow_unused=True)
    assert grad_v_from_pi is None or torch.equal(grad_v_from_pi, torch.zeros_like(values))
    grad_lp, grad_v = torch.autograd.grad(policy_loss + value_loss, [log_probs, values])
    torch.testing.assert_close(grad_lp, torch.tensor([[-2.0, 1.0, 0.0]]))  # -A, zero on padding
    torch.testing.assert_close(grad_v, torch.tensor([[-2.0, 1.0, 0.0]]))  # -(R - v)


def test_truncated_importance_weights_by_hand() -> None:
    # log ratios: -ln 2 -> 0.5; +ln 3 -> 3 truncated to 1; 0 -> 1; -inf (a density of 0) -> 0.
    log_probs = torch.tensor([[-1.0 - math.log(2.0), -2.0 + math.log(3.0), 0.5, -math.inf]])
    behaviour = torch.tensor([[-1.0, -2.0, 0.5, 0.0]])
    rho = truncated_importance_weights(log_probs, behaviour)
    torch.testing.assert_close(rho, torch.tensor([[0.5, 1.0, 1.0, 0.0]]))
    assert truncated_importance_weights(log_probs, behaviour, clip=2.0)[0, 1].item() == pytest.approx(2.0)


def test_importance_weights_scale_only_the_policy_term() -> None:
    log_probs = torch.tensor([[-1.0, -3.0, -5.0]], requires_grad=True)
    values = torch.tensor([[1.0, 2.0, 0.0]], requires_grad=True)
    returns = torch.tensor([[3.0, 1.0, 7.0]])
    loss_mask = torch.tensor([[True, True, False]])
    rho = torch.tensor([[0.5, 0.0, 1.0]], requires_grad=True)
    policy_loss, value_loss = actor_critic_loss(log_probs, values, returns, loss_mask, importance_weights=rho)
    # A = [2, -1], ρ·A = [1, 0]: L_π = -(-1 * 1) = 1; L_v unchanged = 2.5
    assert policy_loss.item() == pytest.approx(1.0)
    assert value_loss.item() == pytest.approx(2.5)
    grad_lp, grad_rho = torch.autograd.grad(policy_loss, [log_probs, rho], allow_unused=True)
    torch.testing.assert_close(grad_lp, torch.tensor([[-1.0, 0.0, 0.0]]))
    assert grad_rho is None  # the weights are constants of the update


# --- L2 penalty --------------------------------------------------------------------------------


def test_l2_penalty_by_hand() -> None:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([[3.0], [-1.0]], requires_grad=True)
    penalty = l2_penalty([a, b], weight_decay=0.1)
    assert penalty.item() == pytest.approx(0.5 * 0.1 * (1 + 4 + 9 + 1))
    grad_a, grad_b = torch.autograd.grad(penalty, [a, b])
    torch.testing.assert_close(grad_a, 0.1 * a.detach())  # gradient is exactly wd * theta
    torch.testing.assert_close(grad_b, 0.1 * b.detach())
    assert l2_penalty([]).item() == 0.0
