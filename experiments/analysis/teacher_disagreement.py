"""What each tracker of a run does on the frames where one teacher is right and another is not.

    python -m tracking_by_trackers.experiments.analysis.teacher_disagreement runs/real0 --right nano_v2 --wrong csrt

Fusion can only beat its best member on frames where the members disagree, so this splits a run's scored
test frames by the overlaps of two of its teachers, *right* and *wrong* (:data:`LOST_IOU`,
:data:`ON_TARGET_IOU`):

- **<right> on, <wrong> lost**: the frames the question is about (with NanoTrack v2 and CSRT on real video:
  does the student follow the teacher that is right?);
- **<wrong> on, <right> lost**: the opposite;
- **both on**, **both lost**, and **the rest** (either teacher partly on the target).

For each part it gives the share of frames, every stored tracker's mean IoU there (the student alone, TRAST,
TRASFUST, the teachers), and, for the trackers that store their choices, the share of the part's frames on
which each member's box was output. It needs no network and no teacher: only the run's
``evaluation/results`` and its test videos' ground truth.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tracking_by_trackers.experiments.analysis.handover_accuracy import LOST_IOU, ON_TARGET_IOU
from tracking_by_trackers.experiments.analysis.stored_results import stored_frames
from tracking_by_trackers.experiments.evaluation.report import markdown_table

__all__ = ["COLUMN_FRAMES", "COLUMN_SHARE", "disagreement_table", "frame_parts"]

COLUMN_FRAMES = "frames"
COLUMN_SHARE = "share of frames"


def frame_parts(
    right_iou: np.ndarray, wrong_iou: np.ndarray, right: str, wrong: str
) -> dict[str, np.ndarray]:
    """``{part name: (N,) bool mask}``: every frame in exactly one part, in print order (module docstring)."""
    right_iou, wrong_iou = np.asarray(right_iou, float), np.asarray(wrong_iou, float)
    if right_iou.shape != wrong_iou.shape or right_iou.ndim != 1:
        raise ValueError(f"expected two (N,) arrays, got {right_iou.shape} and {wrong_iou.shape}")
    right_on, wrong_on = right_iou >= ON_TARGET_IOU, wrong_iou >= ON_TARGET_IOU
    right_lost, wrong_lost = right_iou < LOST_IOU, wrong_iou < LOST_IOU
    parts = {
        f"{right} on, {wrong} lost": right_on & wrong_lost,
        f"{wrong} on, {right} lost": wrong_on & right_lost,
        "both on": right_on & wrong_on,
        "both lost": right_lost & wrong_lost,
    }
    parts["the rest"] = ~np.logical_or.reduce(list(parts.values()))
    return parts


def disagreement_table(
    ious: Mapping[str, np.ndarray], choices: Mapping[str, np.ndarray], right: str, wrong: str
) -> pd.DataFrame:
    """One row per part of :func:`frame_parts`: its frames and share, each tracker's mean IoU there
    (``IoU <tracker>``) and each choosing tracker's share of the part's frames per member
    (``<tracker> → <member>``); NaN where a part has no frame.

    Args:
        ious: ``{tracker: (N,) IoU on the scored frames}``; must hold ``right`` and ``wrong``.
        choices: ``{tracker: (N,) the member whose box was output}`` for the trackers that store choices.
    """
    for name in (right, wrong):
        if name not in ious:
            raise ValueError(f"no results of {name!r}: the run stored {sorted(ious)}")
    if not ious[right].size:
        raise ValueError("no scored frame: nothing to split")
    parts = frame_parts(ious[right], ious[wrong], right, wrong)
    rows = {}
    for part, mask in parts.items():
        row: dict[str, float] = {COLUMN_FRAMES: int(mask.sum()), COLUMN_SHARE: float(mask.mean())}
        for tracker, overlaps in ious.items():
            row[f"IoU {tracker}"] = float(overlaps[mask].mean()) if mask.any() else float("nan")
        for tracker, chosen in choices.items():
            for member in sorted(set(chosen.tolist())):
                row[f"{tracker} → {member}"] = (
                    float((chosen[mask] == member).mean()) if mask.any() else float("nan")
                )
        rows[part] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "frames where"
    return table


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="a tbt train output folder, evaluated")
    parser.add_argument("--right", required=True, help="the teacher that is on the target (e.g. nano_v2)")
    parser.add_argument("--wrong", required=True, help="the teacher that has lost it (e.g. csrt)")
    args = parser.parse_args(argv)
    ious, choices = stored_frames(args.run)
    table = disagreement_table(ious, choices, args.right, args.wrong)
    # The parts as columns (a handful of them against a row per tracker and member), each headed by its
    # frame count.
    shown = table.drop(columns=COLUMN_FRAMES).T.rename_axis("")
    shown.columns = [f"{part} ({count} frames)" for part, count in table[COLUMN_FRAMES].items()]
    text = markdown_table(shown)
    print(f"{args.run}: {len(ious[args.right])} scored test frames\n")
    print(text)
    return text


if __name__ == "__main__":
    main()
