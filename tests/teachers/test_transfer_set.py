"""The transfer set on hand-made trajectories: β filtering, clip cutting, Table 1 and the clip source."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO_ROOT, make_moving_square_sequence
from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.envs.sequence import DatasetError
from tracking_by_trackers.envs.tracking_env import TrackingEnv
from tracking_by_trackers.teachers.transfer_set import (
    ALL_TEACHERS,
    CLIP_COLUMNS,
    KEPT_COLUMNS,
    TABLE1_METRICS,
    TransferSetClipSource,
    clip_windows,
    cut_clips,
    kept_trajectories,
    table1,
)
from tracking_by_trackers.teachers.transfer_store import COLUMNS, TransferSetStore

NAN = float("nan")
SYNTHETIC_SPEC = "synthetic:videos=2,frames=48,seed=0"


def trajectory_rows(
    sequence: str,
    teacher: str,
    ious: list[float],
    *,
    dataset: str = "test",
    boxes: np.ndarray | None = None,
    ok: list[bool] | None = None,
) -> pd.DataFrame:
    """The store's rows of one trajectory with the given per-frame IoUs (placeholder boxes unless given)."""
    n = len(ious)
    boxes = np.tile([10.0, 10.0, 20.0, 20.0], (n, 1)) if boxes is None else np.asarray(boxes, float)
    return pd.DataFrame(
        {
            "dataset": dataset,
            "sequence": sequence,
            "frame": np.arange(n, dtype=np.int32),
            "teacher": teacher,
            "x": boxes[:, 0],
            "y": boxes[:, 1],
            "w": boxes[:, 2],
            "h": boxes[:, 3],
            "iou": np.asarray(ious, dtype=np.float64),
            "ok": np.ones(n, bool) if ok is None else np.asarray(ok, bool),
            "time_ms": 1.0,
        },
        columns=COLUMNS,
    )


def concat(*frames: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


def kept_keys(kept: pd.DataFrame) -> list[tuple[str, str]]:
    return list(kept[["sequence", "teacher"]].itertuples(index=False, name=None))


# 3 videos × 2 teachers; s3 is 3 frames long, shorter than the clips of TABLE_CLIP_LENGTH.
TABLE_ROWS = concat(
    trajectory_rows("s1", "A", [1, 0.95, 0.85, 0.75, 0.65, 0.55]),  # min 0.55, AO 0.75
    trajectory_rows("s1", "B", [1, 0.9, 0.9, 0.9, 0.9, 0.9]),  # min 0.9, AO 0.9
    trajectory_rows("s2", "A", [1, 0.8, NAN, 0.8, 0.8, 0.8]),  # min 0.8, AO 0.8, frame 2 unannotated
    trajectory_rows("s2", "B", [1, 0.4, 0.9, 0.9, 0.9, 0.9]),  # min 0.4
    trajectory_rows("s3", "A", [1, 0.7, 0.7]),  # min 0.7, AO 0.7, too short for a clip
)
TABLE_CLIP_LENGTH = 4


# β filtering


def test_an_iou_equal_to_beta_is_not_kept():
    rows = trajectory_rows("s1", "A", [1, 0.6, 0.7, 0.8, 0.9, 0.75])
    assert kept_trajectories(rows, 0.6).empty
    assert len(kept_trajectories(rows, 0.59)) == 1


def test_frames_without_ground_truth_are_ignored_and_frame_0_does_not_count():
    rows = concat(
        trajectory_rows("s1", "A", [1, 0.8, NAN, 0.9, NAN, 0.7]),
        trajectory_rows("s2", "A", [1, NAN, NAN, NAN]),  # nothing evaluated beyond the init frame
        trajectory_rows("s3", "A", [0.0, 0.6, 0.6]),  # a bad stored IoU on frame 0 is not held against it
    )
    kept = kept_trajectories(rows, 0.5)
    assert list(kept.columns) == KEPT_COLUMNS
    assert kept_keys(kept) == [("s1", "A"), ("s3", "A")]
    s1 = kept.iloc[0]
    assert (s1["length"], s1["evaluated"]) == (6, 3)
    assert s1["ao"] == pytest.approx((0.8 + 0.9 + 0.7) / 3)
    assert kept.iloc[1]["ao"] == pytest.approx(0.6)


def test_kept_trajectories_by_hand():
    kept = kept_trajectories(TABLE_ROWS, 0.5)
    assert kept_keys(kept) == [("s1", "A"), ("s1", "B"), ("s2", "A"), ("s3", "A")]
    assert kept["ao"].tolist() == pytest.approx([0.75, 0.9, 0.8, 0.7])
    assert kept["length"].tolist() == [6, 6, 6, 3]
    assert kept_keys(kept_trajectories(TABLE_ROWS, 0.8)) == [("s1", "B")]
    assert kept_trajectories(TABLE_ROWS, 0.9).empty


def test_kept_trajectories_ignore_row_order():
    shuffled = TABLE_ROWS.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(kept_trajectories(shuffled, 0.5), kept_trajectories(TABLE_ROWS, 0.5))


def test_an_empty_store_keeps_nothing():
    kept = kept_trajectories(pd.DataFrame(columns=COLUMNS), 0.5)
    assert kept.empty and list(kept.columns) == KEPT_COLUMNS
    assert cut_clips(kept).empty


@pytest.mark.parametrize("beta", [1.0, 1.5, -0.1, NAN, "0.5", None, True])
def test_bad_beta_is_refused(beta):
    with pytest.raises(ValueError, match=r"beta must be .*\[0, 1\)"):
        kept_trajectories(TABLE_ROWS, beta)


def test_a_frame_given_twice_is_refused():
    with pytest.raises(ValueError, match="frame 1 of teacher A on test/s1 more than once"):
        kept_trajectories(concat(TABLE_ROWS, TABLE_ROWS.iloc[[1]]), 0.5)


# Clip cutting


def kept_of_lengths(lengths: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "dataset": "test",
            "sequence": list(lengths),
            "teacher": "A",
            "length": list(lengths.values()),
            "evaluated": [n - 1 for n in lengths.values()],
            "ao": 0.8,
        }
    )


def test_clips_count_length_and_bounds():
    kept = kept_of_lengths({"long": 100, "exact": 32, "short": 31})
    clips = cut_clips(kept, clip_length=32, clips_per_trajectory=5, seed=0)
    assert list(clips.columns) == CLIP_COLUMNS
    assert clips["sequence"].value_counts().to_dict() == {"exact": 5, "long": 5}
    assert (clips["stop"] - clips["start"] == 32).all()
    lengths = clips["sequence"].map({"long": 100, "exact": 32})
    assert ((clips["start"] >= 0) & (clips["stop"] <= lengths)).all()
    assert (clips.loc[clips["sequence"] == "exact", "start"] == 0).all()
    assert len(cut_clips(kept, clip_length=8, clips_per_trajectory=3)) == 9


def test_clips_are_deterministic_and_independent_of_other_trajectories():
    kept = kept_of_lengths({f"v{i}": 200 + i for i in range(6)})
    clips = cut_clips(kept, seed=7)
    pd.testing.assert_frame_equal(clips, cut_clips(kept.iloc[::-1], seed=7))
    alone = cut_clips(kept.iloc[[2]], seed=7)
    pd.testing.assert_frame_equal(alone, clips[clips["sequence"] == "v2"].reset_index(drop=True))
    assert not clips["start"].equals(cut_clips(kept, seed=8)["start"])
    # Clips are placed independently: over 6 videos × 5 clips, they are not all spread evenly.
    assert clips.groupby("sequence")["start"].nunique().max() > 1


def test_clip_placement_does_not_depend_on_the_python_process():
    script = (
        "from tests.teachers.test_transfer_set import kept_of_lengths\n"
        "from tracking_by_trackers.teachers.transfer_set import cut_clips\n"
        "print(cut_clips(kept_of_lengths({'a': 90, 'b': 120}), seed=3)['start'].tolist())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert outputs == {f"{cut_clips(kept_of_lengths({'a': 90, 'b': 120}), seed=3)['start'].tolist()}\n"}


def test_clips_start_only_on_frames_with_ground_truth():
    # 40 frames, no ground truth on frames 1–8: a 32-frame clip can only start on frame 0.
    rows = trajectory_rows("v", "A", [1.0] + [NAN] * 8 + [0.9] * 31)
    clips = cut_clips(kept_trajectories(rows, 0.5), clip_length=32, rows=rows)
    assert clips["start"].tolist() == [0] * 5
    rows = trajectory_rows("v", "A", [NAN] * 40)  # not even frame 0's IoU was stored
    clips = cut_clips(kept_of_lengths({"v": 40}), clip_length=32, rows=rows)
    assert clips["start"].tolist() == [0] * 5


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"clip_length": 1}, "clip_length"),
        ({"clips_per_trajectory": 0}, "clips_per_trajectory"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_clip_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        cut_clips(kept_of_lengths({"v": 50}), **settings)


# Table 1


def test_table1_by_hand():
    table = table1(TABLE_ROWS, clip_length=TABLE_CLIP_LENGTH, clips_per_trajectory=5)
    assert table.index.tolist() == ["A", "B", ALL_TEACHERS]
    assert table.columns.names == ["beta", "metric"]
    assert table.columns.get_level_values("beta").unique().tolist() == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert table.columns.get_level_values("metric")[:4].tolist() == TABLE1_METRICS
    # teacher → β → (trajectories, videos, AO, clips); s3 is kept but too short for a clip of 4 frames.
    # "all" counts s1, kept by both teachers at β 0.5 and 0.6, as two trajectories but one video.
    expected = {
        "A": {0.5: (3, 3, 0.75, 10), 0.6: (2, 2, 0.75, 5), 0.7: (1, 1, 0.8, 5), 0.8: (0, 0, NAN, 0)},
        "B": {0.5: (1, 1, 0.9, 5), 0.6: (1, 1, 0.9, 5), 0.7: (1, 1, 0.9, 5), 0.8: (1, 1, 0.9, 5)},
        "all": {
            0.5: (4, 3, 0.7875, 15),
            0.6: (3, 3, 0.8, 10),
            0.7: (2, 2, 0.85, 10),
            0.8: (1, 1, 0.9, 5),
            0.9: (0, 0, NAN, 0),
        },
    }
    expected["A"][0.9] = expected["B"][0.9] = expected["all"][0.9]
    for teacher, per_beta in expected.items():
        for beta, (trajectories, videos, ao, clips) in per_beta.items():
            assert table.loc[teacher, (beta, "trajectories")] == trajectories, (teacher, beta)
            assert table.loc[teacher, (beta, "videos")] == videos, (teacher, beta)
            assert table.loc[teacher, (beta, "AO")] == pytest.approx(ao, nan_ok=True), (teacher, beta)
            assert table.loc[teacher, (beta, "clips")] == clips, (teacher, beta)
    assert table[(0.5, "videos")].dtype == np.int64
    assert table[(0.5, "trajectories")].dtype == np.int64 and table[(0.5, "clips")].dtype == np.int64


def test_table1_clips_match_cut_clips():
    table = table1(TABLE_ROWS, betas=[0.6], clip_length=TABLE_CLIP_LENGTH, clips_per_trajectory=3)
    clips = cut_clips(kept_trajectories(TABLE_ROWS, 0.6), TABLE_CLIP_LENGTH, 3, rows=TABLE_ROWS)
    assert table.loc[ALL_TEACHERS, (0.6, "clips")] == len(clips) == 6


def test_table1_refuses_a_bad_beta():
    with pytest.raises(ValueError, match="beta"):
        table1(TABLE_ROWS, betas=[0.5, 1.0])


# The clip source

SQUARES = [make_moving_square_sequence(num_frames=40, seed=seed) for seed in (0, 1)]


def teacher_on(sequence, teacher: str, shift: np.ndarray, failed: np.ndarray | None = None) -> pd.DataFrame:
    """The rows of a teacher whose box is the ground truth moved by ``shift`` (per frame, in pixels)."""
    boxes = sequence.gt_boxes + np.stack([shift, shift, 0 * shift, 0 * shift], axis=1)
    ok = np.ones(len(sequence), bool) if failed is None else ~failed
    overlaps = iou(boxes, sequence.gt_boxes).tolist()
    return trajectory_rows(sequence.name, teacher, overlaps, dataset="test", boxes=boxes, ok=ok.tolist())


def square_rows() -> pd.DataFrame:
    """square0: 'good' passes β = 0.5 and 'bad' (drifting, failing every third frame) does not; square1: only
    'bad'."""
    frames = np.arange(40, dtype=np.float64)
    failed = frames % 3 == 2
    return concat(
        teacher_on(SQUARES[0], "good", np.where(frames > 0, 1.0, 0.0)),
        teacher_on(SQUARES[0], "bad", frames / 2, failed),
        teacher_on(SQUARES[1], "bad", frames / 2, failed),
    )


def test_sample_returns_the_frames_and_every_teachers_boxes():
    rows = square_rows()
    source = TransferSetClipSource(rows, SQUARES, beta=0.5, clip_length=32, clips_per_trajectory=5, seed=0)
    assert len(source) == 5 and set(source.clips["sequence"]) == {"square0"}
    rng = np.random.default_rng(0)
    good = rows[rows["teacher"] == "good"][["x", "y", "w", "h"]].to_numpy()
    bad_rows = rows[(rows["teacher"] == "bad") & (rows["sequence"] == "square0")]
    bad = np.where(bad_rows[["ok"]].to_numpy(), bad_rows[["x", "y", "w", "h"]].to_numpy(), np.nan)
    for _ in range(10):
        clip = source.sample(rng, 32)
        start = int(clip.name.split("[")[1].split(":")[0])
        assert start in set(source.clips["start"]) and clip.name == f"test/square0[{start}:{start + 32}]"
        assert len(clip) == 32
        np.testing.assert_array_equal(clip.frames[5], SQUARES[0].frames[start + 5])
        np.testing.assert_array_equal(clip.gt_boxes, SQUARES[0].gt_boxes[start : start + 32])
        assert set(clip.teacher_boxes) == {"good", "bad"}
        np.testing.assert_array_equal(clip.teacher_boxes["good"], good[start : start + 32])
        np.testing.assert_array_equal(clip.teacher_boxes["bad"], bad[start : start + 32])
        assert np.isnan(clip.teacher_boxes["bad"]).any(axis=1).sum() > 0


def test_sample_shortens_to_the_asked_length_but_never_lengthens():
    source = TransferSetClipSource(square_rows(), SQUARES, clip_length=20, seed=1)
    starts = set(source.clips["start"])
    short = source.sample(np.random.default_rng(0), 6)
    assert len(short) == 6 and all(len(b) == 6 for b in short.teacher_boxes.values())
    assert int(short.name.split("[")[1].split(":")[0]) in starts
    assert len(source.sample(np.random.default_rng(0), 100)) == 20
    with pytest.raises(ValueError, match="at least 2"):
        source.sample(np.random.default_rng(0), 1)


def test_sample_draws_videos_uniformly_however_many_teachers_kept_them():
    # square0 is kept by four teachers, square1 by one: 20 clips against 5, yet each video is drawn half the
    # time. On square0 each teacher is 0-3 pixels off the target, the best one changing from frame to frame.
    frames = np.arange(40)
    rows = concat(
        *(teacher_on(SQUARES[0], f"t{k}", (frames + k) % 4.0) for k in range(4)),
        teacher_on(SQUARES[1], "t0", np.zeros(40)),
    )
    source = TransferSetClipSource(rows, SQUARES, clip_length=8)
    assert len(source.kept) == 5 and len(source) == 25 and source.num_videos == 2
    draws = 4000
    rng = np.random.default_rng(0)
    on_square0 = sum(source.sample(rng, 8).name.startswith("test/square0") for _ in range(draws))
    # Binomial(4000, ½): standard deviation √(4000 · ¼) ≈ 31.6 draws; 5 of them (158) leave a false failure
    # at odds of about 6e-7, while drawing clips uniformly would put 4/5 of the draws (3200) on square0.
    assert abs(on_square0 - draws / 2) < 5 * np.sqrt(draws / 4)

    # The best teacher is still chosen frame by frame, among every teacher of the clip's video.
    env = TrackingEnv(source, clip_length=8, crop_size=16)
    seen = set()
    for seed in range(10):
        _, info = env.reset(seed=seed)
        terminated = False
        while not terminated:
            boxes = info["teacher_boxes"]
            assert set(boxes) in ({"t0", "t1", "t2", "t3"}, {"t0"})
            overlaps = {name: float(iou(box, info["gt_box"])) for name, box in boxes.items()}
            assert info["best_teacher"] == max(overlaps, key=overlaps.get)
            seen.add(info["best_teacher"])
            _, _, terminated, _, info = env.step(info["gt_action"])
    assert seen == {"t0", "t1", "t2", "t3"}


def test_a_teacher_subset_filters_and_restricts_the_boxes():
    source = TransferSetClipSource(square_rows(), SQUARES, teachers=["good"])
    assert set(source.sample(np.random.default_rng(0), 32).teacher_boxes) == {"good"}
    with pytest.raises(ValueError, match=r"\['nope'\] have no trajectory.*known teachers: \['bad', 'good'\]"):
        TransferSetClipSource(square_rows(), SQUARES, teachers=["good", "nope"])


def test_the_env_runs_an_episode_with_teachers():
    source = TransferSetClipSource(square_rows(), SQUARES, clip_length=32)
    env = TrackingEnv(source, clip_length=8, crop_size=16)
    _, info = env.reset(seed=0)
    assert info["has_teacher"] and info["best_teacher"] in {"good", "bad"}
    assert set(info["teacher_boxes"]) == {"good", "bad"}
    steps, terminated = 0, False
    while not terminated:
        _, _, terminated, truncated, info = env.step(np.zeros(4, np.float32))
        assert not truncated
        steps += 1
    assert steps == 7


def test_nothing_passing_beta_is_a_clear_error():
    message = r"no teacher trajectory passes beta=0.9 on any of the 2 videos; use a lower beta"
    with pytest.raises(ValueError, match=message):
        TransferSetClipSource(square_rows(), SQUARES, beta=0.9)
    with pytest.raises(ValueError, match=r"1 teacher trajectory passes beta=0.5, .* clip_length=64"):
        TransferSetClipSource(square_rows(), SQUARES, clip_length=64)
    with pytest.raises(ValueError, match="beta must be"):
        TransferSetClipSource(square_rows(), SQUARES, beta=1.0)


def test_a_missing_or_different_sequence_is_a_clear_error():
    with pytest.raises(DatasetError, match="trajectories on test/square0 but no such sequence"):
        TransferSetClipSource(square_rows(), SQUARES[1:])
    shorter = make_moving_square_sequence(num_frames=39, seed=0)
    with pytest.raises(DatasetError, match="have 40 frames but the sequence has 39"):
        TransferSetClipSource(square_rows(), [shorter, SQUARES[1]])


def test_from_store_regenerates_the_manifests_dataset(tmp_path):
    sequences = load_dataset(SYNTHETIC_SPEC)
    store = TransferSetStore(tmp_path)
    for sequence in sequences:
        present = ~np.isnan(sequence.gt_boxes).any(axis=1) & ~sequence.absent
        # Where the target is absent a teacher still holds a box: the last one it had.
        boxes = pd.DataFrame(np.where(present[:, None], sequence.gt_boxes, np.nan)).ffill().to_numpy()
        overlaps = np.where(present, iou(boxes, sequence.gt_boxes), np.nan)
        drifting = boxes + np.arange(len(sequence))[:, None] * [3.0, 3.0, 0.0, 0.0]
        for teacher, held in [("oracle", boxes), ("drifter", drifting)]:
            overlaps = np.where(present, iou(held, sequence.gt_boxes), np.nan).tolist()
            store.write(trajectory_rows(sequence.name, teacher, overlaps, dataset="synthetic", boxes=held))
    store.write_manifest(SYNTHETIC_SPEC, ["oracle", "drifter"])

    source = TransferSetClipSource.from_store(tmp_path, beta=0.5, clip_length=16, clips_per_trajectory=3)
    assert len(source) == 3 * len(sequences)
    assert set(source.kept["teacher"]) == {"oracle"}
    rng = np.random.default_rng(0)
    for _ in range(10):
        clip = source.sample(rng, 16)
        assert set(clip.teacher_boxes) == {"oracle", "drifter"} and not clip.absent[0]
    message = r"2 teacher trajectories pass beta=0.5, .*longest has 48 .*clip_length=64"
    with pytest.raises(ValueError, match=message):
        TransferSetClipSource.from_store(tmp_path, clip_length=64)


def test_from_store_of_an_empty_store_is_a_clear_error(tmp_path):
    TransferSetStore(tmp_path).write_manifest(SYNTHETIC_SPEC, [])
    with pytest.raises(ValueError, match="holds no trajectory"):
        TransferSetClipSource.from_store(tmp_path)


# --- beta over clip-long windows ------------------------------------------------------------------------

# Frame 0 initialises (ignored); frame 3 fails β = 0.5; frame 8 has no ground truth (neutral).
DIPPING = [1.0, 0.9, 0.9, 0.4, 0.9, 0.9, 0.9, 0.9, NAN, 0.9]


def test_clip_windows_by_hand():
    """Windows of 4 frames [s, s+4), s = 0..6: those holding frame 3 fail, so 'dipping' keeps s = 4, 5, 6,
    which cover frames 4..9 (evaluated: 4, 5, 6, 7, 9; AO 0.9). 'steady' keeps every start, 'edge' none:
    an IoU equal to β fails in every window."""
    rows = concat(
        trajectory_rows("v", "dipping", DIPPING),
        trajectory_rows("v", "steady", [1.0] + [0.8] * 9),
        trajectory_rows("v", "edge", [1.0, 0.9, 0.9, 0.5, 0.9, 0.9, 0.5, 0.9, 0.9, 0.5]),
    )
    kept, starts = clip_windows(rows, beta=0.5, clip_length=4)
    assert list(kept.columns) == KEPT_COLUMNS
    assert kept[["teacher", "length", "evaluated"]].values.tolist() == [["dipping", 10, 5], ["steady", 10, 9]]
    assert kept["ao"].tolist() == pytest.approx([0.9, 0.8])
    assert [s.tolist() for s in starts] == [[4, 5, 6], [0, 1, 2, 3, 4, 5, 6]]
    # Over whole trajectories only 'steady' passes.
    assert kept_trajectories(rows, beta=0.5)["teacher"].tolist() == ["steady"]


def test_clip_windows_start_only_on_annotated_frames_and_need_an_evaluated_frame():
    # Frames 4..7 have no ground truth: windows starting there are refused, and [4, 8) judges nothing.
    rows = trajectory_rows("v", "t", [1.0, 0.9, 0.9, 0.9, NAN, NAN, NAN, NAN, 0.9, 0.9])
    kept, starts = clip_windows(rows, beta=0.5, clip_length=4)
    assert starts[0].tolist() == [0, 1, 2, 3]
    assert clip_windows(trajectory_rows("v", "t", [1.0, 0.9]), beta=0.5, clip_length=4)[0].empty


def test_a_clip_source_over_windows_cuts_clips_inside_the_kept_windows_only():
    sequence = make_moving_square_sequence(num_frames=10)
    rows = trajectory_rows(sequence.name, "dipping", DIPPING, dataset=sequence.benchmark)
    with pytest.raises(ValueError, match="no teacher trajectory passes beta=0.5"):
        TransferSetClipSource(rows, [sequence], beta=0.5, clip_length=4)
    source = TransferSetClipSource(
        rows, [sequence], beta=0.5, clip_length=4, clips_per_trajectory=20, beta_scope="clip"
    )
    assert len(source) == 20 and set(source.clips["start"]) <= {4, 5, 6}
    assert (source.clips["stop"] - source.clips["start"] == 4).all()


def test_table1_over_windows_counts_what_the_clip_source_keeps():
    rows = concat(
        trajectory_rows("v", "dipping", DIPPING), trajectory_rows("w", "dipping", [1.0] + [0.3] * 9)
    )
    table = table1(rows, betas=[0.5], clip_length=4, clips_per_trajectory=5, beta_scope="clip")
    assert table.loc["dipping", (0.5, "trajectories")] == 1 and table.loc["dipping", (0.5, "clips")] == 5
    assert table.loc["dipping", (0.5, "AO")] == pytest.approx(0.9)
    assert table1(rows, betas=[0.5], clip_length=4).loc["dipping", (0.5, "trajectories")] == 0
    with pytest.raises(ValueError, match="beta_scope must be one of trajectory, clip, got 'frame'"):
        table1(rows, betas=[0.5], beta_scope="frame")
