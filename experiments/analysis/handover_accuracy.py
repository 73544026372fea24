"""How well TRAST's critic chooses between the student's box and its teacher's, frame by frame.

    python -m tracking_by_trackers.experiments.analysis.handover_accuracy runs/train/report/student.pt [more.pt ...]
        [--teacher csrt] [--dataset synthetic:videos=10,frames=100,difficulty=0.5,seed=500] [--min-gap 0.1]

TRAST outputs the teacher's box when the critic values the teacher's state above the student's, and both
states are built around a previous box (docs/method.md, *TRAST*). So on each frame the right choice
is known from the ground truth: the member whose previous box overlaps the target more. Per student this
prints TRAST's AO, the share of frames handed to the teacher, and the **hand-over accuracy**: on the frames
where the two previous boxes differ by at least ``--min-gap`` IoU, the share on which the critic valued the
better one higher (1 is a perfect critic, 0.5 a coin, 0 a reversed one), with the number of such frames.
The accuracy is read on a second pass without hand-overs, where the student tracks alone and the teacher
beside it (see :class:`RecordingTRAST`): the states are TRAST's, the frames counted do not depend on the
critic.
Unlike ``bench_critic_ranking``, the candidates are the boxes TRAST really meets, with each member's own
LSTM state: a student drifting onto a spot it takes for the target is the case that matters.

Two more figures say where the accuracy comes from:

- **lost members**: the accuracy on frames where one member has lost the target (previous-box IoU below
  0.1) while the other is on it (0.5 or more), for a lost student and for a lost teacher;
- **one box, two states**: after a hand-over the student's previous box IS the teacher's, so both states
  are cropped around one box and differ only in their LSTM memories. The share of such frames in TRAST's
  own run, and how often the student's box won them (a tie keeps the student).

AO is pooled over the frames the report scores (not frame 0, not where the truth is unknown).
"""

from __future__ import annotations

import argparse

import numpy as np

from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.experiments.evaluation.ope_metrics import evaluated_frames
from tracking_by_trackers.policies.trackers.trast import TRAST

__all__ = ["RecordingTRAST", "coincident_states", "handover_accuracy", "lost_member_accuracy"]

LOST_IOU = 0.1
"""A member whose previous box overlaps the target less than this has lost it."""
ON_TARGET_IOU = 0.5
"""A member whose previous box overlaps the target at least this much is on it."""
_LOST_CASES = {"student lost": (0, 1), "teacher lost": (1, 0)}
"""Each case of :func:`lost_member_accuracy`: (row of the member that lost the target, row of the other)."""


class RecordingTRAST(TRAST):
    """TRAST that keeps, for every frame, the previous boxes it valued and their values.

    With ``hand_over=False`` it values both states as TRAST does but always outputs the student's box: the
    student and the teacher then follow their own trajectories, so which frames have a gap between them
    does not depend on the critic's earlier choices (with hand-overs, a right choice closes the gap and a
    wrong one keeps it open, so the frames counted would over-represent wrong choices).
    """

    def __init__(self, *args, hand_over: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.hand_over = hand_over

    def init(self, image, box) -> None:
        self.evaluations: list[tuple[np.ndarray, np.ndarray]] = []
        super().init(image, box)

    def evaluate_states(self, frame, boxes, streams):
        mu, values = super().evaluate_states(frame, boxes, streams)
        self.evaluations.append((np.array(boxes, dtype=np.float64), values.copy()))
        # Without hand-overs: a teacher state can never win, so TRAST's update outputs the student's box.
        return mu, (values if self.hand_over else np.where(np.arange(len(values)) == 0, np.inf, values))


def _scored_frames(evaluations, previous_gt):
    """``(overlaps (2,), values (2,))`` of the student's and the teacher's previous boxes, on the frames
    where both were valued and the ground truth is known."""
    for (boxes, values), target in zip(evaluations, previous_gt, strict=True):
        if len(boxes) >= 2 and np.isfinite(target).all():
            yield iou(boxes[:2], target), values[:2]


def _right(overlaps: np.ndarray, values: np.ndarray) -> bool:
    """Whether the critic valued the member with the better previous box higher."""
    return (values[1] > values[0]) == (overlaps[1] > overlaps[0])


def handover_accuracy(
    evaluations: list[tuple[np.ndarray, np.ndarray]], previous_gt: np.ndarray, min_gap: float = 0.1
) -> tuple[int, int]:
    """``(right, frames)``: frames where the student's and teacher's previous boxes differ by ``min_gap``
    IoU or more, and how many of them the critic valued the better box higher.

    ``evaluations[i]`` is ``(boxes (K, 4), values (K,))`` with the student's box in row 0 and the teacher's
    in row 1 (frames with K < 2, when the teacher failed, are skipped); ``previous_gt[i]`` is the ground
    truth those previous boxes are scored against.
    """
    scored = [
        _right(overlaps, values)
        for overlaps, values in _scored_frames(evaluations, previous_gt)
        if abs(overlaps[1] - overlaps[0]) >= min_gap
    ]
    return sum(scored), len(scored)


def lost_member_accuracy(
    evaluations: list[tuple[np.ndarray, np.ndarray]], previous_gt: np.ndarray
) -> dict[str, tuple[int, int]]:
    """``{"student lost": (right, frames), "teacher lost": (right, frames)}``: on the frames where that
    member's previous box has lost the target (IoU < :data:`LOST_IOU`) and the other's is on it
    (IoU >= :data:`ON_TARGET_IOU`), how often the critic valued the one on target higher. Arguments as
    for :func:`handover_accuracy`."""
    cases = {case: [0, 0] for case in _LOST_CASES}
    for overlaps, values in _scored_frames(evaluations, previous_gt):
        for case, (lost, kept) in _LOST_CASES.items():
            if overlaps[lost] < LOST_IOU and overlaps[kept] >= ON_TARGET_IOU:
                cases[case][0] += _right(overlaps, values)
                cases[case][1] += 1
    return {case: (right, frames) for case, (right, frames) in cases.items()}


def coincident_states(evaluations: list[tuple[np.ndarray, np.ndarray]]) -> tuple[int, int]:
    """``(frames, kept)``: frames whose student and teacher states were cropped around the same box, and
    on how many of them the student's box was output (``v_t >= v_t^(T)``)."""
    frames = kept = 0
    for boxes, values in evaluations:
        if len(boxes) >= 2 and np.array_equal(boxes[0], boxes[1]):
            frames += 1
            kept += int(values[0] >= values[1])
    return frames, kept


def main() -> None:
    import torch

    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.policies.student_export import load_student
    from tracking_by_trackers.teachers.registry import make_tracker

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("students", nargs="+", help="exported students or checkpoint folders")
    parser.add_argument("--teacher", default="csrt", help="TRAST's teacher (default csrt)")
    parser.add_argument("--dataset", default="synthetic:videos=10,frames=100,difficulty=0.5,seed=500")
    parser.add_argument("--min-gap", type=float, default=0.1, help="IoU gap that makes a choice count")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sequences = load_dataset(args.dataset)
    for path in args.students:
        network = load_student(path).eval()  # once: both passes on every video share it
        right = frames = handed = tracked = coincident = kept = 0
        lost = {case: [0, 0] for case in _LOST_CASES}
        overlaps = []
        for sequence in sequences:
            tracker = RecordingTRAST(network, make_tracker(args.teacher), runner="inline")
            tracker.init(sequence.frames[0], sequence.gt_boxes[0])
            boxes = [tracker.update(sequence.frames[t]) for t in range(1, len(sequence))]
            tracker.close()
            same, student_kept = coincident_states(tracker.evaluations)
            coincident, kept = coincident + same, kept + student_kept
            # The critic's accuracy on the student's and the teacher's own trajectories (see RecordingTRAST).
            shadow = RecordingTRAST(network, make_tracker(args.teacher), runner="inline", hand_over=False)
            shadow.init(sequence.frames[0], sequence.gt_boxes[0])
            for t in range(1, len(sequence)):
                shadow.update(sequence.frames[t])
            shadow.close()
            good, counted = handover_accuracy(shadow.evaluations, sequence.gt_boxes[:-1], args.min_gap)
            right, frames = right + good, frames + counted
            for case, (good, counted) in lost_member_accuracy(
                shadow.evaluations, sequence.gt_boxes[:-1]
            ).items():
                lost[case][0] += good
                lost[case][1] += counted
            handed += sum(choice == args.teacher for choice in tracker.choices[1:])
            tracked += len(boxes)
            scored = evaluated_frames(sequence.gt_boxes)[1:]
            overlaps.append(iou(np.array(boxes), sequence.gt_boxes[1:])[scored])
        ao = np.concatenate(overlaps).mean()
        print(
            f"{path}: TRAST-{args.teacher} AO {ao:.3f}, {100 * handed / tracked:.1f}% of frames handed over; "
            f"{100 * coincident / tracked:.1f}% of frames had both states on one box, the student's box won "
            f"{_share(kept, coincident)} of them"
        )
        print(
            f"  hand-over accuracy {_share(right, frames)} on {frames} frames with a gap >= {args.min_gap}; "
            + "; ".join(f"{case}: {_share(*lost[case])} on {lost[case][1]} frames" for case in lost)
        )


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "n/a"


if __name__ == "__main__":
    main()
