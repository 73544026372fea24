"""State crops ρ: exact pixels on aligned cases, zero padding, batching and errors."""

import numpy as np
import pytest

from tracking_by_trackers.envs.crops import crop_regions, crop_state, crop_state_pairs


def _gradient_image(height=60, width=80):
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs * 3 % 256, ys * 4 % 256, (xs + ys) % 256], axis=-1).astype(np.uint8)


def test_unit_scale_crop_is_the_image_window():
    image = _gradient_image()
    # Box 10x20 at (30, 15), context 1, output 10 wide: one output pixel per source pixel, exactly.
    crop = crop_regions([image], [[30, 15, 10, 10]], context=1.0, size=10)[0]
    np.testing.assert_array_equal(crop, image[15:25, 30:40])


def test_context_widens_the_window_around_the_centre():
    image = _gradient_image()
    # Box 10x10 centred at (35, 20) with context 2 covers [25, 45) x [10, 30).
    crop = crop_regions([image], [[30, 15, 10, 10]], context=2.0, size=20)[0]
    np.testing.assert_array_equal(crop, image[10:30, 25:45])


def test_pixels_outside_the_image_are_zero():
    image = np.full((40, 40, 3), 200, dtype=np.uint8)
    # Box at the top-left corner: with context 2 the window is [-5, 15) in both axes.
    crop = crop_regions([image], [[0, 0, 10, 10]], context=2.0, size=20)[0]
    assert (crop[:5] == 0).all() and (crop[:, :5] == 0).all()
    assert (crop[6:, 6:] == 200).all()


def test_box_entirely_outside_gives_a_black_crop():
    image = np.full((40, 40, 3), 200, dtype=np.uint8)
    crop = crop_regions([image], [[100, 100, 10, 10]], size=16)[0]
    assert crop.dtype == np.uint8 and crop.shape == (16, 16, 3)
    assert (crop == 0).all()


def test_downscaling_a_constant_region_keeps_its_value():
    image = np.full((300, 400, 3), (10, 120, 250), dtype=np.uint8)
    crop = crop_regions([image], [[50, 50, 200, 150]], context=1.5, size=32)[0]
    np.testing.assert_array_equal(crop, np.broadcast_to(np.array([10, 120, 250], np.uint8), crop.shape))


def test_batch_matches_one_at_a_time_and_images_may_differ_in_size():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(60, 80), (120, 90), (33, 47)]]
    boxes = np.array([[10.3, 5.7, 20.1, 30.9], [40, 60, 50, 20], [-5, -5, 20, 20]])
    batch = crop_regions(images, boxes, size=24)
    for image, box, crop in zip(images, boxes, batch, strict=True):
        np.testing.assert_array_equal(crop, crop_regions([image], [box], size=24)[0])


def test_zero_size_box_gives_a_crop_not_an_error():
    image = _gradient_image()
    crop = crop_regions([image], [[30, 20, 0, 0]], size=8)[0]
    assert crop.shape == (8, 8, 3)


def test_writes_into_the_given_output_array():
    image = _gradient_image()
    out = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    result = crop_regions([image, image], [[10, 10, 20, 20], [30, 30, 10, 10]], size=16, out=out)
    assert result is out and out.any()


def test_state_pairs_hold_previous_then_current_frame():
    previous = np.full((50, 50, 3), 1, dtype=np.uint8)
    current = np.full((50, 50, 3), 2, dtype=np.uint8)
    pairs = crop_state_pairs(
        [previous, previous], [current, current], [[10, 10, 20, 20], [5, 5, 10, 10]], size=8
    )
    assert pairs.shape == (2, 2, 8, 8, 3) and pairs.dtype == np.uint8
    assert (pairs[:, 0] == 1).all() and (pairs[:, 1] == 2).all()
    np.testing.assert_array_equal(crop_state(previous, current, [10, 10, 20, 20], size=8), pairs[0])


def test_non_finite_box_is_a_clear_error():
    image = _gradient_image()
    with pytest.raises(ValueError, match=r"non-finite box: box 1 is \[nan"):
        crop_regions([image, image], [[1, 1, 5, 5], [np.nan, 1, 5, 5]])


def test_count_mismatch_is_a_clear_error():
    image = _gradient_image()
    with pytest.raises(ValueError, match="got 1 images but 2 boxes"):
        crop_regions([image], [[1, 1, 5, 5], [1, 1, 5, 5]])
    with pytest.raises(ValueError, match="got 2 previous frames, 1 current frames and 1 boxes"):
        crop_state_pairs([image, image], [image], [[1, 1, 5, 5]])
