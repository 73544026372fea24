"""How well TRAST's critic chooses between the student's box and its teacher's, frame by frame.

    python -m experiments.benchmarks.bench_handover runs/train/report/student.pt [more.pt ...]
        [--teacher csrt] [--dataset synthetic:videos=10,frames=100,difficulty=0.5,seed=500] [--min-gap 0.1]

TRAST outputs the teacher's box when the critic values the teacher's state above the student's, and both
states are built around a previous box (SPEC "Tracking after training"). So on each frame the right choice
is known from the ground truth: the member whose previous box overlaps the target more. Per student this
prints TRAST's AO, the share of frames handed to the teacher, and the **hand-over accuracy**: on the frames
where the two previous boxes differ by at least ``--min-gap`` IoU, the share on which the critic valued the
better one higher (1 is a perfect critic, 0.5 a coin, 0 a reversed one), with the number of such frames.
The accuracy is read on a second pass without hand-overs, where the student tracks alone and the teacher
beside it (see :class:`RecordingTRAST`): the states are TRAST's, the frames counted do not depend on the
critic.
Unlike ``bench_critic_ranking``, the candidates are the boxes TRAST really meets, with each member's own
LSTM state: a student drifting onto a spot it takes for the target is the case that matters.
"""

from __future__ import annotations

import argparse

import numpy as np

from envs.boxes import iou
from policies.trackers.trast import TRAST

__all__ = ["RecordingTRAST", "handover_accuracy"]


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


def handover_accuracy(
    evaluations: list[tuple[np.ndarray, np.ndarray]], previous_gt: np.ndarray, min_gap: float = 0.1
) -> tuple[int, int]:
    """``(right, frames)``: frames where the student's and teacher's previous boxes differ by ``min_gap``
    IoU or more, and how many of them the critic valued the better box higher.

    ``evaluations[i]`` is ``(boxes (K, 4), values (K,))`` with the student's box in row 0 and the teacher's
    in row 1 (frames with K < 2, when the teacher failed, are skipped); ``previous_gt[i]`` is the ground
    truth those previous boxes are scored against.
    """
    right = frames = 0
    for (boxes, values), target in zip(evaluations, previous_gt, strict=True):
        if len(boxes) < 2 or not np.isfinite(target).all():
            continue
        overlaps = iou(boxes[:2], target)
        if abs(overlaps[1] - overlaps[0]) < min_gap:
            continue
        frames += 1
        right += int((values[1] > values[0]) == (overlaps[1] > overlaps[0]))
    return right, frames


def main() -> None:
    import torch

    from envs.datasets import load_dataset
    from policies.student_export import load_student
    from teachers.registry import make_tracker

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
        right = frames = handed = tracked = 0
        overlaps = []
        for sequence in sequences:
            tracker = TRAST(network, make_tracker(args.teacher), runner="inline")
            tracker.init(sequence.frames[0], sequence.gt_boxes[0])
            boxes = [tracker.update(sequence.frames[t]) for t in range(1, len(sequence))]
            tracker.close()
            # The critic's accuracy on the student's and the teacher's own trajectories (see RecordingTRAST).
            shadow = RecordingTRAST(network, make_tracker(args.teacher), runner="inline", hand_over=False)
            shadow.init(sequence.frames[0], sequence.gt_boxes[0])
            for t in range(1, len(sequence)):
                shadow.update(sequence.frames[t])
            shadow.close()
            good, counted = handover_accuracy(shadow.evaluations, sequence.gt_boxes[:-1], args.min_gap)
            right, frames = right + good, frames + counted
            handed += sum(choice == args.teacher for choice in tracker.choices[1:])
            tracked += len(boxes)
            overlaps.append(np.nanmean(iou(np.array(boxes), sequence.gt_boxes[1:])))
        accuracy = right / frames if frames else float("nan")
        print(
            f"{path}: TRAST-{args.teacher} AO {np.mean(overlaps):.3f}, {100 * handed / tracked:.1f}% of frames "
            f"handed over; hand-over accuracy {accuracy:.3f} on {frames} frames with a gap >= {args.min_gap}"
        )


if __name__ == "__main__":
    main()
