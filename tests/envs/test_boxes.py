"""Box geometry: hand-computed values, shapes and the documented NaN / zero-area results (the properties
that hold for every box, ψ∘φ = id among them, are in test_geometry_properties.py)."""

import numpy as np
import pytest

from tracking_by_trackers.envs import boxes as B


def test_iou_hand_computed():
    # Overlap 5x10 = 50, union 100 + 100 - 50 = 150.
    assert B.iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(1 / 3)
    assert B.iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert B.iou([0, 0, 10, 10], [10, 0, 10, 10]) == 0.0  # touching edges do not overlap
    assert B.iou([0, 0, 4, 4], [1, 1, 2, 2]) == pytest.approx(4 / 16)


def test_iou_is_vectorised_and_broadcasts():
    a = np.array([[0, 0, 10, 10], [5, 0, 10, 10]])
    out = B.iou(a, [0, 0, 10, 10])
    assert out.shape == (2,)
    np.testing.assert_allclose(out, [1.0, 1 / 3])
    assert np.ndim(B.iou([0, 0, 1, 1], [0, 0, 1, 1])) == 0
    assert B.iou(np.zeros((3, 5, 4)), np.zeros((3, 5, 4))).shape == (3, 5)


def test_documented_degenerate_results():
    nan_box = [np.nan, 0, 10, 10]
    assert B.iou(nan_box, [0, 0, 10, 10]) == 0.0
    assert B.center_error(nan_box, [0, 0, 10, 10]) == np.inf
    assert B.iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0  # empty union
    assert B.iou([0, 0, -5, 10], [0, 0, 10, 10]) == 0.0  # negative size counts as zero
    assert B.reward([0, 0, 10, 10], nan_box) == 0.0  # nothing to reward when the target is absent
    assert np.isnan(B.apply_action([0.1, 0, 0, 0], nan_box)[0])
    assert np.isnan(B.action_between(nan_box, [0, 0, 10, 10])[0])
    np.testing.assert_array_equal(B.is_valid([[0, 0, 1, 1], [0, 0, 0, 1], nan_box]), [True, False, False])


def test_center_error_hand_computed():
    assert B.center_error([0, 0, 10, 10], [3, 4, 10, 10]) == pytest.approx(5.0)
    # Different sizes: centres (5, 5) and (10, 10).
    assert B.center_error([0, 0, 10, 10], [0, 0, 20, 20]) == pytest.approx(np.sqrt(50))


def test_normalized_center_error_divides_by_ground_truth_size():
    assert B.normalized_center_error([2, 4, 10, 20], [0, 0, 10, 20]) == pytest.approx(np.hypot(0.2, 0.2))
    assert B.normalized_center_error([0, 0, 1, 1], [0, 0, 0, 10]) == np.inf


def test_apply_action_follows_spec_formula():
    box = np.array([10.0, 20.0, 30.0, 40.0])
    np.testing.assert_allclose(B.apply_action([0.5, -0.25, 0.1, -0.5], box), [25, 10, 33, 20])
    # The action is clamped to [-1, 1] first.
    np.testing.assert_allclose(B.apply_action([3, 0, 0, 0], box), [40, 20, 30, 40])


def test_apply_action_clips_to_the_image_and_keeps_a_minimum_size():
    out = B.apply_action([1, 1, 0, 0], [90, 90, 20, 20], image_hw=(100, 120))
    np.testing.assert_allclose(out, [110, 99, 10, 1])
    out = B.apply_action([0, 0, -1, -1], [10, 10, 20, 20], image_hw=(100, 100))
    np.testing.assert_allclose(out, [10, 10, 1, 1])


def test_clip_to_image_puts_a_box_that_left_the_image_on_the_border():
    np.testing.assert_allclose(B.clip_to_image([500, -50, 10, 10], (100, 200), min_size=2), [198, 0, 2, 2])
    with pytest.raises(ValueError, match="min_size must be in"):
        B.clip_to_image([0, 0, 1, 1], (10, 10), min_size=0)


def test_action_between_hand_computed_and_clamped():
    prev = np.array([10.0, 20.0, 30.0, 40.0])
    np.testing.assert_allclose(B.action_between(prev, [25, 10, 33, 20]), [0.5, -0.25, 0.1, -0.5])
    np.testing.assert_allclose(B.action_between(prev, [110, 20, 30, 40]), [1, 0, 0, 0])
    # A zero-size previous box saturates instead of dividing by zero.
    np.testing.assert_allclose(B.action_between([0, 0, 0, 0], [5, 0, 0, 0]), [1, 0, 0, 0])


def test_omega_floors_to_the_grid_and_maps_to_minus_one_one():
    np.testing.assert_allclose(
        B.omega([0.0, 0.5, 0.6, 0.649, 0.65, 0.999, 1.0]), [-1, 0, 0.2, 0.2, 0.3, 0.9, 1]
    )


def test_reward_is_minus_one_below_half_iou():
    gt = [0, 0, 10, 10]
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 10, 6]])  # IoU 1, 1/3, 0.6
    np.testing.assert_allclose(B.reward(boxes, gt), [1.0, -1.0, 0.2])


def test_conversions_round_trip_and_hand_values():
    box = np.array([[10.0, 20.0, 30.0, 40.0]])
    np.testing.assert_allclose(B.xywh_to_xyxy(box), [[10, 20, 40, 60]])
    np.testing.assert_allclose(B.xywh_to_cxcywh(box), [[25, 40, 30, 40]])
    np.testing.assert_allclose(B.xyxy_to_xywh(B.xywh_to_xyxy(box)), box)
    np.testing.assert_allclose(B.cxcywh_to_xywh(B.xywh_to_cxcywh(box)), box)


def test_polygon_becomes_its_enclosing_box():
    polygon = [334.02, 128.36, 438.19, 188.78, 396.39, 260.83, 292.23, 200.41]
    np.testing.assert_allclose(B.polygon_to_xywh(polygon), [292.23, 128.36, 438.19 - 292.23, 260.83 - 128.36])


def test_wrong_shapes_are_clear_errors():
    with pytest.raises(
        ValueError, match=r"expected boxes of shape \(4,\) or \(\.\.\., 4\), got shape \(3,\)"
    ):
        B.iou([0, 0, 1], [0, 0, 1, 1])
    with pytest.raises(ValueError, match="expected polygons of shape"):
        B.polygon_to_xywh([1, 2, 3, 4])
    with pytest.raises(ValueError, match="expected actions of shape"):
        B.apply_action([0, 0], [0, 0, 1, 1])
