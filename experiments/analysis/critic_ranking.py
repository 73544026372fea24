"""How well the student's critic ranks candidate boxes by their overlap with the target.

    python -m tracking_by_trackers.experiments.analysis.critic_ranking runs/train/report/student.pt [more.pt ...]
        [--dataset synthetic:videos=10,frames=100,difficulty=0.5,seed=500] [--frames 20] [--boxes 16]

TRAST and TRASFUST hand a frame to whichever member's state the critic values most, and a state is built
around that member's previous box. So the figure that matters is, within one frame pair, the rank
correlation between v(ρ(F_{t-1}, F_t, b)) and IoU(b, g_{t-1}) over boxes b jittered around the target
(0 to 0.6 box sizes off centre, sizes scaled by up to e^0.3): 1 ranks them perfectly, 0 is a critic
that cannot tell a good box from a bad one. The value is read with the LSTM's initial state, as on the
first frame after a reset. Printed: the mean Spearman correlation over frames, per student.

Jittered boxes still overlap the target; TRAST's worst frames are another case: a student that has lost the
target (IoU 0) against a teacher still on it. The second figure is the share of frames on which v values
the ground-truth box above a box of the same size moved 1.5 to 3 box sizes away (IoU 0): 1 always
prefers the target, 0.5 is chance, 0 always prefers the lost box.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from tracking_by_trackers.envs.boxes import clip_to_image, iou, is_valid

__all__ = ["critic_ranking", "lost_box_preference", "student_values"]

ValueFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``(previous frame, frame, boxes [k, 4]) -> values [k]``."""


def student_values(network) -> ValueFunction:
    """The critic of a :class:`~tracking_by_trackers.policies.student_model.StudentNetwork` as a :data:`ValueFunction`."""
    import torch

    from tracking_by_trackers.envs.crops import crop_state_pairs

    def values(previous: np.ndarray, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        k = len(boxes)
        obs = crop_state_pairs([previous] * k, [frame] * k, boxes, size=network.config.crop_size)
        with torch.no_grad():
            _, v, _ = network(torch.as_tensor(obs)[:, None], network.initial_state(k))
        return v[:, 0].numpy()

    return values


def _sampled_frames(sequences: Sequence, frames: int, rng: np.random.Generator):
    """``(sequence, t, g_{t-1})`` for ``frames`` random frames t ≥ 1 of each video whose previous frame has
    a ground-truth box."""
    for sequence in sequences:
        for t in rng.integers(1, len(sequence), size=frames):
            target = sequence.gt_boxes[t - 1]
            if np.isfinite(target).all():
                yield sequence, t, target


def critic_ranking(
    values: ValueFunction, sequences: Sequence, frames: int = 20, boxes: int = 16, seed: int = 0
) -> float:
    """Mean within-frame Spearman correlation between ``values`` and the boxes' IoU (module docstring)."""
    rng = np.random.default_rng(seed)
    correlations = []
    for sequence, t, target in _sampled_frames(sequences, frames, rng):
        offset = rng.uniform(0.0, 0.6, size=(boxes, 1))
        candidates = np.repeat(target[None], boxes, axis=0).astype(np.float64)
        candidates[:, :2] += rng.normal(size=(boxes, 2)) * offset * target[2:]
        candidates[:, 2:] *= np.exp(rng.normal(size=(boxes, 2)) * offset / 2)
        v = values(sequence.frames[t - 1], sequence.frames[t], candidates)
        overlaps = iou(candidates, target)
        correlations.append(pd.Series(v).corr(pd.Series(overlaps), method="spearman"))
    return float(np.nanmean(correlations))


def lost_box_preference(values: ValueFunction, sequences: Sequence, frames: int = 20, seed: int = 0) -> float:
    """Share of frames on which ``values`` prefers the target's box to a lost one (module docstring)."""
    rng = np.random.default_rng(seed)
    wins = []
    for sequence, t, target in _sampled_frames(sequences, frames, rng):
        angle = rng.uniform(0.0, 2.0 * np.pi)
        distance = rng.uniform(1.5, 3.0) * target[2:]
        lost = target.astype(np.float64).copy()
        lost[:2] += distance * np.array([np.cos(angle), np.sin(angle)])
        lost = clip_to_image(lost, sequence.frames[t].shape[:2])  # as trackers clip their boxes
        if not is_valid(lost) or iou(lost, target) > 0:
            continue
        v = values(sequence.frames[t - 1], sequence.frames[t], np.stack([target, lost]))
        wins.append(float(v[0] > v[1]))
    return float(np.mean(wins)) if wins else float("nan")


def main() -> None:
    import torch

    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.policies.student_export import load_student

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("students", nargs="+", help="exported students or checkpoint folders")
    parser.add_argument("--dataset", default="synthetic:videos=10,frames=100,difficulty=0.5,seed=500")
    parser.add_argument("--frames", type=int, default=20, help="frames sampled per video")
    parser.add_argument("--boxes", type=int, default=16, help="candidate boxes per frame")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sequences = load_dataset(args.dataset)
    for path in args.students:
        values = student_values(load_student(path).eval())
        rho = critic_ranking(values, sequences, args.frames, args.boxes)
        preference = lost_box_preference(values, sequences, args.frames)
        print(
            f"{path}: Spearman(v, IoU of the previous box) = {rho:.3f}; "
            f"target preferred to a lost box on {100 * preference:.1f}% of frames"
        )


if __name__ == "__main__":
    main()
