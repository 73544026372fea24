"""A teacher that replays a tracker's stored results, so that published trackers (ECO, MDNet, …) can teach.

The results are read from the GOT-10k toolkit's layout, ``<root>/<benchmark>/<tracker>/<sequence>.txt``
(:mod:`tracking_by_trackers.teachers.results_store`). A stored result is a whole video, so the teacher has to know which
video it is on: it loads it in ``prepare(sequence)``, which :func:`tracking_by_trackers.teachers.one_pass.track_sequence`
calls before ``init``. Run through that loop, it reproduces the stored boxes exactly from frame 1 on; frame
0 is the initial box the loop was given, as for every tracker (STRUCK's stored frame 0, for one, is off
the ground truth by a fraction of a pixel).

Lengths: the stored result must have exactly one row per frame of the sequence; a longer or shorter file
raises :class:`~tracking_by_trackers.envs.sequence.DatasetError` instead of replaying boxes that may belong to other frames. A
clip made with :meth:`Sequence.slice <tracking_by_trackers.envs.sequence.Sequence.slice>` replays its own rows of the whole
video's result (``attributes["frame_offset"]`` on), so there the file only has to be long enough.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.envs.sequence import DatasetError, Sequence
from tracking_by_trackers.teachers.results_store import read_result, result_file
from tracking_by_trackers.teachers.tracker import BaseTracker

logger = logging.getLogger(__name__)

# Below this IoU between the stored frame-0 box and the init box, the stored result probably belongs to
# another annotation or frame range; rounding in published results stays far above it.
INIT_IOU_WARNING = 0.9


class ResultsTeacher(BaseTracker):
    """Replays ``<root>/<benchmark>/<tracker>/<sequence>.txt`` through ``init`` / ``update``.

    Attributes:
        name: The stored tracker's name (``"ECO"``), which results of the replay are stored under too.
        root: The results root.
        benchmark: The benchmark folder to read from; the sequence's own ``benchmark`` when None.

    A NaN stored box is returned as it is, so the loop records a failed frame there. ``last_ok`` replays
    the stored failure flags (:mod:`tracking_by_trackers.teachers.results_store`): False on a frame the live tracker
    reported failure on, True everywhere for published results, which carry none.
    """

    def __init__(self, root: str | Path, tracker: str, benchmark: str | None = None):
        self.root = Path(root)
        self.name = tracker
        self.benchmark = benchmark
        self._prepared: tuple[str, np.ndarray, np.ndarray] | None = None
        self._replaying: tuple[str, np.ndarray, np.ndarray] | None = None
        self._next_row = 0

    def prepare(self, sequence: Sequence) -> None:
        """Load the stored boxes of ``sequence``; :class:`DatasetError` if they are missing or do not fit."""
        benchmark = self.benchmark or sequence.benchmark
        # read_result's DatasetError already names the missing file and the tracker.
        stored = read_result(self.root, benchmark, self.name, sequence.name)
        boxes = stored.boxes
        offset = sequence.attributes.get("frame_offset", 0)
        stop = offset + len(sequence)
        if len(boxes) < stop or (offset == 0 and len(boxes) != stop):
            frames = f"frames {offset} to {stop - 1}" if offset else f"the {len(sequence)} frames"
            raise DatasetError(
                f"results teacher {self.name}: {result_file(self.root, benchmark, self.name, sequence.name)} "
                f"has {len(boxes)} boxes, which do not fit {frames} of sequence {benchmark}/{sequence.name}; "
                "the stored result was made on other frames"
            )
        self._prepared = (f"{benchmark}/{sequence.name}", boxes[offset:stop], stored.ok[offset:stop])

    def init(self, image: np.ndarray, box) -> None:
        """Start replaying the prepared sequence; warns if ``box`` is far from the stored frame-0 box."""
        if self._prepared is None:
            raise RuntimeError(
                f"results teacher {self.name} replays stored results and needs prepare(sequence) before each "
                "init to know the video: run it through tracking_by_trackers.teachers.one_pass.track_sequence"
            )
        # Consumed here, so that a second video cannot silently replay the first one's boxes.
        self._replaying, self._prepared = self._prepared, None
        self._next_row = 1
        self.last_ok = True
        sequence, rows, _ = self._replaying
        overlap = iou(rows[0], np.asarray(box, dtype=np.float64))
        if overlap < INIT_IOU_WARNING:
            logger.warning(
                "results teacher %s on %s: stored frame-0 box %s is not the init box %s (IoU %.2f); the "
                "stored result may come from another annotation",
                self.name,
                sequence,
                rows[0].tolist(),
                np.asarray(box).tolist(),
                overlap,
            )

    def update(self, image: np.ndarray) -> np.ndarray:
        """The next stored box (NaN where the stored tracker gave none); ``image`` is not looked at."""
        if self._replaying is None:
            raise RuntimeError(f"results teacher {self.name}: call init(image, box) before update(image)")
        sequence, rows, ok = self._replaying
        if self._next_row >= len(rows):
            raise IndexError(
                f"results teacher {self.name}: the stored result for {sequence} has {len(rows)} rows, and "
                f"update was called for frame {self._next_row}"
            )
        box = rows[self._next_row].copy()
        self.last_ok = bool(ok[self._next_row])
        self._next_row += 1
        return box
