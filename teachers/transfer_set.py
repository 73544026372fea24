"""The transfer set: which teacher trajectories training learns from, cut into clips.

The teachers' trajectories come from :class:`~tracking_by_trackers.teachers.transfer_store.TransferSetStore` (one row per
``(dataset, sequence, frame, teacher)``, every frame of a video once). Three steps turn them into episodes,
as docs/method.md, *The transfer set*, describes after the paper:

**β filtering** (:func:`kept_trajectories`). A teacher's trajectory on a video is kept only if its IoU with
the ground truth *exceeds* β (strictly) on every frame, so an IoU of exactly β rejects it. Frames without
ground truth (``iou`` NaN: the target is absent or not annotated) are ignored, neither passing nor failing,
because nothing can be said about the teacher there. Frame 0 is the initialisation frame (the teacher is
given the ground truth, IoU 1 by construction); it is ignored as well, like one-pass evaluation ignores it,
so a trajectory with no evaluated frame after frame 0 is *not* kept: nothing shows it is good. Failed frames
(``ok`` False) are judged by the box the store holds there (the last good one), as one-pass evaluation
scores them. A kept trajectory's AO is its mean IoU over the same evaluated frames.

**β over clips** (``beta_scope="clip"``, :func:`clip_windows`): a departure for short real videos, where
hardly any teacher keeps IoU above β on *every* frame of a several-hundred-frame video, so whole-trajectory
filtering would leave almost nothing to learn from. β then judges each possible clip instead: a window of
``clip_length`` frames starting on an annotated frame is kept for a teacher when its IoU exceeds β on every
evaluated frame inside the window (at least one). A (video, teacher) pair with a kept window counts as a kept
trajectory, its AO is the mean IoU over the frames its kept windows cover, and its clips are drawn among its
kept windows. With videos no longer than ``clip_length`` the two scopes agree.

**Clips** (:func:`cut_clips`). Each kept trajectory is cut into ``clips_per_trajectory`` (5) clips of
``clip_length`` (32) consecutive frames, each placed uniformly at random and independently, so clips may
overlap or even coincide. A clip starts on a frame with ground truth (an episode starts from the ground-truth
box), and a video shorter than ``clip_length`` gives no clip at all: no clip is shorter than
``clip_length``. The placement is drawn from a generator seeded by ``(seed, dataset, sequence, teacher)``
through SHA-256, so it depends on nothing else: not on row order, not on the other trajectories, not on
the Python process (Python's ``hash`` of a string is salted per process).

**Table 1** (:func:`table1`). One row per teacher plus an ``"all"`` row, and columns ``(β, metric)`` with the
metrics ``trajectories`` (kept trajectories), ``videos`` (videos with a kept trajectory), ``AO`` (mean of the
kept trajectories' AOs; NaN when none is kept) and ``clips``: the paper's Table 1 with teachers down and β
across (numbers below for illustration)::

    beta                   0.5                             0.6              …
    metric trajectories videos     AO clips trajectories videos     AO clips
    teacher
    KCF               12     12  0.781    60            9      9  0.802    45
    …
    all               40     23  0.764   200           28     17  0.790   140

A teacher has one trajectory per video, so its two counts agree; the ``"all"`` row sums the trajectories but
counts a video kept by several teachers once. The paper's pool row (T_P) counts videos: 4,519 at β = 0.5,
where its four teachers kept 10,151 trajectories.

:class:`TransferSetClipSource` serves the clips as episodes to :class:`tracking_by_trackers.envs.tracking_env.TrackingEnv`: a video
drawn uniformly, then one of its clips (see there).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from collections.abc import Sequence as SequenceABC

import numpy as np
import pandas as pd

from tracking_by_trackers.envs.clip_sources import Clip
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.envs.sequence import DatasetError, Sequence
from tracking_by_trackers.teachers.transfer_store import TransferSetStore

DEFAULT_BETA = 0.5
DEFAULT_BETAS = (0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_CLIP_LENGTH = 32
DEFAULT_CLIPS_PER_TRAJECTORY = 5

TRAJECTORY_KEYS = ["dataset", "sequence", "teacher"]
KEPT_COLUMNS = [*TRAJECTORY_KEYS, "length", "evaluated", "ao"]
"""length: frames in the video; evaluated: frames the β rule judged (ground truth present, frame 0 left out);
ao: mean IoU over those frames."""
CLIP_COLUMNS = [*TRAJECTORY_KEYS, "start", "stop"]
"""start, stop: the clip is frames ``[start, stop)`` of the sequence."""
TABLE1_METRICS = ["trajectories", "videos", "AO", "clips"]
BETA_SCOPES = ("trajectory", "clip")
"""What β judges: a whole trajectory (the paper) or each clip-long window of it (short real videos)."""
ALL_TEACHERS = "all"
BOX_COLUMNS = ["x", "y", "w", "h"]


def _check_beta(beta: float) -> float:
    if isinstance(beta, bool) or not isinstance(beta, int | float | np.integer | np.floating):
        raise ValueError(f"beta must be a number in [0, 1), got {beta!r}")
    if not 0.0 <= beta < 1.0:
        raise ValueError(
            f"beta must be in [0, 1), got {beta}: a trajectory is kept when its IoU exceeds beta on every "
            "frame, and an IoU never exceeds 1"
        )
    return float(beta)


def _check_clip_settings(clip_length: int, clips_per_trajectory: int, seed: int) -> None:
    if clip_length < 2:
        raise ValueError(f"clip_length must be at least 2 frames (an episode needs 2), got {clip_length}")
    if clips_per_trajectory < 1:
        raise ValueError(f"clips_per_trajectory must be at least 1, got {clips_per_trajectory}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")


def _check_rows(rows: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [column for column in columns if column not in rows.columns]
    if missing:
        raise ValueError(f"transfer-set rows lack the column(s) {missing}; got columns {list(rows.columns)}")
    if rows.duplicated([*TRAJECTORY_KEYS, "frame"]).any():
        first = rows[rows.duplicated([*TRAJECTORY_KEYS, "frame"], keep=False)].iloc[0]
        raise ValueError(
            f"transfer-set rows hold frame {first['frame']} of teacher {first['teacher']} on "
            f"{first['dataset']}/{first['sequence']} more than once"
        )


def _trajectory_stats(rows: pd.DataFrame) -> pd.DataFrame:
    """Per trajectory, sorted by its keys: length, evaluated frames, their lowest IoU and their AO.

    Independent of β, so that :func:`table1` computes it once for every β.
    """
    _check_rows(rows, [*TRAJECTORY_KEYS, "frame", "iou"])
    overlaps = pd.to_numeric(rows["iou"], errors="coerce").astype(np.float64)
    evaluated = overlaps.notna() & (rows["frame"].to_numpy() > 0)
    stats = (
        pd.DataFrame(
            {
                **{key: rows[key] for key in TRAJECTORY_KEYS},
                "frame": rows["frame"],
                "evaluated": evaluated,
                "iou": overlaps.where(evaluated),
            }
        )
        .groupby(TRAJECTORY_KEYS, sort=True)
        .agg(
            length=("frame", "size"),
            evaluated=("evaluated", "sum"),
            min_iou=("iou", "min"),
            ao=("iou", "mean"),
        )
        .reset_index()
    )
    return stats.astype({"length": np.int64, "evaluated": np.int64, "min_iou": np.float64, "ao": np.float64})


def _keep(stats: pd.DataFrame, beta: float) -> pd.DataFrame:
    # Every evaluated IoU exceeds β exactly when the lowest one does; with no evaluated frame the lowest is
    # NaN, which exceeds nothing, so such a trajectory is dropped too.
    kept = stats[(stats["evaluated"] > 0) & (stats["min_iou"] > beta)]
    return kept[KEPT_COLUMNS].reset_index(drop=True)


def kept_trajectories(rows: pd.DataFrame, beta: float = DEFAULT_BETA) -> pd.DataFrame:
    """The trajectories whose IoU exceeds ``beta`` on every evaluated frame (see the module docstring).

    Args:
        rows: Transfer-set rows with at least the columns dataset, sequence, teacher, frame, iou; every
            frame of a trajectory once.
        beta: The threshold β, in ``[0, 1)``; an IoU equal to β fails.

    Returns:
        One row per kept ``(dataset, sequence, teacher)``, sorted by them, with the columns of
        :data:`KEPT_COLUMNS`.

    Raises:
        ValueError: ``beta`` outside ``[0, 1)``, a missing column, or a frame given twice.
    """
    return _keep(_trajectory_stats(rows), _check_beta(beta))


def _check_scope(beta_scope: str) -> str:
    if beta_scope not in BETA_SCOPES:
        raise ValueError(f"beta_scope must be one of {', '.join(BETA_SCOPES)}, got {beta_scope!r}")
    return beta_scope


def _window_sums(flags: np.ndarray, width: int) -> np.ndarray:
    """How many of ``flags`` are set in each window ``[s, s + width)``, for every start s that fits."""
    totals = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    return totals[width:] - totals[:-width]


def clip_windows(
    rows: pd.DataFrame, beta: float = DEFAULT_BETA, clip_length: int = DEFAULT_CLIP_LENGTH
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """β over clips (see the module docstring): the kept trajectories and, aligned with them, the sorted
    frames each one's kept windows start on.

    Returns:
        ``(kept, starts)``: ``kept`` has the columns of :data:`KEPT_COLUMNS` (``evaluated`` and ``ao`` over
        the frames the kept windows cover), sorted by its keys; ``starts[i]`` the start frames of row i.

    Raises:
        ValueError: ``beta`` outside ``[0, 1)``, ``clip_length < 2``, a missing column or a repeated frame.
    """
    beta = _check_beta(beta)
    _check_clip_settings(clip_length, 1, 0)
    _check_rows(rows, [*TRAJECTORY_KEYS, "frame", "iou"])
    ordered = rows.sort_values([*TRAJECTORY_KEYS, "frame"])
    frames = ordered["frame"].to_numpy(dtype=np.int64)
    overlaps = pd.to_numeric(ordered["iou"], errors="coerce").to_numpy(dtype=np.float64)
    kept_rows, starts = [], []
    for key, positions in ordered.groupby(TRAJECTORY_KEYS, sort=True).indices.items():
        frame, iou = frames[positions], overlaps[positions]
        length = len(frame)
        if length < clip_length:
            continue
        evaluated = ~np.isnan(iou) & (frame > 0)
        annotated = ~np.isnan(iou) | (frame == 0)
        bad = evaluated & ~(np.nan_to_num(iou, nan=0.0) > beta)
        valid = (
            annotated[: length - clip_length + 1]
            & (_window_sums(bad, clip_length) == 0)
            & (_window_sums(evaluated, clip_length) > 0)
        )
        if not valid.any():
            continue
        window_starts = np.flatnonzero(valid)
        cover = np.zeros(length + 1, dtype=np.int64)
        np.add.at(cover, window_starts, 1)
        np.add.at(cover, window_starts + clip_length, -1)
        covered = (np.cumsum(cover)[:length] > 0) & evaluated
        kept_rows.append((*key, length, int(covered.sum()), float(iou[covered].mean())))
        starts.append(frame[window_starts])
    kept = pd.DataFrame(kept_rows, columns=KEPT_COLUMNS).astype(
        {"length": np.int64, "evaluated": np.int64, "ao": np.float64}
    )
    return kept, starts


def _trajectory_rng(seed: int, dataset: str, sequence: str, teacher: str) -> np.random.Generator:
    """A generator depending only on the seed and the trajectory's names (not on Python's salted hash)."""
    digest = hashlib.sha256("\0".join([dataset, sequence, teacher]).encode("utf-8")).digest()
    return np.random.default_rng(np.random.SeedSequence([seed, int.from_bytes(digest[:16], "little")]))


def _start_candidates(kept: pd.DataFrame, clip_length: int, rows: pd.DataFrame | None) -> list[np.ndarray]:
    """Per kept trajectory (in ``kept``'s order), the sorted frames a clip of ``clip_length`` may start on."""
    last_starts = kept["length"].to_numpy(dtype=np.int64) - clip_length
    if rows is None or kept.empty:
        return [np.arange(last + 1, dtype=np.int64) for last in last_starts]
    _check_rows(rows, [*TRAJECTORY_KEYS, "frame", "iou"])
    frames = rows["frame"].to_numpy()
    # Frame 0 has ground truth by construction (it initialised the teacher), whatever its stored IoU.
    annotated = pd.to_numeric(rows["iou"], errors="coerce").notna().to_numpy() | (frames == 0)
    index = kept[TRAJECTORY_KEYS].assign(trajectory=np.arange(len(kept)), last_start=last_starts)
    starts = rows.loc[annotated, [*TRAJECTORY_KEYS, "frame"]].merge(index, on=TRAJECTORY_KEYS)
    starts = starts[starts["frame"] <= starts["last_start"]].sort_values(["trajectory", "frame"])
    trajectory = starts["trajectory"].to_numpy(dtype=np.int64)
    boundaries = np.cumsum(np.bincount(trajectory, minlength=len(kept)))[:-1]
    return np.split(starts["frame"].to_numpy(dtype=np.int64), boundaries)


def cut_clips(
    kept: pd.DataFrame,
    clip_length: int = DEFAULT_CLIP_LENGTH,
    clips_per_trajectory: int = DEFAULT_CLIPS_PER_TRAJECTORY,
    seed: int = 0,
    *,
    rows: pd.DataFrame | None = None,
    starts: list[np.ndarray] | None = None,
) -> pd.DataFrame:
    """Cut every kept trajectory into randomly placed clips (see the module docstring).

    Args:
        kept: Kept trajectories, as :func:`kept_trajectories` returns them (dataset, sequence, teacher and
            length are used).
        clip_length: Frames per clip; a trajectory shorter than this gives no clip.
        clips_per_trajectory: Clips drawn per trajectory, independently (they may overlap).
        seed: Non-negative seed; each trajectory's placement depends only on it and the trajectory's names.
        rows: The transfer-set rows ``kept`` came from. When given, clips start only on frames with ground
            truth (``iou`` not NaN), as an episode must; without it every frame counts as annotated.
        starts: Per row of ``kept`` (in its order, sorted by its keys), the frames a clip may start on, as
            :func:`clip_windows` gives them; instead of ``rows``.

    Returns:
        The clips, with the columns of :data:`CLIP_COLUMNS`, sorted by dataset, sequence, teacher, start;
        ``stop - start == clip_length``.

    Raises:
        ValueError: ``clip_length < 2``, ``clips_per_trajectory < 1`` or a negative seed.
    """
    _check_clip_settings(clip_length, clips_per_trajectory, seed)
    if starts is not None:
        if len(starts) != len(kept):
            raise ValueError(f"{len(starts)} lists of clip starts for {len(kept)} kept trajectories")
        candidates = list(starts)
    else:
        kept = kept.sort_values(TRAJECTORY_KEYS).reset_index(drop=True)
        candidates = _start_candidates(kept, clip_length, rows)
    keys = list(kept[TRAJECTORY_KEYS].itertuples(index=False, name=None))
    starts = [
        np.sort(options[_trajectory_rng(seed, *key).integers(len(options), size=clips_per_trajectory)])
        if len(options)
        else np.zeros(0, dtype=np.int64)
        for key, options in zip(keys, candidates, strict=True)
    ]
    counts = np.array([len(s) for s in starts], dtype=np.int64)
    clips = kept.loc[np.repeat(np.arange(len(kept)), counts), TRAJECTORY_KEYS].reset_index(drop=True)
    clips["start"] = np.concatenate([np.zeros(0, dtype=np.int64), *starts]).astype(np.int64)
    clips["stop"] = clips["start"] + clip_length
    return clips[CLIP_COLUMNS]


def table1(
    rows: pd.DataFrame,
    betas: SequenceABC[float] = DEFAULT_BETAS,
    clip_length: int = DEFAULT_CLIP_LENGTH,
    clips_per_trajectory: int = DEFAULT_CLIPS_PER_TRAJECTORY,
    beta_scope: str = "trajectory",
) -> pd.DataFrame:
    """The transfer set's statistics per teacher and β, laid out like the paper's Table 1.

    Args:
        rows: Transfer-set rows (dataset, sequence, teacher, frame, iou).
        betas: The thresholds β, each in ``[0, 1)``.
        clip_length: Frames per clip.
        clips_per_trajectory: Clips per kept trajectory.
        beta_scope: What β judges, one of :data:`BETA_SCOPES`.

    Returns:
        Index ``teacher``: every teacher in ``rows`` (sorted), then ``"all"``. Columns: a MultiIndex
        ``(beta, metric)`` with metrics ``trajectories`` (int), ``videos`` (int), ``AO`` (float, NaN where
        none is kept) and ``clips`` (int). The ``"all"`` row sums the trajectories and clips, counts each
        kept video once and averages the AO over all kept trajectories.

    Raises:
        ValueError: A β outside ``[0, 1)`` or bad clip settings.
    """
    betas = [_check_beta(beta) for beta in betas]
    _check_clip_settings(clip_length, clips_per_trajectory, 0)
    _check_scope(beta_scope)
    teachers = [*sorted(rows["teacher"].unique()), ALL_TEACHERS]
    stats = _trajectory_stats(rows) if beta_scope == "trajectory" else None
    blocks = {}
    for beta in betas:
        # A trajectory kept over clips has a kept window, so it gives all its clips as well.
        kept = _keep(stats, beta) if stats is not None else clip_windows(rows, beta, clip_length)[0]
        # Frame 0 is always a possible start, so a kept trajectory gives all its clips exactly when it is at
        # least clip_length frames long: the counts need no placement drawn.
        kept = kept.assign(
            clips=np.where(kept["length"] >= clip_length, clips_per_trajectory, 0),
            video=pd.MultiIndex.from_frame(kept[["dataset", "sequence"]]).to_numpy(),
        )
        both = pd.concat([kept, kept.assign(teacher=ALL_TEACHERS)], ignore_index=True)
        counts = {"trajectories": 0, "videos": 0, "clips": 0}
        blocks[beta] = (
            both.groupby("teacher")
            .agg(
                trajectories=("ao", "size"),
                videos=("video", "nunique"),
                AO=("ao", "mean"),
                clips=("clips", "sum"),
            )
            .reindex(teachers)
            .fillna(counts)
            .astype({**dict.fromkeys(counts, np.int64), "AO": np.float64})[TABLE1_METRICS]
        )
    table = pd.concat(blocks, axis=1, names=["beta", "metric"]) if blocks else pd.DataFrame(index=teachers)
    table.index.name = "teacher"
    return table


def _teacher_boxes(rows: pd.DataFrame) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """(dataset, sequence) → teacher → ``(N, 4)`` boxes over the whole video, NaN where ``ok`` is False."""
    _check_rows(rows, [*TRAJECTORY_KEYS, "frame", *BOX_COLUMNS, "ok"])
    ordered = rows.sort_values([*TRAJECTORY_KEYS, "frame"])
    ok = ordered["ok"].to_numpy(dtype=bool)
    boxes = np.where(ok[:, None], ordered[BOX_COLUMNS].to_numpy(dtype=np.float64), np.nan)
    by_sequence: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    groups = ordered.groupby(TRAJECTORY_KEYS, sort=False).indices
    for (dataset, sequence, teacher), positions in groups.items():
        by_sequence.setdefault((dataset, sequence), {})[teacher] = boxes[positions]
    return by_sequence


class TransferSetClipSource:
    """A :class:`~tracking_by_trackers.envs.clip_sources.ClipSource` that serves the transfer set's clips as episodes.

    The clips are cut once, at construction (β filtering, then :func:`cut_clips`). :meth:`sample` draws a
    video uniformly among those with a clip, then one of its clips uniformly (the clips of all its kept
    trajectories). So every video weighs the same however many teachers kept it: drawing clips uniformly
    instead would show a video that four teachers kept four times as often as one that a single teacher
    kept, and narrow what the student sees; the paper counts its teacher pool's transfer set in videos
    (Table 1, T_P; docs/method.md, *The transfer set*). A clip carries the boxes of *every* teacher (of
    ``teachers``) that tracked its video, not only the teachers whose trajectories passed β: the
    environment picks the best teacher frame by frame (the paper's eq. 4). A teacher's box is NaN on the
    frames where it failed (``ok`` False), since the stored box there is a stale copy of its last good one.

    Args:
        rows: Transfer-set rows (all the columns of :data:`tracking_by_trackers.teachers.transfer_store.COLUMNS`).
        sequences: The videos the rows refer to (matched on benchmark and name); others are ignored.
        beta: The β of the filtering, in ``[0, 1)``.
        clip_length: Frames per cut clip.
        clips_per_trajectory: Clips cut per kept trajectory.
        seed: The seed of the clip placement.
        teachers: Only these teachers, both for filtering and for the boxes clips carry; ``None``: all.
        beta_scope: What β judges: ``"trajectory"`` (the paper) or ``"clip"`` (module docstring).

    Raises:
        ValueError: Bad settings, an unknown teacher, or no clip at all (nothing passes β, or no kept video
            is ``clip_length`` frames long); the message names β.
        DatasetError: A kept trajectory's video is missing from ``sequences`` or has another length.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        sequences: SequenceABC[Sequence],
        beta: float = DEFAULT_BETA,
        clip_length: int = DEFAULT_CLIP_LENGTH,
        clips_per_trajectory: int = DEFAULT_CLIPS_PER_TRAJECTORY,
        seed: int = 0,
        teachers: Iterable[str] | None = None,
        beta_scope: str = "trajectory",
    ):
        self.beta = _check_beta(beta)
        self.beta_scope = _check_scope(beta_scope)
        _check_clip_settings(clip_length, clips_per_trajectory, seed)
        if rows.empty:
            raise ValueError("the transfer set holds no trajectory; run the teachers first")
        if teachers is not None:
            teachers = [teachers] if isinstance(teachers, str) else list(teachers)
            unknown = sorted(set(teachers) - set(rows["teacher"]))
            if unknown:
                raise ValueError(
                    f"teacher(s) {unknown} have no trajectory in the transfer set; known teachers: "
                    f"{sorted(rows['teacher'].unique())}"
                )
            rows = rows[rows["teacher"].isin(teachers)]
        self.clip_length = clip_length
        if self.beta_scope == "clip":
            self.kept, starts = clip_windows(rows, self.beta, clip_length)
            self.clips = cut_clips(self.kept, clip_length, clips_per_trajectory, seed, starts=starts)
        else:
            self.kept = kept_trajectories(rows, self.beta)
            self.clips = cut_clips(self.kept, clip_length, clips_per_trajectory, seed, rows=rows)
        if self.clips.empty:
            raise ValueError(self._no_clip_message(rows))
        self._sequences = self._match_sequences(sequences)
        used = pd.MultiIndex.from_frame(rows[["dataset", "sequence"]]).isin(list(self._sequences))
        boxes = _teacher_boxes(rows[used])
        self._teacher_boxes = {key: boxes[key] for key in self._sequences}
        self._clip_keys = list(self.clips[["dataset", "sequence"]].itertuples(index=False, name=None))
        self._clip_starts = self.clips["start"].to_numpy(dtype=np.int64)
        self._clip_stops = self.clips["stop"].to_numpy(dtype=np.int64)
        # Per video with a clip, the positions of its clips: sample draws a video, then one of these.
        self._video_clips = list(self.clips.groupby(["dataset", "sequence"], sort=True).indices.values())

    def _no_clip_message(self, rows: pd.DataFrame) -> str:
        num_videos = len(rows[["dataset", "sequence"]].drop_duplicates())
        if self.kept.empty:
            what = "trajectory" if self.beta_scope == "trajectory" else f"{self.clip_length}-frame window"
            return (
                f"no teacher {what} passes beta={self.beta:g} on any of the {num_videos} videos; "
                "use a lower beta, easier data or better teachers"
            )
        count = len(self.kept)
        kept = f"{count} teacher trajectories pass" if count > 1 else "1 teacher trajectory passes"
        return (
            f"{kept} beta={self.beta:g}, but none of their videos (the "
            f"longest has {self.kept['length'].max()} frames) holds a clip of clip_length={self.clip_length} "
            "frames starting on an annotated frame; use shorter clips, a lower beta or longer videos"
        )

    def _match_sequences(self, sequences: SequenceABC[Sequence]) -> dict[tuple[str, str], Sequence]:
        by_name = {(s.benchmark, s.name): s for s in sequences}
        needed = self.kept[["dataset", "sequence", "length"]].drop_duplicates(["dataset", "sequence"])
        matched = {}
        for dataset, name, length in needed.itertuples(index=False, name=None):
            sequence = by_name.get((dataset, name))
            if sequence is None:
                raise DatasetError(
                    f"the transfer set has trajectories on {dataset}/{name} but no such sequence was given "
                    f"(got {len(by_name)} sequences); is it the dataset the teachers ran on?"
                )
            if len(sequence) != length:
                raise DatasetError(
                    f"the transfer set's trajectories on {dataset}/{name} have {length} frames but the "
                    f"sequence has {len(sequence)}; is it the dataset the teachers ran on?"
                )
            matched[(dataset, name)] = sequence
        return matched

    @classmethod
    def from_store(
        cls,
        root: str | os.PathLike,
        beta: float = DEFAULT_BETA,
        clip_length: int = DEFAULT_CLIP_LENGTH,
        clips_per_trajectory: int = DEFAULT_CLIPS_PER_TRAJECTORY,
        seed: int = 0,
        teachers: Iterable[str] | None = None,
        beta_scope: str = "trajectory",
    ) -> TransferSetClipSource:
        """The clip source of the transfer set stored under ``root``, on the dataset its manifest names.

        Raises:
            DatasetError: No manifest under ``root``, or its dataset cannot be read.
            ValueError: As the constructor.
        """
        store = TransferSetStore(root)
        manifest = store.read_manifest()
        rows = store.read_all()
        if rows.empty:
            raise ValueError(f"the transfer set under {store.root} holds no trajectory; run the teachers")
        return cls(
            rows,
            load_dataset(manifest["dataset"]),
            beta=beta,
            clip_length=clip_length,
            clips_per_trajectory=clips_per_trajectory,
            seed=seed,
            teachers=teachers,
            beta_scope=beta_scope,
        )

    def __len__(self) -> int:
        """The number of cut clips."""
        return len(self._clip_starts)

    @property
    def num_videos(self) -> int:
        """The number of videos the clips come from (each drawn with probability 1 / num_videos)."""
        return len(self._video_clips)

    def sample(self, rng: np.random.Generator, length: int) -> Clip:
        """A video drawn uniformly with ``rng``, then one of its cut clips uniformly, shortened to its first
        ``length`` frames.

        A ``length`` above the cut clips' length (a curriculum asking for longer episodes) gets the cut clip
        whole.
        """
        if length < 2:
            raise ValueError(f"clip length must be at least 2, got {length}")
        clips = self._video_clips[int(rng.integers(len(self._video_clips)))]
        index = int(clips[rng.integers(len(clips))])
        key = self._clip_keys[index]
        sequence = self._sequences[key]
        start = int(self._clip_starts[index])
        stop = min(start + length, int(self._clip_stops[index]))
        return Clip(
            name=f"{sequence.benchmark}/{sequence.name}[{start}:{stop}]",
            frames=sequence.frames.slice(start, stop),
            gt_boxes=sequence.gt_boxes[start:stop],
            absent=sequence.absent[start:stop],
            teacher_boxes={name: boxes[start:stop] for name, boxes in self._teacher_boxes[key].items()},
        )


__all__ = [
    "ALL_TEACHERS",
    "BETA_SCOPES",
    "CLIP_COLUMNS",
    "KEPT_COLUMNS",
    "TABLE1_METRICS",
    "TransferSetClipSource",
    "clip_windows",
    "cut_clips",
    "kept_trajectories",
    "table1",
]
