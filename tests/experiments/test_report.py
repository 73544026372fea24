"""The report stage: the oracle, the scores it reads back, and the files it writes."""

import numpy as np
import pandas as pd
import pytest

from experiments.ope_metrics import POOL_FRAMES, score_sequence
from experiments.report import ORACLE, markdown_table, oracle_boxes, score_results, write_report
from teachers.one_pass import TrackingResult
from teachers.results_store import write_result


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
