"""OPE metrics against the GOT-10k toolkit (0.1.3) and against hand-computed sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from got10k.experiments.got10k import ExperimentGOT10k
from got10k.experiments.otb import ExperimentOTB
from got10k.experiments.uav123 import ExperimentUAV123
from got10k.utils import metrics as toolkit_metrics
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking_by_trackers.envs.boxes import center_error, iou, normalized_center_error
from tracking_by_trackers.experiments.evaluation import ope_metrics as om

GT_BOX = [0.0, 0.0, 10.0, 10.0]
IMAGE_WH = (640.0, 480.0)


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Valid boxes of at least 1 px that lie inside a 640×480 image."""
    sizes = rng.uniform(1, 200, size=(n, 2))
    corners = rng.uniform(0, 1, size=(n, 2)) * (np.array(IMAGE_WH) - sizes)
    return np.concatenate([corners, sizes], axis=1)


def jittered(rng: np.random.Generator, gt_boxes: np.ndarray, scale: float) -> np.ndarray:
    """Predictions around the ground truth, so that the IoUs spread over (0, 1]."""
    noise = rng.normal(0, scale, size=gt_boxes.shape) * gt_boxes[:, [2, 3, 2, 3]]
    boxes = gt_boxes + noise
    # Keep them inside the image, where the GOT-10k toolkit's clipping to the image changes nothing.
    boxes[:, 2:] = np.clip(boxes[:, 2:], 1.0, 200.0)
    boxes[:, :2] = np.clip(boxes[:, :2], 0.0, np.array(IMAGE_WH) - boxes[:, 2:])
    return boxes


def toolkit_otb() -> ExperimentOTB:
    # report() needs a dataset on disk; _calc_metrics and _calc_curves only read these two attributes.
    experiment = object.__new__(ExperimentOTB)
    experiment.nbins_iou = 21
    experiment.nbins_ce = 51
    return experiment


def toolkit_normalized_center_error(rects1: np.ndarray, rects2: np.ndarray) -> np.ndarray:
    """The later toolkit's ``utils/metrics.normalized_center_error`` (not shipped in 0.1.3), restated:
    centre difference over the ground-truth size floored at 1 px."""
    centers1 = rects1[:, :2] + (rects1[:, 2:] - 1) / 2
    centers2 = rects2[:, :2] + (rects2[:, 2:] - 1) / 2
    return np.linalg.norm((centers1 - centers2) / np.maximum(1.0, rects2[:, 2:]), axis=1)


def toolkit_norm_precision_curve(norm_center_errors: np.ndarray) -> np.ndarray:
    """The later toolkit's ``ExperimentLaSOT._calc_curves`` (experiments/lasot.py, not in 0.1.3):
    ``np.less_equal(nce[:, None], np.linspace(0, 0.5, nbins_nce=51)[None, :]).mean(axis=0)``."""
    thresholds = np.linspace(0, 0.5, 51)[np.newaxis, :]
    return np.mean(np.less_equal(norm_center_errors[:, np.newaxis], thresholds), axis=0)


def toolkit_got10k_evaluate(ious: np.ndarray) -> tuple[float, float, np.ndarray]:
    # _evaluate uses no attribute of the experiment; no times gives speed -1, which we ignore.
    ao, sr, _, succ_curve = ExperimentGOT10k._evaluate(object.__new__(ExperimentGOT10k), ious, np.array([]))
    return ao, sr, succ_curve


# --- geometry agrees with the toolkit ------------------------------------------------------------------


def test_iou_and_center_error_match_the_toolkit_on_random_boxes():
    rng = np.random.default_rng(0)
    gt_boxes = random_boxes(rng, 600)
    boxes = np.concatenate([jittered(rng, gt_boxes[:300], 0.3), random_boxes(rng, 300)])
    np.testing.assert_allclose(iou(boxes, gt_boxes), toolkit_metrics.rect_iou(boxes, gt_boxes), atol=1e-6)
    np.testing.assert_allclose(
        center_error(boxes, gt_boxes), toolkit_metrics.center_error(boxes, gt_boxes), atol=1e-6
    )
    np.testing.assert_allclose(
        normalized_center_error(boxes, gt_boxes), toolkit_normalized_center_error(boxes, gt_boxes), atol=1e-6
    )


# --- curves and scores agree with the toolkit ----------------------------------------------------------


def make_sequences(seed: int, lengths=(40, 120, 7)) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(boxes, gt_boxes, absent)`` triples: jittered predictions, some gross misses, some absent frames."""
    rng = np.random.default_rng(seed)
    sequences = []
    for length in lengths:
        gt_boxes = random_boxes(rng, length)
        boxes = jittered(rng, gt_boxes, rng.uniform(0.05, 0.4))
        misses = rng.random(length) < 0.15
        boxes[misses] = random_boxes(rng, int(misses.sum()))
        absent = rng.random(length) < 0.1
        absent[0] = False
        sequences.append((boxes, gt_boxes, absent))
    return sequences


def test_otb_curves_and_scores_match_the_toolkit():
    experiment = toolkit_otb()
    sequences = make_sequences(seed=1)
    ours, toolkit_succ, toolkit_prec = [], [], []
    for boxes, gt_boxes, _ in sequences:
        ours.append(om.score_sequence(boxes, gt_boxes))
        # Our protocol leaves frame 0 out; the toolkit's report keeps it (with the prediction set to the gt).
        ious, errors = experiment._calc_metrics(boxes[1:], gt_boxes[1:])
        succ, prec = experiment._calc_curves(ious, errors)
        toolkit_succ.append(succ)
        toolkit_prec.append(prec)

    for scores, succ, prec in zip(ours, toolkit_succ, toolkit_prec, strict=True):
        np.testing.assert_allclose(scores.success_curve, succ, atol=1e-6)
        np.testing.assert_allclose(scores.precision_curve, prec, atol=1e-6)
        assert scores.success_auc == pytest.approx(np.mean(succ), abs=1e-6)
        assert scores.precision_20px == pytest.approx(prec[20], abs=1e-6)
        assert scores.sr50 == pytest.approx(succ[21 // 2], abs=1e-6)

    # ExperimentOTB.report (otb.py lines 112-115): mean of the per-sequence curves, then score the mean curve.
    succ_curve, prec_curve = np.mean(toolkit_succ, axis=0), np.mean(toolkit_prec, axis=0)
    pooled = om.mean_over_sequences(ours)
    np.testing.assert_allclose(pooled.success_curve, succ_curve, atol=1e-6)
    np.testing.assert_allclose(pooled.precision_curve, prec_curve, atol=1e-6)
    assert pooled.success_auc == pytest.approx(np.mean(succ_curve), abs=1e-6)
    assert pooled.precision_20px == pytest.approx(prec_curve[20], abs=1e-6)


def test_nan_ground_truth_is_dropped_like_the_toolkit_uav123_experiment():
    experiment = object.__new__(ExperimentUAV123)
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    boxes, gt_boxes, _ = make_sequences(seed=2, lengths=(80,))[0]
    gt_boxes[np.random.default_rng(3).random(80) < 0.3] = np.nan
    gt_boxes[0] = [10, 10, 50, 50]

    scores = om.score_sequence(boxes, gt_boxes)
    succ, prec = experiment._calc_curves(*experiment._calc_metrics(boxes[1:], gt_boxes[1:]))

    assert scores.num_frames == int((~np.isnan(gt_boxes[1:]).any(axis=1)).sum())
    np.testing.assert_allclose(scores.success_curve, succ, atol=1e-6)
    np.testing.assert_allclose(scores.precision_curve, prec, atol=1e-6)


def test_normalised_precision_matches_the_toolkit_lasot_definition():
    for boxes, gt_boxes, _ in make_sequences(seed=4):
        scores = om.score_sequence(boxes, gt_boxes)
        curve = toolkit_norm_precision_curve(toolkit_normalized_center_error(boxes[1:], gt_boxes[1:]))
        np.testing.assert_allclose(scores.norm_precision_curve, curve, atol=1e-6)
        # ExperimentLaSOT.report: normalized_precision_score = np.mean(norm_prec_curve).
        assert scores.norm_precision_auc == pytest.approx(np.mean(curve), abs=1e-6)


def test_got10k_ao_and_sr_match_the_toolkit_pooled_over_frames():
    sequences = make_sequences(seed=5)
    ours, toolkit_ious = [], []
    for boxes, gt_boxes, absent in sequences:
        ours.append(om.score_sequence(boxes, gt_boxes, absent))
        # ExperimentGOT10k.report (got10k.py lines 122, 147-150): rect_iou(b[1:], anno[1:], bound) kept
        # where cover[1:] > 0. The boxes lie inside the image, so the bound changes nothing; rect_iou
        # clips its arguments in place, hence the copies.
        seq_ious = toolkit_metrics.rect_iou(boxes[1:].copy(), gt_boxes[1:].copy(), bound=IMAGE_WH)
        covers = np.where(absent, 0, 1)[1:]
        seq_ious = seq_ious[covers > 0]
        toolkit_ious.append(seq_ious)

        ao, sr, succ_curve = toolkit_got10k_evaluate(seq_ious)
        assert ours[-1].ao == pytest.approx(ao, abs=1e-6)
        assert ours[-1].sr50 == pytest.approx(sr, abs=1e-6)
        # The toolkit reports SR@0.75 only through its 101-bin success curve: threshold 0.75 is bin 75.
        assert ours[-1].sr75 == pytest.approx(succ_curve[75], abs=1e-6)

    # got10k.py line 173: the overall AO and SR are over the concatenated IoUs of all sequences.
    ao, sr, succ_curve = toolkit_got10k_evaluate(np.concatenate(toolkit_ious))
    pooled = om.pool_frames({f"seq{i}": s for i, s in enumerate(ours)})
    assert pooled.ao == pytest.approx(ao, abs=1e-6)
    assert pooled.sr50 == pytest.approx(sr, abs=1e-6)
    assert pooled.sr75 == pytest.approx(succ_curve[75], abs=1e-6)
    assert pooled.num_frames == sum(len(t) for t in toolkit_ious)


def test_a_perfect_tracker_scores_like_the_toolkit_says():
    gt_boxes = random_boxes(np.random.default_rng(6), 30)
    scores = om.score_sequence(gt_boxes.copy(), gt_boxes)

    # Identical non-integer boxes give an IoU within float rounding of 1 (w = (x + w) - x is inexact).
    assert scores.ao == pytest.approx(1.0, abs=1e-12)
    assert scores.sr50 == scores.sr75 == 1.0
    # No IoU exceeds the last threshold, 1.0, so the success AUC of a perfect tracker is 20/21.
    assert scores.success_auc == pytest.approx(20 / 21)
    assert scores.success_curve[-1] == 0.0
    assert scores.precision_20px == 1.0
    assert scores.norm_precision_auc == 1.0
    succ, prec = toolkit_otb()._calc_curves(*toolkit_otb()._calc_metrics(gt_boxes[1:], gt_boxes[1:]))
    assert np.mean(succ) == pytest.approx(20 / 21)
    assert prec[20] == 1.0


# --- hand-computed sequences ---------------------------------------------------------------------------


def hand_sequence() -> tuple[np.ndarray, np.ndarray]:
    """Four frames of a 10×10 target; frame 0 is never scored, frames 1-3 have IoU 1, 1/3 and 1/2."""
    gt_boxes = np.array([GT_BOX] * 4)
    boxes = np.array(
        [
            [300.0, 300.0, 5.0, 5.0],  # frame 0: ignored, however wrong
            GT_BOX,  # IoU 1, centre error 0
            [5.0, 0.0, 10.0, 10.0],  # IoU 50/150 = 1/3, centre error 5 px, normalised 0.5
            [0.0, 0.0, 10.0, 5.0],  # IoU 50/100 = 1/2, centre error 2.5 px, normalised 0.25
        ]
    )
    return boxes, gt_boxes


def test_hand_computed_sequence():
    scores = om.score_sequence(*hand_sequence())

    assert scores.num_frames == 3
    assert scores.ao == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    # An IoU of exactly 0.5 is not a success: the toolkit's SR is ious > 0.5.
    assert scores.sr50 == pytest.approx(1 / 3)
    assert scores.sr75 == pytest.approx(1 / 3)
    # Thresholds k/20 passed: IoU 1 for k = 0..19 (20), 1/3 for k = 0..6 (7), 1/2 for k = 0..9 (10).
    assert scores.success_auc == pytest.approx((20 + 7 + 10) / (3 * 21))
    assert scores.precision_20px == 1.0
    np.testing.assert_allclose(scores.precision_curve[:6], [1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1.0])
    # Normalised errors 0, 0.5, 0.25 against thresholds k/100, k = 0..50: 51, 1 and 26 passes.
    assert scores.norm_precision_auc == pytest.approx((51 + 1 + 26) / (3 * 51))


def test_a_nan_prediction_is_a_failure_not_a_skipped_frame():
    boxes, gt_boxes = hand_sequence()
    boxes[1] = np.nan

    scores = om.score_sequence(boxes, gt_boxes)

    assert scores.num_frames == 3
    assert scores.ao == pytest.approx((0 + 1 / 3 + 1 / 2) / 3)
    assert scores.sr50 == 0.0
    assert scores.precision_20px == pytest.approx(2 / 3)
    assert scores.precision_curve[-1] == pytest.approx(2 / 3)
    assert scores.norm_precision_curve[-1] == pytest.approx(2 / 3)


def test_absent_and_unannotated_frames_are_left_out():
    boxes, gt_boxes = hand_sequence()
    absent = np.array([False, True, False, False])
    gt_boxes[2] = np.nan

    assert om.evaluated_frames(gt_boxes, absent).tolist() == [False, False, False, True]
    scores = om.score_sequence(boxes, gt_boxes, absent)
    assert scores.num_frames == 1
    assert scores.ao == pytest.approx(0.5)
    assert scores.sr50 == 0.0


def test_frame_zero_is_left_out_even_when_absent_is_not_given():
    gt_boxes = np.array([GT_BOX] * 3)
    assert om.evaluated_frames(gt_boxes).tolist() == [False, True, True]


def test_a_sequence_without_evaluated_frames_scores_nan_and_pooling_skips_it():
    boxes, gt_boxes = hand_sequence()
    empty = om.score_sequence(boxes[:1], gt_boxes[:1])
    also_empty = om.score_sequence(boxes, gt_boxes, absent=[False, True, True, True])
    full = om.score_sequence(boxes, gt_boxes)

    for scores in (empty, also_empty):
        assert scores.num_frames == 0
        assert np.isnan(scores.ao) and np.isnan(scores.success_auc) and np.isnan(scores.precision_20px)
        assert np.isnan(scores.success_curve).all()
    for pool in (om.pool_frames, om.mean_over_sequences):
        pooled = pool([empty, full, also_empty])
        assert pooled.ao == pytest.approx(full.ao)
        np.testing.assert_allclose(pooled.success_curve, full.success_curve)
        assert pooled.num_frames == 3
        assert np.isnan(pool([empty]).ao)
        assert pool([]).num_frames == 0


def test_pooling_over_frames_and_averaging_over_sequences_differ():
    # Sequence A: one scored frame, perfect. Sequence B: three scored frames, all lost (NaN predictions).
    short = om.score_sequence(np.array([GT_BOX] * 2), np.array([GT_BOX] * 2))
    lost_boxes = np.array([GT_BOX] + [[np.nan] * 4] * 3)
    long = om.score_sequence(lost_boxes, np.array([GT_BOX] * 4))
    per_sequence = {"short": short, "long": long}

    frames = om.pool_frames(per_sequence)
    sequences = om.mean_over_sequences(per_sequence)

    assert frames.ao == pytest.approx(1 / 4)
    assert sequences.ao == pytest.approx(1 / 2)
    assert frames.success_auc == pytest.approx(20 / 21 / 4)
    assert sequences.success_auc == pytest.approx(20 / 21 / 2)
    assert frames.precision_20px == pytest.approx(1 / 4)
    assert sequences.precision_20px == pytest.approx(1 / 2)
    assert frames.num_frames == sequences.num_frames == 4
    assert om.pool_scores(per_sequence, om.POOL_FRAMES).ao == frames.ao
    assert om.pool_scores(per_sequence, om.MEAN_OVER_SEQUENCES).ao == sequences.ao


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 30), min_size=1, max_size=5), seed=st.integers(0, 2**16))
def test_pooling_over_frames_equals_scoring_the_concatenated_frames(lengths, seed):
    sequences = make_sequences(seed, lengths)
    pooled = om.pool_frames([om.score_sequence(*s) for s in sequences])

    # Concatenate the evaluated frames behind one dummy frame 0, which score_sequence drops.
    kept = [(b[om.evaluated_frames(g, a)], g[om.evaluated_frames(g, a)]) for b, g, a in sequences]
    boxes = np.concatenate([[GT_BOX]] + [b for b, _ in kept])
    gt_boxes = np.concatenate([[GT_BOX]] + [g for _, g in kept])
    direct = om.score_sequence(boxes, gt_boxes)

    assert pooled.num_frames == direct.num_frames
    if direct.num_frames == 0:
        assert np.isnan(pooled.ao)
        return
    for name in (om.AO, om.SR50, om.SR75, om.SUCCESS_AUC, om.PRECISION_20, om.NORM_PRECISION_AUC):
        assert getattr(pooled, name) == pytest.approx(getattr(direct, name), abs=1e-12)
    np.testing.assert_allclose(pooled.success_curve, direct.success_curve, atol=1e-12)


# --- scores, errors and the table ----------------------------------------------------------------------


def test_scores_are_immutable_and_serialisable():
    scores = om.score_sequence(*hand_sequence())
    assert scores.success_curve.shape == om.SUCCESS_THRESHOLDS.shape == (21,)
    assert scores.precision_curve.shape == om.PRECISION_THRESHOLDS_PX.shape == (51,)
    assert scores.norm_precision_curve.shape == om.NORM_PRECISION_THRESHOLDS.shape == (51,)
    with pytest.raises(ValueError):
        scores.success_curve[0] = 0.5
    as_dict = scores.to_dict()
    assert as_dict[om.AO] == scores.ao and as_dict[om.NUM_FRAMES] == 3
    assert isinstance(as_dict[om.SUCCESS_CURVE], list) and len(as_dict[om.SUCCESS_CURVE]) == 21


def test_length_mismatch_names_both_lengths():
    with pytest.raises(ValueError, match="boxes has 3 frames but gt_boxes has 4 frames"):
        om.score_sequence(np.zeros((3, 4)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="absent has 2 flags but gt_boxes has 4 frames"):
        om.score_sequence(np.zeros((4, 4)), np.ones((4, 4)), absent=[False, True])


def test_bad_shapes_and_modes_are_rejected():
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        om.score_sequence(np.zeros(4), np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        om.evaluated_frames(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="unknown pooling mode 'otb'"):
        om.pool_scores([], mode="otb")


def test_curves_of_no_frames_are_nan():
    assert np.isnan(om.success_curve([])).all() and om.success_curve([]).shape == (21,)
    assert np.isnan(om.precision_curve([], om.NORM_PRECISION_THRESHOLDS)).all()


def test_scores_table_pools_each_tracker_and_sorts_by_ao():
    boxes, gt_boxes = hand_sequence()
    lost = np.array([GT_BOX] + [[np.nan] * 4] * 3)
    perfect = {"a": om.score_sequence(gt_boxes, gt_boxes), "b": om.score_sequence(gt_boxes[:2], gt_boxes[:2])}
    results = {
        "lost": {"a": om.score_sequence(lost, gt_boxes), "b": om.score_sequence(lost[:2], gt_boxes[:2])},
        "perfect": perfect,
        "hand": {
            "a": om.score_sequence(boxes, gt_boxes),
            "empty": om.score_sequence(boxes[:1], gt_boxes[:1]),
        },
    }

    table = om.scores_table(results)

    assert list(table.index) == ["perfect", "hand", "lost"]
    assert table.index.name == "tracker"
    assert list(table.columns) == [
        "AO",
        "SR@0.50",
        "SR@0.75",
        "success AUC",
        "precision@20",
        "normalised precision",
        "sequences",
        "frames",
    ]
    assert table.loc["perfect", "AO"] == 1.0
    assert table.loc["perfect", "success AUC"] == pytest.approx(20 / 21)
    assert table.loc["hand", "AO"] == pytest.approx((1 + 1 / 3 + 1 / 2) / 3)
    assert table.loc["hand", "sequences"] == 1 and table.loc["hand", "frames"] == 3
    assert table.loc["lost", "frames"] == 4
    assert pd.api.types.is_integer_dtype(table["frames"])
    by_sequence = om.scores_table(results, mode=om.MEAN_OVER_SEQUENCES)
    assert by_sequence.loc["perfect", "success AUC"] == pytest.approx(20 / 21)
