"""The report stage: the oracle, the scores it reads back, FPS, the hand-over shares, and the files it writes."""

import numpy as np
import pandas as pd
import pytest

from tracking_by_trackers.envs.sequence import DatasetError
from tracking_by_trackers.experiments.evaluation.member_choices import (
    member_share_table,
    member_shares,
    write_choices,
)
from tracking_by_trackers.experiments.evaluation.ope_metrics import POOL_FRAMES, score_sequence
from tracking_by_trackers.experiments.evaluation.report import (
    ORACLE,
    markdown_table,
    oracle_boxes,
    pooled_fps,
    read_timings,
    score_results,
    write_report,
)
from tracking_by_trackers.teachers.one_pass import TrackingResult
from tracking_by_trackers.teachers.results_store import write_result


def test_oracle_takes_the_best_box_of_each_frame():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    a = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [9, 9, 10, 10]], float)
    b = np.array([[3, 0, 10, 10], [1, 0, 10, 10], [np.nan] * 4])
    np.testing.assert_array_equal(oracle_boxes(np.stack([a, b]), gt), [a[0], b[1], a[2]])


def _store(root, sequence, name, boxes):
    write_result(
        root,
        sequence.benchmark,
        name,
        sequence.name,
        TrackingResult(boxes, np.zeros(len(boxes)), np.ones(len(boxes), bool)),
    )


def test_scores_match_the_metric_functions_and_the_oracle_beats_its_members(tmp_path, moving_square):
    gt = moving_square.gt_boxes
    rng = np.random.default_rng(0)
    # Rounded as the result files store them (3 decimals), so scores can be compared exactly.
    noisy_a = np.round(gt + rng.normal(0, 3, gt.shape) * [1, 1, 0, 0], 3)
    noisy_b = gt + rng.normal(0, 3, gt.shape) * [1, 1, 0, 0]
    _store(tmp_path, moving_square, "a", noisy_a)
    _store(tmp_path, moving_square, "b", noisy_b)
    scores = score_results(tmp_path, [moving_square], ["a", "b"], oracle_of=["a", "b"])
    assert scores["a"]["square0"].ao == pytest.approx(score_sequence(noisy_a, gt).ao, abs=1e-12)
    assert scores[ORACLE]["square0"].ao >= max(scores["a"]["square0"].ao, scores["b"]["square0"].ao)

    table = write_report(scores, tmp_path / "report", POOL_FRAMES)
    assert list(table.index[:1]) == [ORACLE]
    for name in ["scores.csv", "scores.md", "per_sequence_ao.csv", "success_plot.png", "precision_plot.png"]:
        assert (tmp_path / "report" / name).stat().st_size > 0
    written = pd.read_csv(tmp_path / "report" / "scores.csv", index_col="tracker")
    assert written.loc["a", "AO"] == pytest.approx(scores["a"]["square0"].ao, abs=1e-6)
    assert (tmp_path / "report" / "success_plot.png").read_bytes()[:4] == b"\x89PNG"


def test_markdown_table_layout():
    table = pd.DataFrame(
        {"AO": [0.5, 0.25], "frames": [10, 20]}, index=pd.Index(["kcf", "csrt"], name="tracker")
    )
    assert markdown_table(table).splitlines() == [
        "| tracker | AO | frames |",
        "|---|---:|---:|",
        "| kcf | 0.500 | 10 |",
        "| csrt | 0.250 | 20 |",
    ]


def test_markdown_table_shows_missing_numbers_as_a_dash_and_honours_column_formats():
    table = pd.DataFrame({"AO": [0.5], "FPS": [float("nan")]}, index=pd.Index(["ECO"], name="tracker"))
    assert markdown_table(table, column_formats={"FPS": "{:.1f}"}).splitlines()[-1] == "| ECO | 0.500 | – |"
    table["FPS"] = [123.456]
    assert (
        markdown_table(table, column_formats={"FPS": "{:.1f}"}).splitlines()[-1] == "| ECO | 0.500 | 123.5 |"
    )


def test_fps_is_tracked_frames_over_update_seconds_and_missing_for_replays(tmp_path, moving_square):
    boxes = moving_square.gt_boxes
    times = np.full(len(boxes), 0.01)
    times[0] = 5.0  # init is left out
    write_result(tmp_path, "test", "a", "square0", TrackingResult(boxes, times, np.ones(len(boxes), bool)))
    write_result(tmp_path, "test", "ECO", "square0", TrackingResult(boxes, times, np.ones(len(boxes), bool)))
    timings = read_timings(tmp_path, [moving_square], ["a", "ECO"], replayed=["ECO"])
    assert timings["a"]["square0"].fps == pytest.approx(100.0)
    assert np.isnan(pooled_fps(timings["ECO"]))
    scores = score_results(tmp_path, [moving_square], ["a", "ECO"])
    table = write_report(scores, tmp_path / "report", POOL_FRAMES, timings=timings)
    assert table.loc["a", "FPS"] == pytest.approx(100.0) and np.isnan(table.loc["ECO", "FPS"])
    per_sequence = pd.read_csv(tmp_path / "report" / "per_sequence_scores.csv", index_col="sequence")
    assert list(per_sequence.columns[:2]) == ["tracker", "AO"] and len(per_sequence) == 2


def test_member_shares_pool_frames_and_leave_frame_zero_out(tmp_path, moving_square):
    frames = len(moving_square)
    choices = ["init"] + ["student"] * 9 + ["csrt"] * (frames - 10)
    write_choices(tmp_path, "test", "trast-csrt", "square0", choices, ["student", "csrt"])
    write_choices(
        tmp_path, "test", "trast-kcf", "square0", ["init"] + ["student"] * (frames - 1), ["student", "kcf"]
    )
    table = member_share_table(tmp_path, [moving_square], ["trast-csrt", "trast-kcf", "kcf"])
    assert list(table.index) == ["trast-csrt", "trast-kcf"], "trackers without choices are no rows"
    assert table.loc["trast-csrt", "tracked frames"] == frames - 1
    assert table.loc["trast-csrt", "handed to teachers"] == pytest.approx((frames - 10) / (frames - 1))
    assert table.loc["trast-kcf", "kcf"] == 0.0, "a member never chosen still shows, at 0 %"
    assert np.isnan(table.loc["trast-kcf", "csrt"])
    assert member_shares([["init", "a", "b", "b"], ["init", "a"]]) == ({"a": 0.5, "b": 0.5}, 4)

    write_result(
        tmp_path,
        "test",
        "trast-csrt",
        "square0",
        TrackingResult(moving_square.gt_boxes, np.zeros(frames), np.ones(frames, bool)),
    )
    scores = score_results(tmp_path, [moving_square], ["trast-csrt"])
    write_report(scores, tmp_path / "report", POOL_FRAMES, member_shares=table)
    assert "| trast-csrt |" in (tmp_path / "report" / "teacher_share.md").read_text()
    assert (tmp_path / "report" / "teacher_share.png").read_bytes()[:4] == b"\x89PNG"

    write_choices(tmp_path, "test", "short", "square0", ["init", "student"], ["student"])
    with pytest.raises(DatasetError, match="names 2 members for the 40 frames"):
        member_share_table(tmp_path, [moving_square], ["short"])
