"""The seed table: pooled AO and mean AUC per run, their mean and spread, against hand computation."""

from __future__ import annotations

import pandas as pd
import pytest

from tracking_by_trackers.experiments.analysis.seed_table import main, per_run_scores, seed_table


def _run(folder, rows):
    (folder / "report").mkdir(parents=True)
    pd.DataFrame(rows, columns=["sequence", "tracker", "AO", "success AUC", "frames"]).to_csv(
        folder / "report" / "per_sequence_scores.csv", index=False
    )
    return folder


@pytest.fixture
def runs(tmp_path):
    # Run a: tras on a 100-frame sequence at AO 0.6 (AUC 0.5) and a 300-frame one at 0.2 (AUC 0.3).
    a = _run(
        tmp_path / "a",
        [("s1", "tras", 0.6, 0.5, 100), ("s2", "tras", 0.2, 0.3, 300), ("s1", "csrt", 0.5, 0.5, 100)],
    )
    b = _run(tmp_path / "b", [("s1", "tras", 0.4, 0.3, 100), ("s2", "tras", 0.4, 0.5, 300)])
    return a, b


def test_pooled_ao_weights_sequences_by_frames_and_auc_is_a_plain_mean(runs):
    scores = per_run_scores(runs[0])
    # Pooled: (0.6·100 + 0.2·300) / 400 = 0.3; mean AUC: (0.5 + 0.3) / 2 = 0.4.
    assert scores.loc["tras", "pooled_ao"] == pytest.approx(0.3)
    assert scores.loc["tras", "mean_auc"] == pytest.approx(0.4)
    assert scores.loc["tras", "sequences"] == 2


def test_mean_and_sample_spread_over_runs(runs):
    table = seed_table(list(runs))
    # tras: pooled AO 0.3 and 0.4 → mean 0.35, sd |0.3 − 0.4| / √2; AUC 0.4 and 0.4 → sd 0.
    assert table.loc["tras", ("pooled_ao", "mean")] == pytest.approx(0.35)
    assert table.loc["tras", ("pooled_ao", "sd")] == pytest.approx(0.1 / 2**0.5)
    assert table.loc["tras", ("mean_auc", "sd")] == pytest.approx(0.0)
    assert pd.isna(table.loc["csrt", ("pooled_ao", "b")])  # a tracker run b lacks
    assert table.index.tolist() == ["csrt", "tras"]  # best mean pooled AO first


def test_the_markdown_table_and_a_missing_report_is_named(runs, tmp_path, capsys):
    text = main([str(runs[0]), str(runs[1])])
    assert "| tras | 0.300 | 0.400 | 0.350 ± 0.071 | 0.400 | 0.400 | 0.400 ± 0.000 |" in text
    with pytest.raises(FileNotFoundError, match="no per_sequence_scores.csv in .*empty/report"):
        main([str(tmp_path / "empty")])
