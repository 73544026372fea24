"""A small student that really tracks the test's moving squares, built in seconds, for the attack tests.

Training one with KD-RL takes minutes, and an untrained student loses the target within a few frames,
leaving the attack nothing to lower. This one is the small preset with its random backbone and FC layers
kept, its LSTM set to pass its input through (input and output gates open, forget gate shut, no
recurrence), and its actor fitted by least squares to the shift φ(b_{t-1}, g_t) on jittered crops of
moving squares (other seeds than the test's). It is deterministic, and on an unseen moving square it
tracks with a mean IoU near 0.9.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import make_moving_square_sequence
from tracking_by_trackers.envs.boxes import action_between
from tracking_by_trackers.envs.crops import DEFAULT_CONTEXT, crop_state_pairs
from tracking_by_trackers.experiments.evaluation.evaluate import one_torch_thread
from tracking_by_trackers.policies.student_export import save_student
from tracking_by_trackers.policies.student_model import StudentNetwork

_GATE_BIAS = 8.0  # sigmoid(8) ≈ 1: a gate held open (or, negated, shut)


def fit_square_tracker(seed: int = 0) -> StudentNetwork:
    """The student described in the module docstring."""
    torch.manual_seed(seed)
    network = StudentNetwork.from_preset("small").eval()
    width = network.lstm_width
    lstm = network.lstm
    with torch.no_grad():
        lstm.weight_hh_l0.zero_()
        lstm.bias_hh_l0.zero_()
        # PyTorch's gate order: input, forget, cell, output.
        for gate, bias in ((0, _GATE_BIAS), (1, -_GATE_BIAS), (3, _GATE_BIAS)):
            lstm.weight_ih_l0[gate * width : (gate + 1) * width].zero_()
            lstm.bias_ih_l0[gate * width : (gate + 1) * width] = bias
        lstm.weight_ih_l0[2 * width : 3 * width] *= 0.3  # keep tanh near its linear range
        lstm.bias_ih_l0[2 * width : 3 * width] = 0.0
    rng = np.random.default_rng(seed)
    previous, current, boxes, actions = [], [], [], []
    for video_seed in range(1, 6):
        video = make_moving_square_sequence(40, seed=video_seed)
        for t in range(1, len(video)):
            for _ in range(4):
                box = video.gt_boxes[t - 1].copy()
                box[:2] += rng.normal(0, 0.15, 2) * box[2:]
                previous.append(video.frames[t - 1])
                current.append(video.frames[t])
                boxes.append(box)
                actions.append(action_between(box, video.gt_boxes[t]))
    obs = torch.from_numpy(
        crop_state_pairs(previous, current, np.array(boxes), DEFAULT_CONTEXT, network.config.crop_size)
    )
    with torch.no_grad():
        features = torch.cat(
            [
                network.embed(chunk[:, None], network.initial_state(len(chunk)))[0][:, 0]
                for chunk in obs.split(256)
            ]
        ).double()
    targets = torch.from_numpy(np.array(actions))
    targets[:, 2:] = 0.0  # squares keep their size
    design = torch.cat([features, torch.ones(len(features), 1, dtype=torch.float64)], dim=1)
    gram = design.T @ design + 1e-3 * torch.eye(design.shape[1], dtype=torch.float64)
    solution = torch.linalg.solve(gram, design.T @ targets)
    with torch.no_grad():
        network.actor.weight.copy_(solution[:-1].T.float())
        network.actor.bias.copy_(solution[-1].float())
    return network


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Two shared cores: torch's own thread pool would oversubscribe them.
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def square_tracker() -> StudentNetwork:
    with one_torch_thread():
        return fit_square_tracker()


@pytest.fixture
def square_tracker_file(square_tracker, tmp_path):
    return save_student(square_tracker, tmp_path / "square_tracker.pt")
