"""`tbt tune` end to end on tiny data: a sweep of two configurations over two seeds in a ``file://``
storage URI, ranked by their mean score, with a best config that ``tbt train --config`` takes as it is;
and a sweep interrupted mid-way that ``--resume`` finishes from the trials' checkpoints (a few minutes on
2 cores)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ray import tune

from tracking_by_trackers.experiments.train.checkpoint_validation import SCORE
from tracking_by_trackers.experiments.train.train_config import TrainConfig, load_config_file
from tracking_by_trackers.experiments.tune.tune_results import (
    BEST,
    BEST_CONFIG,
    BEST_STUDENT,
    PLOT,
    RESULTS_CSV,
    RESULTS_MD,
    TRIALS_CSV,
)
from tracking_by_trackers.experiments.tune.tune_sweep import (
    add_tune_arguments,
    run_sweep,
    run_tune,
    settings_from_args,
)
from tracking_by_trackers.policies.student_export import load_student

# Tiny and easy: 4 videos of 30 frames for the teachers, 2 of 20 for validation; one learner in each
# trial's driver and no env-runner actor (1 CPU per trial, so two trials run side by side on 2 cores).
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
def test_configurations_over_seeds_rank_by_their_mean_and_the_best_config_trains_as_it_is(
    ray_session, tmp_path, capsys
):
    out, store = tmp_path / "tune", tmp_path / "store"
    args = parse(
        [*TINY_TRIALS, "--teacher-pools", "kcf+mosse", "--curriculum", "on,off", "--grid"]
        + ["--seeds", "2", "--num-samples", "1", "--max-iterations", "3", "--grace-period", "3"]
        + ["--out", str(out), "--storage-path", f"file://{store}"]
    )
    assert run_tune(args) == 0
    printed = capsys.readouterr().out

    trials = pd.read_csv(out / TRIALS_CSV)
    assert len(trials) == 4 and sorted(trials["seed"]) == [0, 0, 1, 1]
    assert (trials["iterations"] == 3).all() and trials["best_score"].between(0, 1).all()
    table = pd.read_csv(out / RESULTS_CSV)
    assert len(table) == 2 and set(table["curriculum"]) == {True, False}
    for _, row in table.iterrows():
        seeds = trials[trials["curriculum"] == row["curriculum"]].sort_values("seed")
        assert row["seeds"] == "0, 1"
        assert row["score_mean"] == pytest.approx(seeds["best_score"].mean())
        assert row["score_std"] == pytest.approx(np.std(seeds["best_score"], ddof=1))
    assert table["score_mean"].is_monotonic_decreasing
    assert (out / RESULTS_MD).read_text().count("\n| ") == 2
    assert (out / PLOT).stat().st_size > 0

    # Tune kept the experiment, its TensorBoard files and the checkpoints in the storage URI.
    assert list((store / "sweep").glob("*/events.out.tfevents.*"))
    best = json.loads((out / BEST).read_text())
    assert best["score_mean"] == pytest.approx(table.loc[0, "score_mean"])
    assert best["settings"] == {"curriculum": bool(table.loc[0, "curriculum"])}
    assert Path(best["checkpoint"]).is_dir() and Path(best["checkpoint"]).is_relative_to(store)
    assert load_student(out / BEST_STUDENT).config.crop_size == 64
    assert f"best checkpoint: {best['checkpoint']}" in printed

    # best_config.json is what `tbt train --config` loads (defaults < file), unchanged by validation: the
    # best settings on the sweep's base, with tbt train's budget and cadence, not the trials' 3 and 1.
    config = TrainConfig().updated(**load_config_file(out / BEST_CONFIG)).validate()
    assert config.curriculum == best["settings"]["curriculum"]
    assert (config.teachers, config.dataset, config.clip_length) == (
        "kcf,mosse",
        "synthetic:videos=4,frames=30,difficulty=0.3,seed=1",
        16,
    )
    assert (config.iterations, config.validate_every, config.train_minutes, config.seed) == (
        TrainConfig().iterations,
        TrainConfig().validate_every,
        TrainConfig().train_minutes,
        0,
    )


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
        assert 0 <= result.metrics[SCORE] <= 1 and not math.isnan(result.metrics[SCORE])
    for trial_id, checkpointed in interrupted.items():
        # Restored from its checkpoint, not restarted: the iterations since the restore are those after it.
        # (Tune's own result files of a resumed trial are not compared: when the storage is local, Tune
        # copies them onto themselves at the restore, and rows from before it were lost in some runs.)
        metrics = results[trial_id].metrics
        assert metrics["iterations_since_restore"] == max_iterations - checkpointed, (trial_id, checkpointed)
    assert outcome.best.checkpoint and (out / BEST_STUDENT).is_file()
