"""The synthetic video generator: reproducible, well-formed ground truth, a visible moving target, and a
difficulty knob that really changes the videos."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tracking_by_trackers.envs.boxes import centers
from tracking_by_trackers.envs.sequence import InMemoryFrames, Sequence
from tracking_by_trackers.envs.synthetic import (
    ABSENT_VISIBILITY,
    BENCHMARK,
    SyntheticConfig,
    dataset_seeds,
    generate_dataset,
    generate_sequence,
    render,
    shapes,
)
from tracking_by_trackers.envs.synthetic import generator as generator_module

SHORT = SyntheticConfig(num_frames=60)


@pytest.fixture(scope="module")
def videos() -> list[Sequence]:
    return [generate_sequence(seed, SHORT) for seed in range(6)]


def test_same_seed_gives_bit_identical_videos():
    first, second = generate_sequence(7, SHORT), generate_sequence(7, SHORT)
    np.testing.assert_array_equal(first.frames.array, second.frames.array)
    np.testing.assert_array_equal(first.gt_boxes, second.gt_boxes)
    np.testing.assert_array_equal(first.absent, second.absent)


def test_different_seeds_give_different_videos():
    first, second = generate_sequence(7, SHORT), generate_sequence(8, SHORT)
    assert not np.array_equal(first.frames.array, second.frames.array)
    assert not np.allclose(first.gt_boxes[0], second.gt_boxes[0])


def test_shapes_dtypes_and_metadata(videos):
    video = videos[0]
    assert isinstance(video, Sequence) and isinstance(video.frames, InMemoryFrames)
    assert video.benchmark == BENCHMARK and video.name == "synthetic_0"
    assert video.frames.array.shape == (60, 240, 320, 3) and video.frames.array.dtype == np.uint8
    assert video.gt_boxes.shape == (60, 4) and video.gt_boxes.dtype == np.float64
    assert video.absent.shape == (60,) and video.absent.dtype == bool
    assert video.attributes["visibility"].shape == (60,)
    assert generate_sequence(0, SHORT, name="mine").name == "mine"


def test_image_size_and_length_follow_the_config():
    video = generate_sequence(1, SyntheticConfig(num_frames=5, height=120, width=200))
    assert video.frames.array.shape == (5, 120, 200, 3)


def test_frame_zero_shows_the_whole_target(videos):
    for video in videos:
        x, y, w, h = video.gt_boxes[0]
        assert not video.absent[0] and w > 0 and h > 0
        assert x >= 0 and y >= 0 and x + w <= 320 and y + h <= 240
        assert video.attributes["visibility"][0] > 0.95


def test_absent_frames_have_nan_boxes_and_present_frames_valid_boxes_inside_the_image(videos):
    for video in videos:
        boxes, absent = video.gt_boxes, video.absent
        assert np.isnan(boxes[absent]).all()
        present = boxes[~absent]
        assert np.isfinite(present).all() and (present[:, 2:] > 0).all()
        assert (present[:, :2] >= 0).all()
        assert (present[:, 0] + present[:, 2] <= 320 + 1e-9).all()
        assert (present[:, 1] + present[:, 3] <= 240 + 1e-9).all()
        visibility = video.attributes["visibility"]
        np.testing.assert_array_equal(absent[1:], visibility[1:] < ABSENT_VISIBILITY)


def test_the_target_moves(videos):
    for video in videos:
        path = centers(video.gt_boxes[~video.absent])
        assert np.linalg.norm(path - path[0], axis=1).max() > 10


def test_the_target_is_visible_at_its_box_on_frame_zero(monkeypatch):
    seed, config = 11, SyntheticConfig(num_frames=2)
    with_target = generate_sequence(seed, config)

    plan_target = generator_module._plan_target

    def invisible_target(*args, **kwargs):
        layer = plan_target(*args, **kwargs)
        return dataclasses.replace(
            layer,
            blend=None,
            second=None,
            sprite=dataclasses.replace(layer.sprite, rgba=np.zeros_like(layer.sprite.rgba)),
        )

    monkeypatch.setattr(generator_module, "_plan_target", invisible_target)
    without_target = generate_sequence(seed, config)

    x, y, w, h = np.round(with_target.gt_boxes[0]).astype(int)
    inside = (slice(y + 2, y + h - 2), slice(x + 2, x + w - 2))
    difference = np.abs(with_target.frames[0].astype(int) - without_target.frames[0].astype(int))
    assert difference[inside].mean() > 20
    # Every part of the scene has its own random stream, so nothing else changed.
    outside = np.ones(difference.shape[:2], bool)
    outside[max(y - 6, 0) : y + h + 6, max(x - 6, 0) : x + w + 6] = False
    assert difference[outside].max() == 0


def _mean_speed(video: Sequence) -> float:
    path = centers(video.gt_boxes)
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    return float(np.nanmean(steps))


def test_higher_difficulty_means_faster_motion_and_more_absence():
    seeds = range(8)
    easy = [generate_sequence(s, SyntheticConfig(num_frames=60, difficulty=0.1)) for s in seeds]
    hard = [generate_sequence(s, SyntheticConfig(num_frames=60, difficulty=0.9)) for s in seeds]
    assert np.mean([_mean_speed(v) for v in hard]) > 1.5 * np.mean([_mean_speed(v) for v in easy])
    assert sum(v.absent.sum() for v in hard) > sum(v.absent.sum() for v in easy)
    assert sum(v.attributes["num_occluders"] for v in hard) > sum(v.attributes["num_occluders"] for v in easy)


@pytest.mark.parametrize("difficulty", [1.5, -0.1])
def test_difficulty_outside_zero_one_is_rejected(difficulty):
    with pytest.raises(ValueError, match=r"difficulty must be in \[0, 1\]"):
        SyntheticConfig(difficulty=difficulty)


def test_effects_follow_difficulty_unless_overridden():
    easy, hard = SyntheticConfig(difficulty=0.0).resolved(), SyntheticConfig(difficulty=1.0).resolved()
    assert easy.target_speed < hard.target_speed and easy.noise < hard.noise
    assert easy.occlusions < hard.occlusions and easy.target_size > hard.target_size
    assert SyntheticConfig(difficulty=1.0, noise=0.0).resolved().noise == 0.0
    # Effects left at None are derived again after a replace.
    moved = dataclasses.replace(SyntheticConfig(difficulty=0.0), difficulty=1.0).resolved()
    assert moved.target_speed == hard.target_speed


def test_dataset_videos_are_reproducible_and_independent_of_the_dataset_size():
    config = SyntheticConfig(num_frames=3)
    small, large = generate_dataset(2, seed=5, config=config), generate_dataset(3, seed=5, config=config)
    assert [v.name for v in large] == ["synthetic_5_0000", "synthetic_5_0001", "synthetic_5_0002"]
    for a, b in zip(small, large[:2], strict=True):
        np.testing.assert_array_equal(a.frames.array, b.frames.array)
    assert not np.array_equal(large[0].frames.array, large[1].frames.array)
    assert dataset_seeds(3, 5) == dataset_seeds(3, 5) != dataset_seeds(3, 6)
    assert all(v.benchmark == BENCHMARK for v in large)


@pytest.mark.parametrize("kind", shapes.OUTLINES)
def test_a_rendered_object_fills_its_box_and_area(kind):
    outline = shapes.make_outline(np.random.default_rng(0), kind)
    sprite = render.make_sprite(np.full((40, 60, 3), 200, np.float32), outline, kind)
    frame = np.zeros((120, 160, 3), np.float32)
    center, size, angle = np.array([70.3, 55.8]), np.array([50.0, 30.0]), 25.0
    placed = render.composite(frame, sprite, render.sprite_matrix(sprite, center, size, angle))
    ys, xs = np.nonzero(placed.alpha > 0.5)
    rendered_xyxy = [
        xs.min() + placed.x0,
        ys.min() + placed.y0,
        xs.max() + 1 + placed.x0,
        ys.max() + 1 + placed.y0,
    ]
    x, y, w, h = sprite.box(center, size, angle)
    np.testing.assert_allclose(rendered_xyxy, [x, y, x + w, y + h], atol=1.5)
    assert placed.alpha.sum() == pytest.approx(sprite.area(size), rel=0.05)
    assert frame.max() == pytest.approx(200, abs=1)


@pytest.mark.parametrize("length", [6.0, 30.0])
def test_motion_blur_smears_along_the_streak_and_keeps_brightness(length):
    image = np.zeros((81, 81, 3), np.float32)
    image[40, 40] = 1000.0
    blurred = render.motion_blur(image, np.array([length, 0.0]))
    assert blurred.shape == image.shape
    assert blurred.sum() == pytest.approx(image.sum(), rel=0.05)
    columns = np.nonzero(blurred[..., 0].sum(axis=0) > 1)[0]
    rows = np.nonzero(blurred[..., 0].sum(axis=1) > 1)[0]
    assert columns.max() - columns.min() + 1 >= 0.8 * length
    assert rows.max() - rows.min() + 1 <= 0.3 * length + 3
    assert render.motion_blur(image, np.array([0.5, 0.5])) is image


def test_unknown_outline_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown outline kind 'star'"):
        shapes.make_outline(np.random.default_rng(0), "star")


@pytest.mark.parametrize("difficulty", [0.0, 1.0])
def test_frame_zero_is_clean_at_every_difficulty(difficulty):
    for seed in range(4):
        video = generate_sequence(seed, SyntheticConfig(num_frames=2, difficulty=difficulty))
        assert not video.absent[0] and video.attributes["visibility"][0] > 0.95


def test_overridden_effects_are_validated():
    with pytest.raises(ValueError, match=r"clutter must be in \[0.0, 1.0\], got 1.5"):
        SyntheticConfig(clutter=1.5)
    with pytest.raises(ValueError, match="noise must be in"):
        SyntheticConfig(noise=-1.0)
