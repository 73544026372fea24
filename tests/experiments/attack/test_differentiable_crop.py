"""The attack's torch crop equals the project's OpenCV crop, and gradients reach only the pixels it samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tracking_by_trackers.envs.crops import crop_regions, crop_state_pairs
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.attack.differentiable_crop import crop_pairs_torch, crop_regions_torch

# Inside the image, off its border, across the border, and smaller than a pixel of the crop.
BOXES = np.array(
    [
        [40.0, 30.0, 60.0, 45.0],
        [-20.0, -30.0, 100.0, 80.0],
        [90.0, 50.0, 150.0, 120.0],
        [10.3, 20.7, 3.0, 5.0],
    ]
)


def _assert_equal_up_to_fixed_point(difference: np.ndarray) -> None:
    # OpenCV samples at coordinates rounded to 1/32 pixel: a few crop values come out one grey level apart.
    assert difference.max() <= 1.0
    assert (difference > 0).mean() < 1e-3
    assert difference.mean() / 255 < 1e-4


def _compare(frame: np.ndarray, size: int) -> np.ndarray:
    expected = crop_regions([frame] * len(BOXES), BOXES, 1.5, size).astype(np.float64)
    images = torch.from_numpy(np.repeat(frame[None], len(BOXES), axis=0)).float()
    got = crop_regions_torch(images, torch.from_numpy(BOXES), 1.5, size).numpy()
    return np.abs(got - expected)


@pytest.mark.parametrize("size", [64, 128])
def test_the_torch_crop_equals_the_opencv_crop(size):
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    _assert_equal_up_to_fixed_point(_compare(frame, size))


@pytest.mark.data
def test_the_torch_crop_equals_the_opencv_crop_on_a_real_frame(shared_data):
    frame = load_dataset(f"otb:{shared_data / 'real' / 'OTB_Biker'}")[0].frames[0]
    _assert_equal_up_to_fixed_point(_compare(frame, 128))


def test_crop_pairs_equal_the_state_crops_of_consecutive_frames():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (4, 90, 120, 3), dtype=np.uint8)
    boxes = BOXES[:3]
    expected = crop_state_pairs(list(frames[:-1]), list(frames[1:]), boxes, 1.5, 64).astype(np.float64)
    got = crop_pairs_torch(torch.from_numpy(frames).float(), torch.from_numpy(boxes), 1.5, 64).numpy()
    assert got.shape == (3, 2, 64, 64, 3)
    _assert_equal_up_to_fixed_point(np.abs(got - expected))


def test_gradients_reach_the_pixels_the_crop_samples_and_no_others():
    image = torch.rand(1, 100, 100, 3, requires_grad=True)
    crop_regions_torch(image, torch.tensor([[40.0, 40.0, 20.0, 20.0]]), 1.5, 16).sum().backward()
    touched = image.grad[0].abs().sum(-1) > 0
    rows, cols = np.nonzero(touched.numpy())
    # The crop spans [35, 65) around the box's centre 50 (1.5 × 20 = 30 pixels).
    assert rows.min() >= 34 and rows.max() <= 65 and cols.min() >= 34 and cols.max() <= 65
    assert touched[45:55, 45:55].all()
