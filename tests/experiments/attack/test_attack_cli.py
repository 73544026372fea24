"""``tbt attack`` writes its table, plot and per-sequence results, resumes without redoing finished units,
and refuses settings that would mix two experiments in one folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tracking_by_trackers.experiments.attack.patch_attack import PatchAttack
from tracking_by_trackers.experiments.cli import main

DATASET = "synthetic:videos=2,frames=8,difficulty=0.5,seed=1"


def _attack(student, out, *extra):
    return main(
        ["attack", "--student", str(student), "--dataset", DATASET, "--trackers", "tras,trast:kcf",
         "--deltas", "0.1", "--padding", "2", "--out", str(out), *extra]
    )  # fmt: skip


@pytest.fixture
def gradient_calls(monkeypatch):
    """Counts the attack's gradient evaluations (one per attack step)."""
    calls = []
    original = PatchAttack.loss_and_gradient

    def counting(self, patch):
        calls.append(1)
        return original(self, patch)

    monkeypatch.setattr(PatchAttack, "loss_and_gradient", counting)
    return calls


def test_the_attack_writes_its_table_and_resumes_without_redoing_finished_units(
    square_tracker_file, tmp_path, gradient_calls
):
    out = tmp_path / "attack"
    assert _attack(square_tracker_file, out, "--steps", "0,1,2", "--max-sequences", "1") == 0
    table = pd.read_csv(out / "attack_table.csv")
    assert list(table.columns) == ["delta", "steps", "tras", "trast-kcf", "sequences"]
    assert table["steps"].tolist() == [0, 1, 2] and (table["sequences"] == 1).all()
    assert table[["tras", "trast-kcf"]].apply(lambda column: column.between(0, 1)).all().all()
    markdown = (out / "attack_table.md").read_text()
    assert "| 0 (clean) | – |" in markdown and "| 2 | 0.1 |" in markdown
    assert (out / "attack_plot.png").stat().st_size > 0
    per_sequence = pd.read_csv(out / "attack_per_sequence.csv")
    assert len(per_sequence) == 3 * 2  # (steps) × (trackers), one sequence
    assert len(gradient_calls) == 2
    units = sorted(out.glob("units/**/steps=*.json"))
    written = {path: path.stat().st_mtime_ns for path in units}

    # Resumed with one more step count and one more sequence: the finished units stay as they are, the
    # first sequence's attack climbs on from its stored 2-step patch (one step), the second starts anew.
    assert _attack(square_tracker_file, out, "--steps", "0,1,2,3") == 0
    assert {path: path.stat().st_mtime_ns for path in units} == written
    assert len(gradient_calls) == 2 + 1 + 3
    unit = json.loads(next(out.glob("units/**/delta=0.1/steps=3.json")).read_text())
    assert set(unit["mean_iou"]) == {"tras", "trast-kcf"} and unit["frames"] == 8
    assert (pd.read_csv(out / "attack_table.csv")["sequences"] == 2).all()


def test_a_run_with_other_settings_in_the_same_folder_is_refused(square_tracker_file, tmp_path, capsys):
    out = tmp_path / "attack"
    assert _attack(square_tracker_file, out, "--steps", "0", "--max-sequences", "1") == 0
    capsys.readouterr()
    assert _attack(square_tracker_file, out, "--steps", "0", "--padding", "9") == 2
    error = capsys.readouterr().err
    assert "attack.json holds an attack run with other settings (padding: stored 2.0, now 9.0)" in error


def test_shards_sharing_a_folder_split_the_sequences_and_a_plain_run_then_only_writes_the_report(
    square_tracker_file, tmp_path, gradient_calls
):
    out = tmp_path / "attack"
    assert _attack(square_tracker_file, out, "--steps", "0,1", "--shard", "1/2") == 0
    assert [path.parent.parent.name for path in out.glob("units/**/steps=1.json")] == ["synthetic_1_0001"]
    assert (pd.read_csv(out / "attack_table.csv")["sequences"] == 1).all()
    assert _attack(square_tracker_file, out, "--steps", "0,1", "--shard", "0/2") == 0
    assert len(gradient_calls) == 2  # one step on each sequence, each attacked by one shard
    assert _attack(square_tracker_file, out, "--steps", "0,1") == 0
    assert len(gradient_calls) == 2
    assert (pd.read_csv(out / "attack_table.csv")["sequences"] == 2).all()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0,ten"], "--steps must be comma-separated whole numbers"),
        (["--deltas", "0,0.1"], "--deltas must be step sizes in (0, 1]"),
        (["--trackers", "tras,trast:results:ECO"], "stored results were tracked on the clean frames"),
        (["--shard", "2/2"], "--shard must be K/N with 0 <= K < N, such as 0/2 and 1/2, got '2/2'"),
        (["--shard", "half"], "--shard must be K/N with 0 <= K < N"),
        (["--torch-threads", "0"], "--torch-threads must be at least 1, got 0"),
    ],
)
def test_bad_arguments_get_a_one_line_error(square_tracker_file, tmp_path, capsys, extra, message):
    assert _attack(square_tracker_file, tmp_path / "attack", *extra) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
