"""The transfer-set store: every teacher's trajectory on every video, as parquet files.

Layout under the store's root::

    transfer_set.json                                   what was built: dataset spec, teachers
    trajectories/<benchmark>/<sequence>/<teacher>.parquet

Each parquet file holds one row per frame of one (sequence, teacher) pair, with the columns of
:data:`COLUMNS`. One file per pair makes every write small and atomic (written beside its final name,
then renamed), so a build killed at any moment leaves only complete files, and a re-run skips exactly the
pairs whose file exists.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.envs.sequence import DatasetError, Sequence
from tracking_by_trackers.teachers.atomic_io import write_text_atomically
from tracking_by_trackers.teachers.one_pass import TrackingResult

MANIFEST = "transfer_set.json"
TRAJECTORIES = "trajectories"
COLUMNS = ["dataset", "sequence", "frame", "teacher", "x", "y", "w", "h", "iou", "ok", "time_ms"]
"""dataset: the benchmark; frame: 0-based index; x, y, w, h: the teacher's box, the last good one on failed
frames; iou: with the ground truth (NaN where the target is absent or not annotated); ok: the frame did not
fail; time_ms: time spent in the teacher's ``init`` (frame 0) or ``update``."""


def trajectory_frame(sequence: Sequence, teacher: str, result: TrackingResult) -> pd.DataFrame:
    """The rows of one (sequence, teacher) trajectory, failed frames holding the last good box."""
    boxes = result.last_good_boxes()
    overlaps = np.where(
        np.isnan(sequence.gt_boxes).any(axis=1) | sequence.absent, np.nan, iou(boxes, sequence.gt_boxes)
    )
    return pd.DataFrame(
        {
            "dataset": sequence.benchmark,
            "sequence": sequence.name,
            "frame": np.arange(len(sequence), dtype=np.int32),
            "teacher": teacher,
            "x": boxes[:, 0],
            "y": boxes[:, 1],
            "w": boxes[:, 2],
            "h": boxes[:, 3],
            "iou": overlaps,
            "ok": result.ok.astype(bool),
            "time_ms": result.times * 1e3,
        },
        columns=COLUMNS,
    )


class TransferSetStore:
    """Reads and writes the trajectories of one transfer set under ``root``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def trajectory_file(self, benchmark: str, sequence: str, teacher: str) -> Path:
        return self.root / TRAJECTORIES / benchmark / sequence / f"{teacher}.parquet"

    def has(self, benchmark: str, sequence: str, teacher: str) -> bool:
        return self.trajectory_file(benchmark, sequence, teacher).is_file()

    def write(self, rows: pd.DataFrame) -> Path:
        """Write one trajectory atomically (to a temporary file beside it, then renamed into place)."""
        benchmark, sequence, teacher = rows[["dataset", "sequence", "teacher"]].iloc[0]
        path = self.trajectory_file(benchmark, sequence, teacher)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            rows.to_parquet(tmp, index=False)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def read(self, benchmark: str, sequence: str, teacher: str) -> pd.DataFrame:
        path = self.trajectory_file(benchmark, sequence, teacher)
        if not path.is_file():
            raise DatasetError(
                f"no trajectory of teacher {teacher} on {benchmark}/{sequence}: {path} is missing"
            )
        return pd.read_parquet(path)

    def read_all(self) -> pd.DataFrame:
        """Every stored row, one DataFrame (empty, with the right columns, when nothing is stored)."""
        files = sorted((self.root / TRAJECTORIES).glob("*/*/*.parquet"))
        if not files:
            return pd.DataFrame(columns=COLUMNS)
        return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)

    def write_manifest(self, dataset: str, teachers: list[str]) -> None:
        """Record what this store holds; a different dataset in the same folder is refused."""
        manifest = {"dataset": dataset, "teachers": teachers}
        if (self.root / MANIFEST).is_file():
            previous = self.read_manifest()
            if previous["dataset"] != dataset:
                raise DatasetError(
                    f"{self.root} holds a transfer set of dataset {previous['dataset']!r}, not {dataset!r}; "
                    "choose another output folder"
                )
            manifest["teachers"] = list(dict.fromkeys([*previous["teachers"], *teachers]))
        write_text_atomically(self.root / MANIFEST, json.dumps(manifest, indent=2))

    def read_manifest(self) -> dict:
        path = self.root / MANIFEST
        if not path.is_file():
            raise DatasetError(f"{path} not found: is {self.root} the output of `tbt teachers run`?")
        return json.loads(path.read_text())
