"""A finished run's stored test results, frame by frame: what the analyses of a run read.

Only the run's ``config.json``, its ``evaluation/results`` (boxes and ``_choices.txt`` files) and its test
videos' ground truth are read: no network and no teacher.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.experiments.evaluation.member_choices import read_choices
from tracking_by_trackers.experiments.evaluation.ope_metrics import evaluated_frames
from tracking_by_trackers.teachers.results_store import read_result

__all__ = ["stored_frames"]


def stored_frames(run: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(ious, choices)`` of every tracker the run stored, pooled over its test videos' scored frames.

    ``ious[tracker]`` is its overlap with the target on each scored frame; ``choices[tracker]`` the member
    whose box it output there, for the trackers that store choices (TRAST, TRASFUST).

    Raises:
        SystemExit: The run stored no results, or a tracker stored choices for some videos and not others.
    """
    from tracking_by_trackers.envs.datasets import load_dataset

    config = json.loads((run / "config.json").read_text())
    results = run / "evaluation" / "results"
    sequences = load_dataset(config["test_dataset"])
    benchmark = sequences[0].benchmark
    folder = results / benchmark
    trackers = sorted(path.name for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []
    if not trackers:
        raise SystemExit(f"{run}: no results under {folder}; has the run been evaluated?")
    ious: dict[str, list[np.ndarray]] = {tracker: [] for tracker in trackers}
    choices: dict[str, list[np.ndarray]] = {}
    for index, sequence in enumerate(sequences):
        scored = evaluated_frames(sequence.gt_boxes, sequence.absent)
        for tracker in trackers:
            boxes = read_result(results, benchmark, tracker, sequence.name).boxes
            ious[tracker].append(iou(boxes, sequence.gt_boxes)[scored])
            stored = read_choices(results, benchmark, tracker, sequence.name)
            if stored is not None:
                done = choices.setdefault(tracker, [])
                if len(done) != index:  # an earlier video had none
                    raise SystemExit(f"{run}: {tracker} stored no choices for {sequences[len(done)].name}")
                done.append(np.asarray(stored.choices)[scored])
            elif tracker in choices:
                raise SystemExit(f"{run}: {tracker} stored no choices for {sequence.name}")
    return (
        {tracker: np.concatenate(parts) for tracker, parts in ious.items()},
        {tracker: np.concatenate(parts) for tracker, parts in choices.items()},
    )
