"""The KD-RL learner on real env-runner fragments: every trained autonomous step's n-step return, by hand.

RLlib's env runner does not count a sub-env's reset as a step, so in a fragment where some sub-envs reset
the others take more than t_max steps. These tests sample with RLlib's own ``SingleAgentEnvRunner`` over
the project's env on videos of mixed lengths (so the sub-envs reset at different times), pass the episodes
through the real learner connector pipeline and loss, and compare the learner's returns, the steps it
trains and its value loss with returns computed by hand from the episodes.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

import tracking_by_trackers.policies.kdrl.torch.kdrl_torch_learner as kdrl_torch_learner
from tests.conftest import make_moving_square_sequence
from tracking_by_trackers.envs.clip_sources import SequenceClipSource
from tracking_by_trackers.envs.sample_keys import ROLE, ROLE_AUTONOMOUS
from tracking_by_trackers.policies.kdrl.kdrl import KDRLConfig, max_seq_len_for
from tracking_by_trackers.policies.kdrl.kdrl_learner import NUM_AUTONOMOUS_STEPS, VALUE_LOSS
from tracking_by_trackers.policies.kdrl.student_env import ENV_NAME

T_MAX = 5
GAMMA = 0.9
NUM_ENVS = 8
CROP = 32


def _state_value(observations: np.ndarray) -> np.ndarray:
    """A value that depends on the state alone (its mean pixel), so the hand computation can evaluate it
    on an episode's observations without replaying the LSTM; shape ``observations.shape[:-4]``."""
    return observations.astype(np.float64).mean(axis=(-4, -3, -2, -1)) / 255.0


def _config(video_lengths: list[int]) -> KDRLConfig:
    videos = [make_moving_square_sequence(num_frames=n, seed=i) for i, n in enumerate(video_lengths)]
    return (
        KDRLConfig()
        .environment(
            ENV_NAME,
            # Clips longer than every video: each episode plays a whole video, so episode lengths differ.
            env_config={"clip_source": SequenceClipSource(videos), "crop_size": CROP, "clip_length": 64},
        )
        .env_runners(num_env_runners=0, num_envs_per_env_runner=NUM_ENVS)
        .rl_module(model_config={"preset": "small", "crop_size": CROP})
        .training(t_max=T_MAX, gamma=GAMMA, curriculum=False)
        .debugging(seed=0)
    )


def _hand_rows(episodes, max_seq_len: int) -> list[dict]:
    """The rows RLlib cuts each chunk into (``max_seq_len`` states each: the chunk's states, then the
    bootstrap state), with every step's return computed from the episode, in the learner's order."""
    rows = []
    for episode in episodes:
        length = len(episode)
        rewards = np.asarray(episode.get_rewards(slice(0, length)), np.float64)
        values = _state_value(np.asarray(episode.get_observations(slice(0, length + 1))))
        autonomous = episode.get_infos(0)[ROLE] == ROLE_AUTONOMOUS
        for first in range(0, length + 1, max_seq_len):
            last = min(first + max_seq_len, length + 1) - 1  # the row's last state
            returns, has_return = [], []
            for t in range(first, min(last + 1, length)):
                ends_here = episode.is_terminated and last >= length - 1
                if not ends_here and t == last:  # its next state opens the next row
                    returns.append(0.0)
                    has_return.append(False)
                    continue
                stop = length if ends_here else last
                ret = sum(GAMMA ** (k - t) * rewards[k] for k in range(t, stop))
                if not ends_here:
                    ret += GAMMA ** (last - t) * values[last]
                returns.append(ret)
                has_return.append(True)
            rows.append(
                {
                    "seq_len": last - first + 1,
                    "rewards": rewards[first : last + 1],
                    "values": values[first : last + 1],
                    "returns": np.asarray(returns),
                    "has_return": np.asarray(has_return, bool),
                    "autonomous": autonomous,
                }
            )
    return rows


def _learner_targets(config: KDRLConfig, runner, episodes, monkeypatch) -> tuple[dict, dict]:
    """Run the real learner connector and loss on ``episodes``; returns what ``n_step_returns`` got and gave
    inside the learner, and the learner's logged metrics."""
    spaces = {DEFAULT_MODULE_ID: (runner.env.single_observation_space, runner.env.single_action_space)}
    learner = config.build_learner(spaces=spaces)
    module = learner.module[DEFAULT_MODULE_ID].unwrapped()

    def compute_values(batch, embeddings=None):
        return torch.as_tensor(_state_value(batch[Columns.OBS].numpy()), dtype=torch.float32)

    monkeypatch.setattr(module, "compute_values", compute_values)
    seen = {}

    def spy(*args):
        seen["inputs"] = args
        seen["output"] = n_step_returns(*args)
        return seen["output"]

    n_step_returns = kdrl_torch_learner.n_step_returns
    monkeypatch.setattr(kdrl_torch_learner, "n_step_returns", spy)
    connector = config.build_learner_connector(None, None)
    batch = connector(rl_module=learner.module, batch={}, episodes=episodes, shared_data={}, metrics=None)
    fwd_out = learner.module.forward_train(batch)
    learner.compute_losses(fwd_out=fwd_out, batch=batch)
    metrics = {
        key: learner.metrics.peek((DEFAULT_MODULE_ID, key)) for key in (NUM_AUTONOMOUS_STEPS, VALUE_LOSS)
    }
    return seen, metrics


@pytest.mark.parametrize(
    ("video_lengths", "outruns_a_row"),
    [
        # Episodes of 6 to 13 steps: a chunk holds at most t_max + 1 steps, and max_seq_len fits it whole.
        ([7, 8, 9, 11, 12, 14], False),
        # Mostly 2-step episodes: the sub-envs reset so often that a long episode's chunk outgrows a row.
        ([3, 3, 3, 3, 40], True),
    ],
    ids=["chunks-of-t_max+1", "chunk-longer-than-a-row"],
)
def test_every_trained_autonomous_step_gets_its_n_step_return(video_lengths, outruns_a_row, monkeypatch):
    torch.set_num_threads(1)
    config = _config(video_lengths)
    max_seq_len = config.model_config["max_seq_len"]
    assert max_seq_len == max_seq_len_for(T_MAX) == T_MAX + 2
    runner = SingleAgentEnvRunner(config=config, worker_index=0)
    try:
        episodes = [episode for _ in range(12) for episode in runner.sample(explore=True)]
    finally:
        runner.stop()
    lengths = [len(episode) for episode in episodes]
    # The case the issue names: a fragment in which some sub-env reset gave the others t_max + 1 steps.
    assert T_MAX + 1 in lengths
    assert (max(lengths) + 1 > max_seq_len) == outruns_a_row, sorted(set(lengths))

    hand = _hand_rows(episodes, max_seq_len)
    seen, metrics = _learner_targets(config, runner, copy.deepcopy(episodes), monkeypatch)
    rewards, values, _, loss_mask, seq_lens, gamma = seen["inputs"]
    returns, has_return = seen["output"]
    assert gamma == GAMMA
    assert seq_lens.tolist() == [row["seq_len"] for row in hand]
    auto_steps, value_loss, auto_rows = 0, 0.0, 0
    for b, row in enumerate(hand):
        n, steps = row["seq_len"], len(row["returns"])
        # The same states in the same order: the batch row is this chunk's row.
        np.testing.assert_allclose(rewards[b, :steps].numpy(), row["rewards"][:steps], atol=1e-6)
        np.testing.assert_allclose(values[b, :n].numpy(), row["values"], atol=1e-5)
        assert loss_mask[b, :steps].all() and not loss_mask[b, steps:].any()
        assert has_return[b, :steps].tolist() == row["has_return"].tolist()
        np.testing.assert_allclose(returns[b, :steps].numpy(), row["returns"], atol=1e-4)
        if row["autonomous"] and row["has_return"].any():
            trained = row["has_return"]
            auto_steps += int(trained.sum())
            value_loss += float((0.5 * (row["returns"][trained] - row["values"][:steps][trained]) ** 2).sum())
            auto_rows += 1
    assert auto_steps > 0
    # The learner trains exactly the autonomous steps that have a return, toward those returns.
    assert metrics[NUM_AUTONOMOUS_STEPS] == auto_steps
    assert metrics[VALUE_LOSS] == pytest.approx(value_loss / auto_rows, rel=1e-4)
    dropped = sum(int((~row["has_return"]).sum()) for row in hand)
    assert (dropped > 0) == outruns_a_row
