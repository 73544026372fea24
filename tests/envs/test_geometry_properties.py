"""Properties of the geometry for every box hypothesis draws (docs/method.md, *Boxes and geometry* and
*The state crop*): ψ and φ invert each other, IoU is a symmetric overlap in [0, 1], and crops at and beyond
the image border keep their shape, pad with zeros and never raise."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking_by_trackers.envs import boxes as B
from tracking_by_trackers.envs.crops import crop_inverse_maps, crop_regions

# Modest counts: the default test run stays fast, and each property is cheap enough to get variety.
EXAMPLES = settings(max_examples=150, deadline=None)

coordinate = st.floats(-500, 500, allow_nan=False)
size = st.floats(1, 300, allow_nan=False)
boxes = st.tuples(coordinate, coordinate, size, size).map(np.array)
# Sizes down to zero and below: the degenerate boxes docs/method.md gives defined results for.
any_size = st.floats(-50, 300, allow_nan=False)
any_boxes = st.tuples(coordinate, coordinate, any_size, any_size).map(np.array)
inner_actions = st.tuples(*[st.floats(-0.99, 0.99)] * 4).map(np.array)
any_actions = st.tuples(*[st.floats(-1e6, 1e6, allow_nan=False)] * 4).map(np.array)
image_sides = st.integers(8, 64)


@EXAMPLES
@given(boxes, inner_actions)
def test_phi_inverts_psi(box, action):
    moved = B.apply_action(action, box)
    np.testing.assert_allclose(B.action_between(box, moved), action, atol=1e-9)


@EXAMPLES
@given(boxes, boxes)
def test_psi_of_phi_reaches_the_target_or_the_nearest_box_one_step_can(previous, target):
    # φ clamps to [-1, 1]^4, so one step moves each coordinate by at most one previous width or height:
    # ψ(φ(g, b), b) is g where g is within that reach, and the closest reachable value elsewhere.
    reached = B.apply_action(B.action_between(previous, target), previous)
    reach = np.concatenate([previous[2:], previous[2:]])
    shortfall = np.maximum(np.abs(target - previous) - reach, 0.0)
    assert (np.abs(np.abs(reached - target) - shortfall) <= 1e-9 * (1 + np.abs(target) + reach)).all()


@EXAMPLES
@given(boxes, any_actions, image_sides, image_sides)
def test_psi_inside_an_image_always_gives_a_box_in_the_image(box, action, height, width):
    moved = B.apply_action(action, box, image_hw=(height, width))
    assert np.isfinite(moved).all()
    assert moved[2] >= 1 - 1e-9 and moved[3] >= 1 - 1e-9
    assert moved[0] >= 0 and moved[1] >= 0
    assert moved[0] + moved[2] <= width + 1e-9 and moved[1] + moved[3] <= height + 1e-9


@EXAMPLES
@given(any_boxes, any_boxes)
def test_iou_is_symmetric_and_in_zero_one(a, b):
    value = B.iou(a, b)
    assert 0.0 <= value <= 1.0
    assert value == B.iou(b, a) or abs(value - B.iou(b, a)) < 1e-12


@EXAMPLES
@given(boxes)
def test_iou_of_a_box_with_itself_is_one(box):
    assert abs(B.iou(box, box) - 1.0) < 1e-9


@EXAMPLES
@given(boxes, st.floats(0.05, 1.0), st.floats(0.05, 1.0), st.floats(0, 1), st.floats(0, 1))
def test_iou_of_a_box_inside_another_is_their_area_ratio(outer, fw, fh, fx, fy):
    inner_w, inner_h = outer[2] * fw, outer[3] * fh
    inner = np.array(
        [outer[0] + fx * (outer[2] - inner_w), outer[1] + fy * (outer[3] - inner_h), inner_w, inner_h]
    )
    assert abs(B.iou(outer, inner) - fw * fh) < 1e-6


@EXAMPLES
@given(any_boxes)
def test_nan_and_empty_boxes_overlap_nothing(box):
    assert B.iou(box, [np.nan] * 4) == 0.0
    if box[2] <= 0 or box[3] <= 0:
        assert B.iou(box, box) == 0.0


# Crops: boxes anywhere from inside the image to several image sizes beyond its border, of any size.
def crop_cases():
    return st.integers(4, 48).flatmap(
        lambda height: st.integers(4, 48).flatmap(
            lambda width: st.tuples(
                st.just((height, width)),
                st.lists(
                    st.tuples(
                        st.floats(-4 * width, 5 * width),
                        st.floats(-4 * height, 5 * height),
                        st.floats(0, 6 * width),
                        st.floats(0, 6 * height),
                    ),
                    min_size=1,
                    max_size=4,
                ),
                st.sampled_from([1.0, 1.5, 2.0]),
                st.sampled_from([8, 16, 33]),
            )
        )
    )


@settings(max_examples=100, deadline=None)
@given(crop_cases())
def test_crops_at_and_beyond_the_border_are_zero_padded_and_never_raise(case):
    (height, width), box_list, context, side = case
    image = np.full((height, width, 3), 255, np.uint8)  # nonzero everywhere: any 0 is padding
    crops = crop_regions([image] * len(box_list), np.array(box_list), context=context, size=side)
    assert crops.shape == (len(box_list), side, side, 3) and crops.dtype == np.uint8
    # Where each output pixel samples the image (pixel centres, docs/method.md, *The state crop*): wholly
    # inside it gives the image's value, more than a pixel outside gives the padding, 0. OpenCV samples on a
    # 1/32-pixel grid, hence the margin.
    margin = 0.05
    grid = np.arange(side)
    for crop, inverse in zip(crops, crop_inverse_maps(np.array(box_list), context, side), strict=True):
        xs = inverse[0, 0] * grid + inverse[0, 2]
        ys = inverse[1, 1] * grid + inverse[1, 2]
        inside_x = (xs >= margin) & (xs <= width - 1 - margin)
        inside_y = (ys >= margin) & (ys <= height - 1 - margin)
        outside_x = (xs < -1 - margin) | (xs > width + margin)
        outside_y = (ys < -1 - margin) | (ys > height + margin)
        assert (crop[np.ix_(inside_y, inside_x)] == 255).all()
        assert (crop[outside_y] == 0).all() and (crop[:, outside_x] == 0).all()
