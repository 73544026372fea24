"""Where TRAST's AO gap to its teacher comes from, read from a run's stored test results.

    python -m tracking_by_trackers.experiments.analysis.trast_gap runs/train [runs/other ...]

TRAST outputs its teacher's box or the student's, frame by frame, and the teacher is never re-initialised
on TRAST's output. So on a frame where TRAST output the teacher's box its overlap IS the teacher's, and the
whole gap ``AO(TRAST) − AO(teacher)`` is made on the frames where the student's box was output. Those
frames are split by how the two boxes overlap the target (:data:`LOST_IOU`, :data:`ON_TARGET_IOU`):

- **teacher on target, student on it too**: the student is less precise than the teacher (its accuracy);
- **teacher on target, student partly off**: the student is drifting and the critic has not seen it;
- **teacher on target, student lost**: the critic values a lost student above the teacher
  (docs/experiments.md, 2026-11-21-default-120x50);
- **teacher off target**: where keeping the student pays (usually a gain).

Each part is printed as its share of the gap, ``Σ (IoU_TRAST − IoU_teacher) / N`` over its frames, with
``N`` every scored frame; the parts add up to the gap. It needs no network and no teacher: only the run's
``evaluation/results`` (boxes and the ``_choices.txt`` files) and its test videos' ground truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tracking_by_trackers.experiments.analysis.handover_accuracy import LOST_IOU, ON_TARGET_IOU
from tracking_by_trackers.experiments.analysis.stored_results import stored_frames
from tracking_by_trackers.policies.trackers.student_tracker import STUDENT

__all__ = ["GAP_PARTS", "gap_parts"]

GAP_PARTS = (
    "teacher on target, student on it too",
    "teacher on target, student partly off",
    "teacher on target, student lost",
    "teacher off target",
    "teacher's box output",
)
"""The parts of :func:`gap_parts`, in print order."""


def gap_parts(trast_iou: np.ndarray, teacher_iou: np.ndarray, student_output: np.ndarray) -> dict[str, float]:
    """TRAST's AO gap to its teacher, split by frame (see the module docstring).

    Args:
        trast_iou: ``(N,)`` TRAST's overlap with the target on each scored frame.
        teacher_iou: ``(N,)`` the teacher's overlap on the same frames.
        student_output: ``(N,)`` bool, True where TRAST output the student's box.

    Returns:
        ``{part: Σ (trast_iou − teacher_iou) / N over the part's frames}`` for every part of
        :data:`GAP_PARTS`; the values add up to ``mean(trast_iou) − mean(teacher_iou)``. The last part
        (frames where the teacher's box was output) is 0 up to clipping the box to the image.
    """
    trast_iou, teacher_iou = np.asarray(trast_iou, float), np.asarray(teacher_iou, float)
    student_output = np.asarray(student_output, bool)
    if not trast_iou.shape == teacher_iou.shape == student_output.shape or trast_iou.ndim != 1:
        raise ValueError(
            f"expected three (N,) arrays, got {trast_iou.shape}, {teacher_iou.shape}, {student_output.shape}"
        )
    if len(trast_iou) == 0:
        raise ValueError("no scored frame: nothing to split")
    difference = (trast_iou - teacher_iou) / len(trast_iou)
    teacher_on = teacher_iou >= ON_TARGET_IOU
    masks = (
        student_output & teacher_on & (trast_iou >= ON_TARGET_IOU),
        student_output & teacher_on & (trast_iou >= LOST_IOU) & (trast_iou < ON_TARGET_IOU),
        student_output & teacher_on & (trast_iou < LOST_IOU),
        student_output & ~teacher_on,
        ~student_output,
    )
    return {part: float(difference[mask].sum()) for part, mask in zip(GAP_PARTS, masks, strict=True)}


def _run_overlaps(run: Path) -> tuple[str, str, np.ndarray, np.ndarray, np.ndarray]:
    """``(TRAST's name, its teacher, TRAST IoU, teacher IoU, student output)`` pooled over a run's test videos."""
    ious, choices = stored_frames(run)
    trast = sorted(name for name in ious if name.startswith("trast-"))
    if not trast:
        raise SystemExit(f"{run}: no trast-* results among {sorted(ious)}; has the run been evaluated?")
    tracker = trast[0]
    if tracker not in choices:
        raise SystemExit(f"{run}: {tracker} stored no choices")
    teacher = tracker.removeprefix("trast-")
    return tracker, teacher, ious[tracker], ious[teacher], choices[tracker] == STUDENT


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path, help="tbt train output folders")
    args = parser.parse_args()
    for run in args.runs:
        tracker, teacher, trast_iou, teacher_iou, student_output = _run_overlaps(run)
        gap = trast_iou.mean() - teacher_iou.mean()
        print(
            f"{run}: {tracker} AO {trast_iou.mean():.3f}, {teacher} AO {teacher_iou.mean():.3f}, gap {gap:+.4f}; "
            f"the student's box on {student_output.mean():.1%} of {len(trast_iou)} frames"
        )
        for part, value in gap_parts(trast_iou, teacher_iou, student_output).items():
            print(f"  {part:<40} {value:+.4f}")


if __name__ == "__main__":
    main()
