"""Training faults (docs/rllib.md, *Faults*): an env runner, the driver and a learner actor killed by their
own pids in a real ``tbt train`` run, then checked; and the checkpoints' atomic writes and manifests.

Each slow test runs ``tbt train`` as its own process on tiny synthetic data (:data:`TINY`), reads its
progress lines as they come (the run prints the pid of every env runner and learner), and kills a process
with SIGKILL at a chosen point.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tracking_by_trackers.experiments.train.checkpoint_files import (
    MANIFEST,
    PAUSE_ENV,
    checkpoint_problem,
    write_checkpoint_atomically,
)
from tracking_by_trackers.experiments.train.student_training import (
    CHECKPOINT_STATE,
    TrainingState,
    _CurveWriter,
    _start_validation_file,
    resume_point,
)

TINY = [
    "--quick",
    "--dataset", "synthetic:videos=4,frames=30,difficulty=0.3,seed=1",
    "--validation-dataset", "synthetic:videos=1,frames=20,difficulty=0.3,seed=500",
    "--test-dataset", "synthetic:videos=1,frames=20,difficulty=0.3,seed=1000",
    "--teachers", "kcf",
    "--checkpoint-metric", "tras",
    "--num-envs-per-env-runner", "1",
    "--train-batch-size", "40",
    "--train-minutes", "10",
    "--validate-every", "2",
    # Every episode is won, so the curriculum grows within the first iterations (4 -> 8 -> 16 frames) and a
    # student that kept its curriculum is told apart from a fresh one.
    "--curriculum-schedule", "window", "2", "tolerance", "5",
]  # fmt: skip
RUNNER_LINE = re.compile(r"env runner (\d+): pid (\d+) on node \w+, role (\S+), curriculum lengths (\S+)")
RESTART_LINE = re.compile(
    r"env runner (\d+) restarted: pid (\d+) on node \w+, role (\S+), curriculum lengths ([^,]+), "
    r"students from the checkpoint of iteration (\d+)"
)
LEARNER_LINE = re.compile(r"learner 0: pid (\d+) on node \w+")
ITERATION_LINE = re.compile(r"^iter +(\d+) \|")


class TrainProcess:
    """``tbt train`` in its own process group, its stdout read line by line."""

    def __init__(self, args: list[str], cwd: Path, env: dict | None = None):
        self.stderr_path = cwd / f"stderr-{time.monotonic_ns()}.txt"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tracking_by_trackers.experiments.cli", "train", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []

    def read_until(self, predicate, timeout_s: float = 240.0) -> re.Match | str | None:
        """Read lines until ``predicate(line)`` is truthy (returned) or the process ends (None)."""
        deadline = time.monotonic() + timeout_s
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            found = predicate(self.lines[-1])
            if found:
                return found
            assert time.monotonic() < deadline, "\n".join(self.lines[-30:])
        return None

    def finish(self, timeout_s: float = 240.0) -> int:
        self.read_until(lambda line: False, timeout_s)
        code = self.process.wait(timeout_s)
        self._stderr.close()
        return code

    def kill(self) -> None:
        """SIGKILL the driver by its pid, then wait for the private Ray instance it started (its raylet,
        GCS and workers) to go too, killing by pid what outlives it, so that a resumed run does not share
        the machine with it."""
        from tracking_by_trackers.cluster.local_cluster import alive, descendants

        tree = descendants(self.process.pid)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(60)
        self._stderr.close()
        deadline = time.monotonic() + 30
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in alive(tree):
            os.kill(pid, signal.SIGKILL)

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def output(self) -> str:
        return "\n".join(self.lines) + "\n" + self.stderr()


def _iteration(line: str) -> int | None:
    match = ITERATION_LINE.match(line)
    return int(match.group(1)) if match else None


def _stored_curricula(checkpoint: Path) -> dict[int, list[int]]:
    """The curriculum lengths of every runner's students stored in a checkpoint (KDRL's own state)."""
    with (checkpoint / "algorithm_state.pkl").open("rb") as handle:
        stored = pickle.load(handle)["kdrl_students"]["runners"]
    return {index: [s["curriculum"]["length"] for s in states] for index, states in stored.items()}


# ---------------------------------------------------------------------------------------------------------
# Checkpoint files (fast).


def _fake_checkpoint(path: Path, iteration: int, best: int) -> Path:
    def write(folder: Path) -> None:
        (folder / "learner_group").mkdir(parents=True)
        (folder / "learner_group" / "state.pkl").write_bytes(os.urandom(4096))
        (folder / "rllib_checkpoint.json").write_text("{}")
        TrainingState(
            iteration=iteration,
            best_iteration=best,
            best_ao=0.1 * best,
            latest_checkpoint=str(path),
            best_checkpoint=str(path.parent / f"iter_{best:06d}"),
        ).write(folder / CHECKPOINT_STATE)

    return write_checkpoint_atomically(path, write)


def test_a_checkpoint_is_sealed_with_a_manifest_and_a_damaged_one_is_named(tmp_path):
    path = _fake_checkpoint(tmp_path / "iter_000002", iteration=2, best=2)
    assert checkpoint_problem(path) is None
    files = json.loads((path / MANIFEST).read_text())["files"]
    assert set(files) == {"learner_group/state.pkl", "rllib_checkpoint.json", CHECKPOINT_STATE}
    assert files["learner_group/state.pkl"]["bytes"] == 4096
    assert not list(tmp_path.glob(".*"))  # the temporary folder was renamed, not copied
    state = path / "learner_group" / "state.pkl"
    state.write_bytes(state.read_bytes()[:1000])
    assert checkpoint_problem(path) == (
        "learner_group/state.pkl has 1000 bytes, its manifest says 4096 (truncated)"
    )
    state.write_bytes(b"x" * 4096)
    assert (
        checkpoint_problem(path)
        == "learner_group/state.pkl does not match its manifest's SHA-256 (corrupted)"
    )
    state.unlink()
    assert checkpoint_problem(path) == "learner_group/state.pkl is missing"
    (path / MANIFEST).unlink()
    assert checkpoint_problem(path) == f"it has no {MANIFEST} (its write did not finish)"


def test_a_write_that_fails_leaves_no_checkpoint_folder(tmp_path):
    def write(folder: Path) -> None:
        (folder / "half").mkdir(parents=True)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_checkpoint_atomically(tmp_path / "iter_000004", write)
    assert not (tmp_path / "iter_000004").exists()


def test_a_truncated_latest_checkpoint_is_skipped_for_the_previous_one_with_a_logged_line(tmp_path, caplog):
    checkpoints = tmp_path / "checkpoints"
    best = _fake_checkpoint(checkpoints / "iter_000002", iteration=2, best=2)
    latest = _fake_checkpoint(checkpoints / "iter_000004", iteration=4, best=2)
    (checkpoints / ".iter_000006.tmp").mkdir()  # a write a kill cut short
    state = TrainingState.read(latest / CHECKPOINT_STATE)
    with caplog.at_level("WARNING"):
        assert resume_point(state, checkpoints) == state
    assert not (checkpoints / ".iter_000006.tmp").exists()
    assert [r.getMessage() for r in caplog.records] == [
        f"removed {checkpoints / '.iter_000006.tmp'}, a checkpoint whose write a stopped run did not finish"
    ]
    caplog.clear()
    learner = latest / "learner_group" / "state.pkl"
    learner.write_bytes(learner.read_bytes()[:10])
    with caplog.at_level("WARNING"):
        resumed = resume_point(state, checkpoints)
    assert resumed == TrainingState.read(best / CHECKPOINT_STATE)
    assert (resumed.iteration, resumed.latest_checkpoint) == (2, str(best))
    assert [r.getMessage() for r in caplog.records] == [
        f"skipping checkpoint {latest}: learner_group/state.pkl has 10 bytes, its manifest says 4096 "
        f"(truncated); resuming from {best} (iteration 2) instead"
    ]
    caplog.clear()
    best.joinpath(MANIFEST).unlink()
    with caplog.at_level("WARNING"):
        assert resume_point(state, checkpoints) == TrainingState()
    assert "no other complete checkpoint, training starts afresh" in caplog.records[-1].getMessage()


def test_a_resume_drops_the_rows_past_its_checkpoint_and_a_row_cut_short(tmp_path):
    from tracking_by_trackers.policies.kdrl.kdrl_metrics import SUMMARY_KEYS

    curves = tmp_path / "curves.csv"
    rows = [",".join(str(i) if key == "iteration" else "0.5" for key in SUMMARY_KEYS) for i in (1, 2, 3)]
    curves.write_text(",".join(SUMMARY_KEYS) + "\n" + "\n".join(rows) + "\n" + "4,10")  # a kill mid-append
    _CurveWriter(curves, keep_until=2)
    table = pd.read_csv(curves)
    assert table["iteration"].tolist() == [1, 2] and (table["mean_iou"] == 0.5).all()
    validation = tmp_path / "validation.csv"
    _start_validation_file(validation)
    with validation.open("a") as handle:
        handle.write("2,0.4,nan,nan,0.4,1.0\n4,0.5,nan,nan,0.5,2.0\n")
    _start_validation_file(validation, keep_until=2)
    assert pd.read_csv(validation)["iteration"].tolist() == [2]


# ---------------------------------------------------------------------------------------------------------
# Real processes killed (slow).


@pytest.mark.slow
def test_a_killed_env_runner_comes_back_with_its_role_and_curriculum_and_the_run_finishes(tmp_path):
    run = TrainProcess([*TINY, "--num-env-runners", "2", "--iterations", "8", "--out", "run"], tmp_path)
    runners = {}
    while len(runners) < 2:
        match = run.read_until(RUNNER_LINE.match)
        assert match, run.output()
        runners[int(match.group(1))] = (int(match.group(2)), match.group(3))
    # Two runners: the first distils, the second is autonomous, for every episode.
    assert {index: role for index, (_, role) in runners.items()} == {1: "distil", 2: "autonomous"}
    assert run.read_until(lambda line: _iteration(line) == 3), run.output()
    os.kill(runners[2][0], signal.SIGKILL)
    restart = run.read_until(RESTART_LINE.match)
    assert restart, run.output()
    index, pid, role, lengths, from_iteration = restart.groups()
    assert (int(index), role) == (2, "autonomous") and int(pid) != runners[2][0]
    stored = _stored_curricula(
        tmp_path / "run" / "training" / "checkpoints" / f"iter_{int(from_iteration):06d}"
    )
    assert [int(n) for n in lengths.split(",")] == stored[2] and stored[2] != [4], stored
    assert run.finish() == 0, run.output()
    curves = pd.read_csv(tmp_path / "run" / "training" / "curves.csv")
    assert curves["iteration"].tolist() == list(range(1, 9))
    # RLlib's fault-tolerance stats: no restart before the kill, one after, and both runners healthy again.
    assert curves["env_runner_restarts"].iloc[0] == 0 and curves["env_runner_restarts"].iloc[-1] == 1
    assert curves["healthy_env_runners"].iloc[-1] == 2
    assert (tmp_path / "run" / "report" / "summary.md").is_file()


def _state(run_folder: Path) -> dict:
    return json.loads((run_folder / "training" / "state.json").read_text())


def _snapshot(run_folder: Path, upto: int) -> dict[str, object]:
    """What a finished part of a run wrote: its curve rows and validation rows up to ``upto``, the
    transfer set's files."""
    curves = pd.read_csv(run_folder / "training" / "curves.csv")
    validation = pd.read_csv(run_folder / "training" / "validation.csv")
    store = sorted(
        (str(p.relative_to(run_folder)), p.read_bytes())
        for p in (run_folder / "transfer_set").rglob("*")
        if p.is_file()
    )
    return {
        "curves": curves[curves["iteration"] <= upto],
        "validation": validation[validation["iteration"] <= upto],
        "transfer_set": store,
    }


def _assert_carried_on(before: dict, after: dict) -> None:
    pd.testing.assert_frame_equal(before["curves"], after["curves"])
    pd.testing.assert_frame_equal(before["validation"], after["validation"])
    assert before["transfer_set"] == after["transfer_set"]


@pytest.mark.slow
def test_a_driver_killed_during_a_checkpoint_write_and_at_a_random_point_resumes_from_its_checkpoint(
    tmp_path,
):
    out = tmp_path / "run"
    args = [*TINY, "--iterations", "6", "--final-lr-fraction", "0.1", "--out", "run"]
    # 1. Killed while the checkpoint of iteration 4 is being written (the hook holds the write open).
    run = TrainProcess(args, tmp_path, env={PAUSE_ENV: "iter_000004:60"})
    assert run.read_until(lambda line: line.startswith("validation at iteration 4")), run.output()
    partial = out / "training" / "checkpoints" / ".iter_000004.tmp"
    deadline = time.monotonic() + 60
    while not (partial / CHECKPOINT_STATE).is_file():  # the write is in the hook's pause
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run.kill()
    assert partial.is_dir() and not (out / "training" / "checkpoints" / "iter_000004").exists()
    assert _state(out)["iteration"] == 2
    before = _snapshot(out, upto=2)

    # 2. Resumed, and killed again at a random point of the iterations after the checkpoint of 2. The last
    # checkpoint's write is held open, so that on a fast machine the random point cannot fall after the run
    # has finished (which would leave the checkpoint of 6, not of 2 or 4).
    resumed = TrainProcess([*args, "--resume"], tmp_path, env={PAUSE_ENV: "iter_000006:60"})
    assert resumed.read_until(lambda line: line.startswith("resuming training from iteration 2")), (
        resumed.output()
    )
    stop_at = random.Random().randint(3, 5)
    assert resumed.read_until(lambda line: _iteration(line) == stop_at), resumed.output()
    time.sleep(random.Random().uniform(0.0, 2.0))
    resumed.kill()
    assert "removed" in resumed.stderr() and ".iter_000004.tmp" in resumed.stderr()
    state = _state(out)
    assert state["iteration"] in (2, 4)
    _assert_carried_on(before, _snapshot(out, upto=2))
    before = _snapshot(out, upto=state["iteration"])

    # 3. Resumed to the end: every iteration once, the learning rate on one cosine, the history kept, and
    # the student goes on with the curriculum stored in the checkpoint it resumes from (grown past 4).
    stored = _stored_curricula(Path(state["latest_checkpoint"]))
    assert stored[1] != [4], stored
    final = TrainProcess([*args, "--resume"], tmp_path)
    runner = final.read_until(RUNNER_LINE.match)
    assert runner and [int(n) for n in runner.group(4).split(",")] == stored[1], (stored, final.output())
    assert final.finish() == 0, final.output()
    assert f"resuming training from iteration {state['iteration']}" in final.output()
    after = _snapshot(out, upto=6)
    _assert_carried_on(before, _snapshot(out, upto=state["iteration"]))
    curves = after["curves"]
    assert curves["iteration"].tolist() == [1, 2, 3, 4, 5, 6]
    # The schedule: lr anneals monotonically over the 6 iterations, whatever the kills (the cosine's
    # position is the algorithm's restored iteration count, not the process's).
    lrs = curves["lr"].tolist()
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0], lrs
    assert after["validation"]["iteration"].tolist() == [2, 4, 6]
    assert _state(out)["iteration"] == 6
    assert checkpoint_problem(Path(_state(out)["latest_checkpoint"])) is None
    assert (out / "report" / "summary.md").is_file()


@pytest.mark.slow
def test_a_dead_learner_actor_stops_the_run_with_one_line_and_resume_finishes_it(tmp_path):
    args = [*TINY, "--num-learners", "1", "--iterations", "4", "--out", "run"]
    run = TrainProcess(args, tmp_path)
    learner = run.read_until(LEARNER_LINE.match)
    assert learner, run.output()
    assert run.read_until(lambda line: line.startswith("validation at iteration 2")), run.output()
    os.kill(int(learner.group(1)), signal.SIGKILL)
    assert run.finish() == 1, run.output()
    errors = [line for line in run.stderr().splitlines() if line.startswith("tbt: error:")]
    checkpoint = tmp_path / "run" / "training" / "checkpoints" / "iter_000002"
    assert len(errors) == 1, run.stderr()
    assert re.fullmatch(
        r"tbt: error: a learner actor died during iteration [34] \(\w+: .*\); RLlib does not restart learners, so "
        rf"training stopped: resume from {re.escape(str(checkpoint))} \(iteration 2\) with "
        rf"`tbt train --resume --out {re.escape(str(tmp_path / 'run'))}`",
        errors[0],
    ), errors[0]
    assert "Traceback" not in run.stderr()
    resumed = TrainProcess([*args, "--resume"], tmp_path)
    assert resumed.finish() == 0, resumed.output()
    assert "resuming training from iteration 2" in resumed.output()
    curves = pd.read_csv(tmp_path / "run" / "training" / "curves.csv")
    assert curves["iteration"].tolist() == [1, 2, 3, 4]
