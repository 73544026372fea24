"""Which member's box a student tracker output on each frame: stored beside its results, summed in reports.

TRAST and TRASFUST record, per frame, whose box they output (``choices`` of
:class:`~tracking_by_trackers.policies.trackers.student_tracker.StudentTracker`): ``"init"`` on frame 0, then ``"student"``
or a teacher's name. Evaluation stores them next to the boxes in the GOT-10k layout,
``<root>/<benchmark>/<tracker>/<sequence>_choices.txt``: a first line ``# members: student,csrt`` (so a
member that was never chosen still shows as 0 %), then one name per frame. The file is written BEFORE the
box file (whose presence means "done"), so a finished result always has its choices.

The report turns them into the paper's Fig. 6: the fraction of frames a tracker handed to its teachers,
and each member's share. Frames are pooled over sequences; frame 0 (given, not chosen) is left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tracking_by_trackers.envs.sequence import DatasetError, Sequence
from tracking_by_trackers.policies.trackers.student_tracker import INIT_CHOICE, STUDENT
from tracking_by_trackers.teachers.atomic_io import write_text_atomically

__all__ = [
    "COLUMN_HANDED_TO_TEACHERS",
    "COLUMN_TRACKED_FRAMES",
    "StoredChoices",
    "choices_file",
    "member_share_table",
    "member_shares",
    "read_choices",
    "write_choices",
]

COLUMN_TRACKED_FRAMES = "tracked frames"
COLUMN_HANDED_TO_TEACHERS = "handed to teachers"
_MEMBERS_HEADER = "# members: "


@dataclass(frozen=True)
class StoredChoices:
    """A tracker's members and, per frame, the member whose box it output."""

    members: list[str]
    choices: list[str]


def choices_file(root: str | Path, benchmark: str, tracker: str, sequence: str) -> Path:
    return Path(root) / benchmark / tracker / f"{sequence}_choices.txt"


def write_choices(
    root: str | Path,
    benchmark: str,
    tracker: str,
    sequence: str,
    choices: SequenceABC[str],
    members: SequenceABC[str],
) -> None:
    """Store the members and one chosen member per frame, atomically.

    Raises:
        ValueError: An empty name, or a name with a comma or a line break (the file's separators).
    """
    bad = [name for name in [*members, *choices] if not name or "\n" in name or "," in name]
    if bad:
        raise ValueError(f"member names must be non-empty, without commas or line breaks, got {bad[0]!r}")
    text = _MEMBERS_HEADER + ",".join(members) + "\n" + "".join(f"{name}\n" for name in choices)
    write_text_atomically(choices_file(root, benchmark, tracker, sequence), text)


def read_choices(root: str | Path, benchmark: str, tracker: str, sequence: str) -> StoredChoices | None:
    """The stored choices, or None when the tracker stored none (a plain tracker, TRAS, older results).

    Raises:
        DatasetError: A file without the members line.
    """
    path = choices_file(root, benchmark, tracker, sequence)
    if not path.is_file():
        return None
    header, *choices = path.read_text().splitlines() or [""]
    if not header.startswith(_MEMBERS_HEADER):
        raise DatasetError(
            f"malformed choices file {path}: the first line must start with {_MEMBERS_HEADER!r}"
        )
    return StoredChoices(header[len(_MEMBERS_HEADER) :].split(","), choices)


def member_shares(choices_per_sequence: Iterable[SequenceABC[str]]) -> tuple[dict[str, float], int]:
    """Each chosen member's fraction of the tracked frames (frame 0 left out), pooled over sequences.

    Returns:
        ``({member: fraction}, tracked_frames)``, members in the order they are first chosen; an empty
        dict and 0 when no frame was tracked.
    """
    counts: Counter[str] = Counter()
    for choices in choices_per_sequence:
        counts.update(name for name in choices[1:] if name != INIT_CHOICE)
    total = sum(counts.values())
    return ({name: count / total for name, count in counts.items()} if total else {}), total


def member_share_table(
    results_root: str | Path, sequences: SequenceABC[Sequence], tracker_names: SequenceABC[str]
) -> pd.DataFrame:
    """Per tracker with stored choices: tracked frames, the fraction handed to teachers, each member's share.

    Returns:
        A DataFrame indexed by tracker (index name ``"tracker"``) with the int column
        :data:`COLUMN_TRACKED_FRAMES`, the float column :data:`COLUMN_HANDED_TO_TEACHERS` and one float
        column per member (``student`` first, then teachers in order of appearance; NaN where a member
        does not belong to a tracker). Trackers without stored choices are not rows. Empty when none has.

    Raises:
        DatasetError: A malformed choices file, or one whose length differs from its sequence's.
    """
    rows: dict[str, dict[str, float]] = {}
    columns: list[str] = [STUDENT]
    for tracker in tracker_names:
        stored = []
        for sequence in sequences:
            record = read_choices(results_root, sequence.benchmark, tracker, sequence.name)
            if record is None:
                continue
            if len(record.choices) != len(sequence):
                path = choices_file(results_root, sequence.benchmark, tracker, sequence.name)
                raise DatasetError(
                    f"{path} names {len(record.choices)} members for the {len(sequence)} frames of {sequence.name}"
                )
            stored.append(record)
        if not stored:
            continue
        shares, frames = member_shares(record.choices for record in stored)
        members = list(dict.fromkeys(name for record in stored for name in record.members))
        members += [name for name in shares if name not in members]
        columns.extend(name for name in members if name not in columns)
        rows[tracker] = {
            COLUMN_TRACKED_FRAMES: frames,
            COLUMN_HANDED_TO_TEACHERS: 1.0 - shares.get(STUDENT, 0.0),
            **{name: shares.get(name, 0.0) for name in members},
        }
    table = pd.DataFrame.from_dict(
        rows, orient="index", columns=[COLUMN_TRACKED_FRAMES, COLUMN_HANDED_TO_TEACHERS, *columns]
    )
    table = table.astype({COLUMN_TRACKED_FRAMES: "int64"})
    table.index.name = "tracker"
    return table
