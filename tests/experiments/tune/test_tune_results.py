"""Configurations of a sweep ranked by their mean best score over seeds, with its spread (no Ray)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tracking_by_trackers.experiments.tune.tune_results import SCORE_MEAN, SCORE_SPREAD, configurations_table


def test_seeds_of_a_configuration_are_ranked_together_by_their_mean_score():
    trials = pd.DataFrame(
        {
            "trial_id": ["a0", "a1", "b0", "b1", "c0"],
            "lr": [1e-3, 1e-3, 1e-4, 1e-4, 3e-3],
            "seed": [0, 1, 1, 0, 0],
            "best_score": [0.50, 0.30, 0.42, 0.44, 0.45],
            "iterations": [10, 10, 10, 4, 10],
            "status": ["done", "done", "done", "stopped early", "done"],
        }
    )
    table = configurations_table(trials, ["lr"])
    # 1e-3 has the best single trial (0.50) but the lowest mean: (0.50 + 0.30) / 2 = 0.40.
    assert table["lr"].tolist() == [3e-3, 1e-4, 1e-3]
    assert table[SCORE_MEAN].tolist() == pytest.approx([0.45, 0.43, 0.40])
    # Sample standard deviations: |0.42 − 0.44| / √2 and |0.50 − 0.30| / √2; none for one seed.
    assert math.isnan(table.loc[0, SCORE_SPREAD])
    assert table.loc[1:, SCORE_SPREAD].tolist() == pytest.approx([0.02 / math.sqrt(2), 0.2 / math.sqrt(2)])
    assert table["seeds"].tolist() == ["0", "0, 1", "0, 1"]
    assert table.loc[1, "scores"] == "0.440, 0.420"  # in seed order
    assert table["status"].tolist() == ["done", "stopped early", "done"]
    assert table["iterations"].tolist() == [10, 10, 10]


def test_with_nothing_swept_the_seeds_are_one_configuration():
    trials = pd.DataFrame(
        {"trial_id": ["x", "y"], "seed": [0, 1], "best_score": [0.2, 0.4], "iterations": [5, 5]}
    ).assign(status="done")
    (row,) = configurations_table(trials, []).to_dict("records")
    assert row[SCORE_MEAN] == pytest.approx(0.3) and row["seeds"] == "0, 1"
