"""`tbt tune` killed by its pid once a trial has finished and another is mid-way: `tbt tune --resume`
finishes the sweep without running the finished trial again (a few minutes on 2 cores).

(``test_tune_sweep.py`` interrupts a sweep from inside, through a Tune callback; here the driver process
is SIGKILLed, as a preempted node or ``kill -9`` stops it.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO_ROOT
from tests.experiments.tune.test_tune_sweep import TINY_TRIALS
from tracking_by_trackers.experiments.train.checkpoint_validation import SCORE
from tracking_by_trackers.experiments.train.train_config import TrainConfig, load_config_file
from tracking_by_trackers.experiments.tune.tune_results import BEST_CONFIG, BEST_STUDENT, TRIALS_CSV
from tracking_by_trackers.experiments.tune.tune_sweep import EXPERIMENT_NAME

MAX_ITERATIONS = 3
# A safety net for a hung sweep, never a pass criterion: the kill waits for trials' results, not for time.
DEADLINE_S = 480
TUNE = [sys.executable, "-m", "tracking_by_trackers.experiments.cli", "tune"]


def _rows(result_json: Path) -> list[dict]:
    """A trial's results as Tune wrote them (one JSON line per iteration; a line being written is left out)."""
    rows = []
    for line in result_json.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def _trial_results(sweep: Path) -> dict[Path, list[dict]]:
    return {path: _rows(path) for path in sweep.glob("*/result.json")}


def _terminated_trials(sweep: Path) -> set[str]:
    """The ids of the trials that Tune's saved experiment state records as finished.

    A trial's last result line is written before Tune saves (and, asynchronously, syncs) the state that says
    it finished; a kill between the two leaves a trial that Tune rightly resumes from its checkpoint. So the
    test kills only once the state on disk says TERMINATED (a state file being written is skipped).
    """
    terminated = set()
    for state_file in sweep.glob("experiment_state-*.json"):
        try:
            trial_data = json.loads(state_file.read_text())["trial_data"]
        except (json.JSONDecodeError, KeyError, OSError):
            continue
        for trial_json, _ in trial_data:
            trial = json.loads(trial_json)
            if trial.get("status") == "TERMINATED":
                terminated.add(trial["trial_id"])
    return terminated


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_rerunning_its_finished_trial(tmp_path):
    out = tmp_path / "tune"
    # Two trials, one at a time: the first finishes while the second waits, then the second starts.
    sweep_flags = [*TINY_TRIALS, "--teacher-pools", "kcf", "--curriculum", "on,off", "--grid"]
    sweep_flags += ["--num-samples", "1", "--max-iterations", str(MAX_ITERATIONS)]
    sweep_flags += ["--grace-period", str(MAX_ITERATIONS), "--max-concurrent-trials", "1"]
    process = subprocess.Popen(
        [*TUNE, *sweep_flags, "--out", str(out), "--num-cpus", "2"],
        cwd=REPO_ROOT,
        start_new_session=True,  # its own process group: the driver and the Ray processes it starts
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sweep = out / EXPERIMENT_NAME
    deadline = time.monotonic() + DEADLINE_S

    def finished_and_running():
        results, terminated = _trial_results(sweep), _terminated_trials(sweep)
        done = [
            path
            for path, rows in results.items()
            if len(rows) == MAX_ITERATIONS and rows[-1]["trial_id"] in terminated
        ]
        running = [path for path, rows in results.items() if 1 <= len(rows) < MAX_ITERATIONS]
        return (done[0], running[0]) if done and running else None

    while (found := finished_and_running()) is None:
        assert process.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no trial finished"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the process group is the driver's own pid
    process.wait()
    finished, cut = found
    finished_text = finished.read_text()
    finished_rows = _rows(finished)
    assert [row["training_iteration"] for row in finished_rows] == list(range(1, MAX_ITERATIONS + 1))
    cut_at = len(_rows(cut))
    assert cut_at < MAX_ITERATIONS

    resumed = subprocess.run(
        [*TUNE, "--resume", "--out", str(out), "--num-cpus", "2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming the sweep in {out.resolve()}" in resumed.stdout
    assert finished.read_text() == finished_text, "the finished trial was run again"
    cut_rows = _rows(cut)
    assert cut_rows[-1]["training_iteration"] == MAX_ITERATIONS, "the cut trial did not finish"

    trials = pd.read_csv(out / TRIALS_CSV).set_index("trial_id")
    assert len(trials) == 2 and (trials["iterations"] == MAX_ITERATIONS).all()
    assert (trials["status"] == "done").all()
    finished_id = finished_rows[-1]["trial_id"]
    assert trials.loc[finished_id, "best_score"] == pytest.approx(max(r[SCORE] for r in finished_rows))
    config = TrainConfig().updated(**load_config_file(out / BEST_CONFIG)).validate()
    assert config.teachers == "kcf" and (out / BEST_STUDENT).is_file()
