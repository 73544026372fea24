"""One-pass evaluation (OPE) metrics: AO, success rates, success / precision / normalised precision curves.

Protocol (docs/method.md, *Evaluation*): the tracker is initialised on frame 0's ground truth and never
re-initialised; its boxes for every frame, frame 0 included, are scored against the ground truth here.

Per-frame conventions, the same for every benchmark:

- **Evaluated frames** (:func:`evaluated_frames`): frame 0 is left out, because the tracker was given its
  box (the GOT-10k toolkit scores ``ious[1:]``); frames the benchmark marks absent are left out (GOT-10k
  keeps ``cover > 0`` only); frames whose ground truth has a NaN coordinate are left out, since their truth
  is unknown (the toolkit's UAV123 and LaSOT experiments drop ``isnan(anno)`` rows the same way).
- **Failures**: a predicted box with a NaN coordinate (a tracker that lost the target) counts as IoU 0 and an
  infinite centre error, so it fails every threshold; :mod:`tracking_by_trackers.envs.boxes` defines these values.
- **Thresholds**, as in the toolkit: success counts frames with IoU *strictly greater* than the threshold
  (``np.greater``), precision counts centre errors *less than or equal* to it (``np.less_equal``). Hence
  SR@0.50 does not count an IoU of exactly 0.5, and a tracker identical to the ground truth has a success
  AUC of 20/21, not 1: the last threshold is 1.0 and no IoU exceeds it.

Per-sequence scores (:class:`SequenceScores`, from :func:`score_sequence`):

- ``ao``: mean IoU; ``sr50`` / ``sr75``: fraction of frames with IoU > 0.5 / > 0.75 (GOT-10k).
- ``success_curve`` over :data:`SUCCESS_THRESHOLDS` (21 IoU thresholds 0, 0.05, …, 1) and ``success_auc``,
  its mean: the OTB "success score" (the area under the curve as the toolkit computes it).
- ``precision_curve`` over :data:`PRECISION_THRESHOLDS_PX` (0..50 px) and ``precision_20px``: the OTB
  "precision score", the fraction of frames with a centre error of at most 20 px.
- ``norm_precision_curve`` over :data:`NORM_PRECISION_THRESHOLDS` (51 thresholds 0..0.5 of the ground-truth
  size) and ``norm_precision_auc``, its mean: LaSOT / TrackingNet normalised precision.

A sequence with no evaluated frame (only frame 0, or every later frame absent) gets NaN scores and
``num_frames == 0``; both pooling conventions skip it.

Pooling over a benchmark — the two conventions differ and the benchmarks disagree on which to use:

- :func:`pool_frames` (:data:`POOL_FRAMES`): every evaluated frame of every sequence counts once, so long
  sequences weigh more. GOT-10k's AO and SR (the toolkit concatenates the per-sequence IoUs before taking the
  mean).
- :func:`mean_over_sequences` (:data:`MEAN_OVER_SEQUENCES`): each sequence's curve first, then the unweighted
  mean of the curves. OTB, UAV123, NfS, TColor128, DTB70 and LaSOT (the toolkit's ``ExperimentOTB.report``
  averages the per-sequence curves).

Every score is a mean of per-frame indicators (or a mean of such means), so frame pooling is the
frame-weighted mean of the per-sequence scores: pooling needs only the :class:`SequenceScores`, not the
per-frame IoUs.

Known differences from the GOT-10k toolkit, all deliberate:

- The toolkit's OTB-style reports overwrite the prediction of frame 0 with the ground truth and keep frame 0
  in the curves (one IoU of ~1 per sequence); we leave frame 0 out on every benchmark.
- GOT-10k's official evaluation first clips both boxes to the image; our trackers already clip their boxes to
  the image (ψ, docs/method.md, *Boxes and geometry*) and the ground truth lies inside it, so we do not need
  the image size.
- The toolkit's IoU divides by ``union + eps``; ours divides by the union, so on identical boxes it gives 1
  or a value within float rounding of 1. Both are clipped to [0, 1] (as the toolkit does), so a perfect frame
  never passes the 1.0 threshold. The later toolkit's normalised centre error floors the ground-truth size
  at 1 px; ours does not (it differs only for sub-pixel targets). A NaN prediction makes the toolkit's AO
  NaN; it makes our IoU 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from tracking_by_trackers.envs.boxes import center_error, iou, normalized_center_error

# Thresholds of the curves, those of the GOT-10k toolkit (``nbins_iou = 21``, ``nbins_ce = 51``,
# ``nbins_nce = 51``).
SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)
PRECISION_THRESHOLDS_PX = np.arange(0, 51)
NORM_PRECISION_THRESHOLDS = np.linspace(0, 0.5, 51)
for _thresholds in (SUCCESS_THRESHOLDS, PRECISION_THRESHOLDS_PX, NORM_PRECISION_THRESHOLDS):
    _thresholds.setflags(write=False)
del _thresholds
# The single thresholds behind the scalar scores.
SR50_THRESHOLD = 0.5
SR75_THRESHOLD = 0.75
PRECISION_THRESHOLD_PX = 20

# Metric names: the fields of SequenceScores, and the keys of SequenceScores.to_dict().
AO = "ao"
SR50 = "sr50"
SR75 = "sr75"
SUCCESS_CURVE = "success_curve"
SUCCESS_AUC = "success_auc"
PRECISION_CURVE = "precision_curve"
PRECISION_20 = "precision_20px"
NORM_PRECISION_CURVE = "norm_precision_curve"
NORM_PRECISION_AUC = "norm_precision_auc"
NUM_FRAMES = "num_frames"

# Pooling conventions (see the module docstring).
POOL_FRAMES = "frames"
MEAN_OVER_SEQUENCES = "sequences"

# Column names of scores_table, in order.
COLUMN_AO = "AO"
COLUMN_SR50 = "SR@0.50"
COLUMN_SR75 = "SR@0.75"
COLUMN_SUCCESS_AUC = "success AUC"
COLUMN_PRECISION_20 = "precision@20"
COLUMN_NORM_PRECISION = "normalised precision"
COLUMN_NUM_SEQUENCES = "sequences"
COLUMN_NUM_FRAMES = "frames"
_TABLE_COLUMNS = {
    AO: COLUMN_AO,
    SR50: COLUMN_SR50,
    SR75: COLUMN_SR75,
    SUCCESS_AUC: COLUMN_SUCCESS_AUC,
    PRECISION_20: COLUMN_PRECISION_20,
    NORM_PRECISION_AUC: COLUMN_NORM_PRECISION,
}


def _read_only(values) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class SequenceScores:
    """OPE scores of one tracker on one sequence (or pooled over many, see :func:`pool_frames`).

    The scalars are Python floats in [0, 1]; every score is NaN when ``num_frames`` is 0. The curves are
    read-only float64 arrays.

    Attributes:
        ao: Average overlap, the mean IoU over the evaluated frames.
        sr50: Success rate, the fraction of frames with IoU > 0.5.
        sr75: The fraction of frames with IoU > 0.75.
        success_curve: ``(21,)``, the fraction of frames with IoU > each of :data:`SUCCESS_THRESHOLDS`.
        success_auc: The mean of ``success_curve`` (OTB success score).
        precision_curve: ``(51,)``, the fraction of frames with centre error <= each of
            :data:`PRECISION_THRESHOLDS_PX`.
        precision_20px: The fraction of frames with centre error <= 20 px (OTB precision score).
        norm_precision_curve: ``(51,)``, the fraction of frames with normalised centre error <= each of
            :data:`NORM_PRECISION_THRESHOLDS`.
        norm_precision_auc: The mean of ``norm_precision_curve`` (LaSOT normalised precision).
        num_frames: The number of evaluated frames (summed over sequences when pooled).
    """

    ao: float
    sr50: float
    sr75: float
    success_curve: np.ndarray
    success_auc: float
    precision_curve: np.ndarray
    precision_20px: float
    norm_precision_curve: np.ndarray
    norm_precision_auc: float
    num_frames: int

    def __post_init__(self):
        for name in (SUCCESS_CURVE, PRECISION_CURVE, NORM_PRECISION_CURVE):
            object.__setattr__(self, name, _read_only(getattr(self, name)))
        for name in (AO, SR50, SR75, SUCCESS_AUC, PRECISION_20, NORM_PRECISION_AUC):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, NUM_FRAMES, int(self.num_frames))

    def to_dict(self) -> dict[str, float | int | list[float]]:
        """The scores as plain Python values (curves as lists), ready for JSON."""
        return {
            f.name: value.tolist() if isinstance(value, np.ndarray) else value
            for f in fields(self)
            for value in [getattr(self, f.name)]
        }


def _empty_scores() -> SequenceScores:
    nan = float("nan")
    return SequenceScores(
        ao=nan,
        sr50=nan,
        sr75=nan,
        success_curve=np.full(len(SUCCESS_THRESHOLDS), nan),
        success_auc=nan,
        precision_curve=np.full(len(PRECISION_THRESHOLDS_PX), nan),
        precision_20px=nan,
        norm_precision_curve=np.full(len(NORM_PRECISION_THRESHOLDS), nan),
        norm_precision_auc=nan,
        num_frames=0,
    )


def evaluated_frames(gt_boxes, absent=None) -> np.ndarray:
    """The frames OPE scores: not frame 0, not absent, and with a fully known ground-truth box.

    Args:
        gt_boxes: ``(N, 4)`` ground-truth ``[x, y, w, h]``; a row with any NaN is unknown truth.
        absent: ``(N,)`` bool, True where the benchmark marks the target absent (GOT-10k: ``cover == 0``);
            None when the benchmark has no such flag.

    Returns:
        ``(N,)`` bool mask, True for the frames to score.

    Raises:
        ValueError: If ``gt_boxes`` is not ``(N, 4)`` or ``absent`` does not have ``N`` entries.
    """
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64)
    if gt_boxes.ndim != 2 or gt_boxes.shape[1] != 4:
        raise ValueError(f"expected gt_boxes of shape (N, 4), got shape {gt_boxes.shape}")
    mask = ~np.isnan(gt_boxes).any(axis=1)
    if absent is not None:
        absent = np.asarray(absent, dtype=bool).reshape(-1)
        if len(absent) != len(gt_boxes):
            raise ValueError(f"absent has {len(absent)} flags but gt_boxes has {len(gt_boxes)} frames")
        mask &= ~absent
    mask[:1] = False
    return mask


def success_curve(ious, thresholds=SUCCESS_THRESHOLDS) -> np.ndarray:
    """The fraction of frames whose IoU is strictly greater than each threshold (OTB success plot).

    Args:
        ious: ``(N,)`` IoUs of the evaluated frames.
        thresholds: ``(T,)`` IoU thresholds; default the toolkit's 21 thresholds 0, 0.05, …, 1.

    Returns:
        ``(T,)`` float64 success rates; all NaN when ``N`` is 0.
    """
    return _fraction_passing(np.greater, ious, thresholds)


def precision_curve(center_errors, thresholds=PRECISION_THRESHOLDS_PX) -> np.ndarray:
    """The fraction of frames whose centre error is at most each threshold (OTB precision plot).

    Also the normalised precision curve when given normalised centre errors and
    :data:`NORM_PRECISION_THRESHOLDS`.

    Args:
        center_errors: ``(N,)`` centre errors of the evaluated frames (+inf for a failed prediction).
        thresholds: ``(T,)`` error thresholds; default 0, 1, …, 50 px.

    Returns:
        ``(T,)`` float64 precisions; all NaN when ``N`` is 0.
    """
    return _fraction_passing(np.less_equal, center_errors, thresholds)


def _fraction_passing(compare, values, thresholds) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    thresholds = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if len(values) == 0:
        return np.full(len(thresholds), np.nan)
    return compare(values[:, None], thresholds[None, :]).mean(axis=0)


def score_sequence(boxes, gt_boxes, absent=None) -> SequenceScores:
    """Score one tracker's one-pass run on one sequence.

    Args:
        boxes: ``(N, 4)`` the tracker's ``[x, y, w, h]`` for every frame, frame 0 included; a NaN row is a
            failed prediction.
        gt_boxes: ``(N, 4)`` the ground truth; NaN rows are not scored.
        absent: ``(N,)`` bool absence flags, or None (see :func:`evaluated_frames`).

    Returns:
        The sequence's scores; NaN scores with ``num_frames == 0`` when no frame is evaluated.

    Raises:
        ValueError: If the shapes are not ``(N, 4)`` or the lengths of boxes, ground truth and flags differ.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4), got shape {boxes.shape}")
    if len(boxes) != len(gt_boxes):
        raise ValueError(f"boxes has {len(boxes)} frames but gt_boxes has {len(gt_boxes)} frames")
    mask = evaluated_frames(gt_boxes, absent)
    if not mask.any():
        return _empty_scores()
    boxes, gt_boxes = boxes[mask], gt_boxes[mask]
    # Clipped as in the toolkit, so that float rounding cannot lift a perfect frame over the 1.0 threshold.
    overlaps = np.clip(iou(boxes, gt_boxes), 0.0, 1.0)
    errors = np.asarray(center_error(boxes, gt_boxes))
    norm_errors = np.asarray(normalized_center_error(boxes, gt_boxes))
    success = success_curve(overlaps)
    norm_precision = precision_curve(norm_errors, NORM_PRECISION_THRESHOLDS)
    return SequenceScores(
        ao=overlaps.mean(),
        sr50=np.mean(overlaps > SR50_THRESHOLD),
        sr75=np.mean(overlaps > SR75_THRESHOLD),
        success_curve=success,
        success_auc=success.mean(),
        precision_curve=precision_curve(errors),
        precision_20px=np.mean(errors <= PRECISION_THRESHOLD_PX),
        norm_precision_curve=norm_precision,
        norm_precision_auc=norm_precision.mean(),
        num_frames=int(mask.sum()),
    )


def _as_list(per_sequence: Mapping[str, SequenceScores] | Iterable[SequenceScores]) -> list[SequenceScores]:
    if isinstance(per_sequence, Mapping):
        return list(per_sequence.values())
    return list(per_sequence)


def _weighted_mean(scores: list[SequenceScores], weights: np.ndarray) -> SequenceScores:
    # Every score is linear in per-frame indicators, so one weighted mean serves all fields.
    values = {}
    for f in fields(SequenceScores):
        if f.name == NUM_FRAMES:
            continue
        stacked = np.stack([np.asarray(getattr(s, f.name)) for s in scores])
        values[f.name] = np.tensordot(weights, stacked, axes=1) / weights.sum()
    return SequenceScores(**values, num_frames=sum(s.num_frames for s in scores))


def pool_frames(per_sequence: Mapping[str, SequenceScores] | Iterable[SequenceScores]) -> SequenceScores:
    """Scores over all evaluated frames of all sequences, each frame counting once (GOT-10k AO and SR).

    Equal to scoring the concatenation of the sequences' evaluated frames. Sequences with no evaluated
    frame are skipped; with none left, the scores are NaN and ``num_frames`` is 0.

    Args:
        per_sequence: Scores of one tracker, keyed by sequence name or as a list.

    Returns:
        The pooled scores; ``num_frames`` is the total number of evaluated frames.
    """
    scores = [s for s in _as_list(per_sequence) if s.num_frames > 0]
    if not scores:
        return _empty_scores()
    return _weighted_mean(scores, np.array([s.num_frames for s in scores], dtype=np.float64))


def mean_over_sequences(
    per_sequence: Mapping[str, SequenceScores] | Iterable[SequenceScores],
) -> SequenceScores:
    """The unweighted mean of the per-sequence scores and curves (OTB, UAV123, LaSOT and the like).

    The success AUC of the result is the mean of the mean success curve, as the toolkit's
    ``ExperimentOTB.report`` computes it. Sequences with no evaluated frame are skipped; with none left,
    the scores are NaN and ``num_frames`` is 0.

    Args:
        per_sequence: Scores of one tracker, keyed by sequence name or as a list.

    Returns:
        The averaged scores; ``num_frames`` is the total number of evaluated frames.
    """
    scores = [s for s in _as_list(per_sequence) if s.num_frames > 0]
    if not scores:
        return _empty_scores()
    return _weighted_mean(scores, np.ones(len(scores)))


def pool_scores(
    per_sequence: Mapping[str, SequenceScores] | Iterable[SequenceScores], mode: str = POOL_FRAMES
) -> SequenceScores:
    """:func:`pool_frames` when ``mode`` is :data:`POOL_FRAMES`, :func:`mean_over_sequences` when it is
    :data:`MEAN_OVER_SEQUENCES`.

    Raises:
        ValueError: On any other ``mode``.
    """
    if mode == POOL_FRAMES:
        return pool_frames(per_sequence)
    if mode == MEAN_OVER_SEQUENCES:
        return mean_over_sequences(per_sequence)
    raise ValueError(f"unknown pooling mode {mode!r}: expected {POOL_FRAMES!r} or {MEAN_OVER_SEQUENCES!r}")


def scores_table(
    results: Mapping[str, Mapping[str, SequenceScores]], mode: str = POOL_FRAMES
) -> pd.DataFrame:
    """One row per tracker with its pooled scores, best AO first (ties by tracker name).

    Args:
        results: ``{tracker_name: {sequence_name: SequenceScores}}``.
        mode: :data:`POOL_FRAMES` (GOT-10k) or :data:`MEAN_OVER_SEQUENCES` (OTB, UAV123, LaSOT); see
            :func:`pool_scores`.

    Returns:
        A DataFrame indexed by tracker name (index name ``"tracker"``) with the float columns
        ``AO, SR@0.50, SR@0.75, success AUC, precision@20, normalised precision`` and the int columns
        ``sequences`` (those with at least one evaluated frame) and ``frames`` (evaluated frames).
    """
    rows = {}
    for tracker, per_sequence in results.items():
        pooled = pool_scores(per_sequence, mode)
        row: dict[str, float | int] = {
            column: getattr(pooled, name) for name, column in _TABLE_COLUMNS.items()
        }
        row[COLUMN_NUM_SEQUENCES] = sum(s.num_frames > 0 for s in _as_list(per_sequence))
        row[COLUMN_NUM_FRAMES] = pooled.num_frames
        rows[tracker] = row
    columns = [*_TABLE_COLUMNS.values(), COLUMN_NUM_SEQUENCES, COLUMN_NUM_FRAMES]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table = table.astype({COLUMN_NUM_SEQUENCES: "int64", COLUMN_NUM_FRAMES: "int64"})
    table.index.name = "tracker"
    # Name first, then a stable sort by AO, so that ties keep alphabetical order; NaN AO goes last.
    table = table.sort_index(kind="stable").sort_values(COLUMN_AO, ascending=False, kind="stable")
    return table
