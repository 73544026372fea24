"""Student network and its RLModule: shapes, LSTM state threading, shared weights, the σ rule."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns

from tracking_by_trackers.envs.sample_keys import GT_ACTION, MIN_SIGMA
from tracking_by_trackers.policies.kdrl.torch.student_torch_rl_module import StudentTorchRLModule
from tracking_by_trackers.policies.student_model import PRESETS, StudentNetwork, preset

# Two cores: one torch thread per process avoids oversubscription when tests run beside other work.
torch.set_num_threads(1)

SMALL = PRESETS["small"]


def _obs(*leading: int, side: int = 64, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (*leading, 2, side, side, 3), dtype=torch.uint8, generator=generator)


@pytest.fixture(scope="module")
def small_net() -> StudentNetwork:
    torch.manual_seed(0)
    return StudentNetwork.from_preset("small").eval()


def test_small_preset_shapes(small_net: StudentNetwork) -> None:
    mu, value, (h, c) = small_net(_obs(2, 3), small_net.initial_state(2))
    assert mu.shape == (2, 3, 4)
    assert value.shape == (2, 3)
    assert h.shape == c.shape == (2, SMALL.lstm_width)


def test_paper_preset_runs_on_one_sample() -> None:
    net = StudentNetwork.from_preset("paper").eval()
    with torch.inference_mode():
        mu, value, (h, c) = net(_obs(1, 1, side=128), net.initial_state(1))
    assert mu.shape == (1, 1, 4) and value.shape == (1, 1)
    assert h.shape == c.shape == (1, 512)


@pytest.mark.parametrize("separate_critic", [False, True])
def test_one_sequence_call_equals_step_by_step_calls(separate_critic: bool) -> None:
    torch.manual_seed(0)
    net = StudentNetwork(separate_critic=separate_critic).eval()
    obs = _obs(2, 4)
    with torch.inference_mode():
        mu_seq, value_seq, (h_seq, c_seq) = net(obs, net.initial_state(2))
        state = net.initial_state(2)
        steps = []
        for t in range(4):
            mu, value, state = net(obs[:, t : t + 1], state)
            steps.append((mu, value))
    # With its own trunk the critic's LSTM state sits beside the actor's.
    assert h_seq.shape == c_seq.shape == (2, (2 if separate_critic else 1) * SMALL.lstm_width)
    torch.testing.assert_close(torch.cat([m for m, _ in steps], dim=1), mu_seq, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat([v for _, v in steps], dim=1), value_seq, atol=1e-5, rtol=0)
    torch.testing.assert_close(state[0], h_seq, atol=1e-5, rtol=0)
    torch.testing.assert_close(state[1], c_seq, atol=1e-5, rtol=0)
    # The state carries information: the same last frame from a zero state gives another output.
    fresh_mu, _, _ = net(obs[:, 3:4], net.initial_state(2))
    assert not torch.allclose(fresh_mu, mu_seq[:, 3:4], atol=1e-5)


def test_both_crops_share_one_backbone(small_net: StudentNetwork) -> None:
    separate_backbone = sum(p.numel() for p in StudentNetwork.from_preset("small").backbone.parameters())
    total = sum(p.numel() for p in small_net.parameters())
    others = sum(p.numel() for n, p in small_net.named_parameters() if not n.startswith("backbone."))
    assert total == others + separate_backbone  # one backbone's parameters, not two
    obs = _obs(1, 1)
    swapped = obs.flip(2)
    with torch.inference_mode():
        mu, _, _ = small_net(obs, small_net.initial_state(1))
        mu_swapped, _, _ = small_net(swapped, small_net.initial_state(1))
    assert not torch.allclose(mu, mu_swapped)  # crop order matters: the FC sees [crop t−1, crop t]


def test_batchnorm_statistics_stay_frozen_in_train_mode() -> None:
    torch.manual_seed(0)
    net = StudentNetwork.from_preset("small").train()
    before = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    obs = _obs(2, 1)
    mu_train, _, _ = net(obs, net.initial_state(2))
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    mu_eval, _, _ = net.eval()(obs, net.initial_state(2))
    torch.testing.assert_close(mu_train, mu_eval)


def test_separate_critic_heads_read_their_own_half_of_the_state() -> None:
    torch.manual_seed(0)
    net = StudentNetwork(separate_critic=True).eval()
    obs = _obs(2, 1)
    # Each head reads only its own half of the state: changing the critic's half moves v, not μ.
    H = SMALL.lstm_width
    h, c = net.initial_state(2)
    h[:, H:], c[:, H:] = 1.0, 1.0
    with torch.inference_mode():
        mu_zero, value_zero, _ = net(obs, net.initial_state(2))
        mu_other, value_other, _ = net(obs, (h, c))
    torch.testing.assert_close(mu_other, mu_zero)
    assert not torch.allclose(value_other, value_zero, atol=1e-4)


def test_separate_critic_keeps_value_gradients_out_of_the_actors_layers() -> None:
    torch.manual_seed(0)
    shared, separate = StudentNetwork(), StudentNetwork(separate_critic=True)
    for net in (shared, separate):
        _, value, _ = net(_obs(2, 3), net.initial_state(2))
        value.sum().backward()

    def grad_size(param: torch.Tensor) -> float:
        return 0.0 if param.grad is None else param.grad.abs().sum().item()

    # The paper's shared trunk: the value loss trains the actor's FC and LSTM.
    assert grad_size(shared.fc[0].weight) > 0 and grad_size(shared.lstm.weight_hh_l0) > 0
    # Its own trunk: the value loss reaches the critic's layers and the shared backbone, not the actor's.
    assert grad_size(separate.fc[0].weight) == 0 and grad_size(separate.lstm.weight_hh_l0) == 0
    assert grad_size(separate.critic_fc[0].weight) > 0 and grad_size(separate.critic_lstm.weight_hh_l0) > 0
    assert any(grad_size(p) > 0 for p in separate.backbone.parameters())


def test_unknown_preset_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown student preset 'huge'.*paper, small"):
        preset("huge")


# --- the RLModule ---------------------------------------------------------------------------------


def _module() -> StudentTorchRLModule:
    torch.manual_seed(0)
    return StudentTorchRLModule(
        observation_space=gym.spaces.Box(0, 255, (2, 64, 64, 3), np.uint8),
        action_space=gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
        inference_only=False,
        model_config={"preset": "small", "max_seq_len": 33},
    )


def _batch(module: StudentTorchRLModule, B: int = 2, T: int = 3, with_gt: bool = True) -> dict:
    initial = module.get_initial_state()
    batch = {
        Columns.OBS: _obs(B, T),
        Columns.STATE_IN: {k: torch.from_numpy(v).unsqueeze(0).repeat(B, 1) for k, v in initial.items()},
    }
    if with_gt:
        batch[GT_ACTION] = torch.rand(B, T, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return batch


def test_module_initial_state_is_unbatched() -> None:
    state = _module().get_initial_state()
    assert set(state) == {"h", "c"}
    assert state["h"].shape == state["c"].shape == (SMALL.lstm_width,)


@pytest.mark.parametrize(
    ("model_config", "separate_critic"),
    [
        ({"preset": "small"}, False),
        ({"preset": "small-separate-critic"}, True),
        # The model_config of a checkpoint written before the preset existed.
        ({"preset": "small", "separate_critic": True}, True),
    ],
)
def test_module_model_config_chooses_the_critic_trunk(model_config: dict, separate_critic: bool) -> None:
    module = StudentTorchRLModule(
        observation_space=gym.spaces.Box(0, 255, (2, 64, 64, 3), np.uint8),
        action_space=gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
        inference_only=False,
        model_config={**model_config, "max_seq_len": 33},
    )
    width = (2 if separate_critic else 1) * SMALL.lstm_width
    assert module.net.config.separate_critic is separate_critic
    assert hasattr(module.net, "critic_lstm") is separate_critic
    assert module.get_initial_state()["h"].shape == (width,)
    batch = _batch(module)
    out = module.forward_train(batch)
    assert out[Columns.STATE_OUT]["c"].shape == (2, width)
    torch.testing.assert_close(
        module.compute_values(batch, embeddings=out[Columns.EMBEDDINGS]), module.compute_values(batch)
    )


def test_module_sigma_is_distance_to_ground_truth() -> None:
    module = _module()
    batch = _batch(module)
    for out in (module.forward_exploration(batch), module.forward_train(batch)):
        dist_inputs = out[Columns.ACTION_DIST_INPUTS]
        assert dist_inputs.shape == (2, 3, 8)
        assert out[Columns.STATE_OUT]["h"].shape == (2, SMALL.lstm_width)
        mu, log_sigma = dist_inputs.chunk(2, dim=-1)
        expected = (mu.detach() - batch[GT_ACTION]).abs().clamp_min(MIN_SIGMA)
        torch.testing.assert_close(log_sigma.exp(), expected)


def test_module_sigma_is_tiny_without_ground_truth() -> None:
    module = _module()
    out = module.forward_inference(_batch(module, with_gt=False))
    _, log_sigma = out[Columns.ACTION_DIST_INPUTS].chunk(2, dim=-1)
    torch.testing.assert_close(log_sigma.exp(), torch.full_like(log_sigma, MIN_SIGMA))


def test_runner_and_learner_see_the_same_mu() -> None:
    module = _module()
    batch = _batch(module)
    explore = module.forward_exploration(batch)[Columns.ACTION_DIST_INPUTS]  # eval mode, no grad
    train = module.forward_train(batch)[Columns.ACTION_DIST_INPUTS]  # train mode
    assert train.requires_grad and not explore.requires_grad
    torch.testing.assert_close(train, explore, atol=1e-6, rtol=0)


def test_module_values_from_embeddings_match_a_fresh_pass() -> None:
    module = _module().eval()
    batch = _batch(module)
    out = module.forward_train(batch)
    from_embeddings = module.compute_values(batch, embeddings=out[Columns.EMBEDDINGS])
    fresh = module.compute_values(batch)
    assert fresh.shape == (2, 3)
    torch.testing.assert_close(from_embeddings, fresh)


def test_default_distribution_log_prob_matches_normal() -> None:
    module = _module()
    batch = _batch(module)
    dist_inputs = module.forward_train(batch)[Columns.ACTION_DIST_INPUTS]
    dist = module.get_train_action_dist_cls().from_logits(dist_inputs)
    actions = batch[GT_ACTION] * 0.5
    mu, log_sigma = dist_inputs.chunk(2, dim=-1)
    expected = torch.distributions.Normal(mu, log_sigma.exp()).log_prob(actions).sum(-1)
    torch.testing.assert_close(dist.logp(actions), expected)
