"""The unrolled, differentiable TRAS gives the boxes of the project's TRAS tracker."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import make_moving_square_sequence
from tracking_by_trackers.envs.crops import crop_state_pairs
from tracking_by_trackers.experiments.attack.background_patch import sequence_frames
from tracking_by_trackers.experiments.attack.tras_unrolled import actor_mu, tras_boxes, tras_trajectory
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers.tras import TRAS
from tracking_by_trackers.teachers.one_pass import track_sequence


@pytest.mark.parametrize("preset", ["small", "small-separate-critic"])
def test_actor_mu_on_float_crops_is_the_networks_mu(preset):
    torch.manual_seed(0)
    network = StudentNetwork.from_preset(preset).eval()
    obs = torch.randint(0, 256, (2, 3, 2, 64, 64, 3), dtype=torch.uint8)
    with torch.no_grad():
        expected, _, _ = network(obs, network.initial_state(2))
        h, c = network.initial_state(2)
        width = network.lstm_width
        got, _ = actor_mu(network, obs.float(), (h[:, :width], c[:, :width]))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_the_trajectory_follows_the_tras_tracker(square_tracker):
    video = make_moving_square_sequence(40, seed=0)
    tracked = track_sequence(TRAS(square_tracker, device="cpu"), video).boxes
    frames = torch.from_numpy(sequence_frames(video)).float()
    unrolled = tras_trajectory(square_tracker, frames, torch.from_numpy(video.init_box), 1.5).numpy()
    # The same boxes until OpenCV's fixed-point sampling first moves a crop pixel by one grey level; this
    # least-squares read-out amplifies that to a pixel or two (boxes feed back into the next crop), and
    # the two tracks stay that close.
    assert np.abs(unrolled[:6] - tracked[:6]).max() < 0.05
    assert np.abs(unrolled - tracked).max() < 3.0


def test_the_batched_pass_equals_the_frame_by_frame_one_across_lstm_resets(square_tracker):
    video = make_moving_square_sequence(75, seed=3)  # 74 predictions: resets after 32 and 64
    frames = torch.from_numpy(sequence_frames(video)).float()
    trajectory = tras_trajectory(square_tracker, frames, torch.from_numpy(video.init_box), 1.5)
    batched = tras_boxes(square_tracker, frames, trajectory, 1.5)
    torch.testing.assert_close(batched, trajectory[1:], rtol=0, atol=1e-3)


def test_the_trajectory_resets_the_lstm_like_the_tracker():
    # A network whose μ depends on the LSTM's state: a fresh student, its recurrence left as it is.
    torch.manual_seed(1)
    network = StudentNetwork.from_preset("small").eval()
    video = make_moving_square_sequence(10, seed=2)
    tracked = track_sequence(TRAS(network, device="cpu", reset_interval=4), video).boxes
    frames = torch.from_numpy(sequence_frames(video)).float()
    init = torch.from_numpy(video.init_box)
    with_reset = tras_trajectory(network, frames, init, 1.5, reset_interval=4).numpy()
    without = tras_trajectory(network, frames, init, 1.5, reset_interval=1000).numpy()
    assert np.abs(with_reset[:8] - tracked[:8]).max() < 0.5
    assert np.abs(without[:8] - tracked[:8]).max() > np.abs(with_reset[:8] - tracked[:8]).max()


def test_the_boxes_have_a_gradient_with_respect_to_the_pixels_in_the_crops(square_tracker):
    video = make_moving_square_sequence(6, seed=0)
    frames = torch.from_numpy(sequence_frames(video)).float().requires_grad_(True)
    trajectory = tras_trajectory(square_tracker, frames.detach(), torch.from_numpy(video.init_box), 1.5)
    tras_boxes(square_tracker, frames, trajectory, 1.5)[:, 0].sum().backward()
    touched = frames.grad.abs().sum(-1) > 0
    x, y, w, h = video.gt_boxes[2]
    assert touched[3, int(y + h / 2), int(x + w / 2)]
    assert not touched[:, :, -20:].any()  # the right edge of the frame is in no crop
    crops = crop_state_pairs([video.frames[0]], [video.frames[1]], trajectory[:1].numpy(), 1.5, 64)
    assert crops.shape == (1, 2, 64, 64, 3)
