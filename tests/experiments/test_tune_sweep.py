"""`tbt tune` end to end on tiny data: a two-trial sweep with a best config and checkpoint, and a sweep
interrupted mid-way that ``--resume`` finishes from the trials' checkpoints (about 1 minute on 2 cores)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from ray import tune

from experiments.train_config import TrainConfig
from experiments.tune_results import BEST, BEST_CONFIG, BEST_STUDENT, PLOT, RESULTS_CSV, RESULTS_MD
from experiments.tune_sweep import add_tune_arguments, run_sweep, run_tune, settings_from_args
from experiments.validation_callback import VALIDATION_AO
from policies.student_export import load_student

# Tiny and easy: 4 videos of 30 frames for the teachers, 2 of 20 for validation; one learner in each
# trial's driver and no env-runner actor (1 CPU per trial, so the two trials run side by side on 2 cores).
TINY_TRIALS = [
    "--dataset", "synthetic:videos=4,frames=30,difficulty=0.3,seed=1",
    "--validation-dataset", "synthetic:videos=2,frames=20,difficulty=0.3,seed=500",
    "--clip-length", "16", "--train-batch-size", "40", "--validate-every", "1",
    "--num-env-runners", "0", "--num-envs-per-env-runner", "2",
    "--lr", "1e-3", "--beta", "0.3", "--t-max", "5", "--distil-fraction", "0.5",
]  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    return add_tune_arguments(argparse.ArgumentParser(prog="tbt tune")).parse_args(argv)


@pytest.mark.slow
def test_a_two_trial_sweep_ends_with_a_best_config_and_checkpoint(ray_session, tmp_path, capsys):
    out = tmp_path / "tune"
    args = parse(
        [
            *TINY_TRIALS,
            "--curriculum",
            "on",
            "--teacher-pools",
            "kcf,kcf+mosse",
            "--grid",
            "--num-samples",
            "1",
        ]
        + ["--max-iterations", "3", "--grace-period", "1", "--out", str(out)]
    )
    assert run_tune(args) == 0
    printed = capsys.readouterr().out

    table = pd.read_csv(out / RESULTS_CSV)
    assert len(table) == 2
    assert set(table["teachers"]) == {"kcf", "kcf,mosse"}
    assert table["best_validation_ao"].between(0, 1).all()
    # ASHA may stop the trial that is behind at its first rung (iteration 1); the other runs to the end.
    assert table["iterations"].max() == 3 and set(table["status"]) <= {"done", "stopped early"}
    assert (out / RESULTS_MD).read_text().count("\n| ") == 2
    assert (out / PLOT).stat().st_size > 0

    best = json.loads((out / BEST).read_text())
    assert best["validation_ao"] == pytest.approx(table["best_validation_ao"].max())
    assert Path(best["checkpoint"]).is_dir()
    config = TrainConfig(**json.loads((out / BEST_CONFIG).read_text())).validate()  # a `tbt train` config
    assert config.teachers == table.loc[0, "teachers"]
    assert load_student(out / BEST_STUDENT).config.crop_size == 64
    assert f"best checkpoint: {best['checkpoint']}" in printed


class InterruptOnceCheckpointed(tune.Callback):
    """Crashes the sweep's driver (as a killed ``tbt tune`` would stop) once every trial has a checkpoint and
    one is still running; writes which trials were cut off, and at which checkpointed iteration, to
    ``record``. A resumed sweep gets this callback back with its run config: the record makes it inert."""

    def __init__(self, record, max_iterations: int):
        self.record = record
        self.max_iterations = max_iterations

    def on_step_begin(self, iteration, trials, **info):
        if self.record.exists() or not trials or any(trial.checkpoint is None for trial in trials):
            return
        running = [t for t in trials if t.status == "RUNNING"]
        if not running:
            return
        checkpointed = {
            t.trial_id: int(
                t.run_metadata.checkpoint_manager.latest_checkpoint_result.metrics["training_iteration"]
            )
            for t in running
        }
        if all(done >= self.max_iterations for done in checkpointed.values()):
            return
        self.record.write_text(json.dumps(checkpointed))
        raise RuntimeError("sweep interrupted by the test")


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_its_trials_from_their_checkpoints(ray_session, tmp_path, monkeypatch):
    # Tune snapshots its experiment state every 10 s or so; every step here, so that the snapshot the
    # resume reads already names the checkpoints the interruption waited for.
    monkeypatch.setenv("TUNE_GLOBAL_CHECKPOINT_S", "0")
    out, record, max_iterations = tmp_path / "tune", tmp_path / "interrupted.json", 4
    args = parse(
        [*TINY_TRIALS, "--teacher-pools", "kcf", "--curriculum", "on,off", "--grid", "--num-samples", "1"]
        + ["--max-iterations", str(max_iterations), "--grace-period", str(max_iterations), "--out", str(out)]
    )
    settings = settings_from_args(args)
    with pytest.raises(RuntimeError, match="interrupted by the test"):
        run_sweep(settings, out, callbacks=[InterruptOnceCheckpointed(record, max_iterations)])
    interrupted = json.loads(record.read_text())
    assert interrupted, "no trial was running when the sweep was interrupted"

    outcome = run_sweep(settings, out, resume=True)

    results = {result.metrics["trial_id"]: result for result in outcome.grid}
    assert len(results) == 2
    for result in results.values():
        assert result.error is None
        assert result.metrics["training_iteration"] == max_iterations
        assert 0 <= result.metrics[VALIDATION_AO] <= 1 and not math.isnan(result.metrics[VALIDATION_AO])
    for trial_id, checkpointed in interrupted.items():
        history = results[trial_id].metrics_dataframe
        # Each (re)start of the trial reports iterations_since_restore == 1; after the resume it must be at
        # the iteration after its checkpoint, not back at 1.
        starts = history.loc[history["iterations_since_restore"] == 1, "training_iteration"].tolist()
        assert starts == [1, checkpointed + 1], (trial_id, starts)
    assert outcome.best.checkpoint and (out / BEST_STUDENT).is_file()
