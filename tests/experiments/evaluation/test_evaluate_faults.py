"""A killed evaluation resumes without retracking finished (tracker, sequence) pairs, and never takes a
half-written result for a finished one.

The kill tests run ``tbt evaluate`` as a subprocess and SIGKILL it by its pid (its process group, for the
Ray backend's processes) once some results are stored; the rerun must leave those untouched, say how
many it resumed from, and end with exactly the results of a clean run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT, make_moving_square_sequence
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.evaluation.evaluate import evaluate_trackers
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.registry import tracker_factory
from tracking_by_trackers.teachers.results_store import result_file, times_file, write_result

SLOW = "tests.experiments.evaluation.slow_tracker:SlowTracker"
DATASET = "synthetic:videos=4,frames=30,seed=2"
TRACKERS = ("SlowTracker", "mosse")
# A safety net for a hung run, never a pass criterion: the kill waits for stored results, not for time.
DEADLINE_S = 240


def _command(out, backend: str) -> list[str]:
    command = [sys.executable, "-m", "tracking_by_trackers.experiments.cli", "evaluate"]
    command += ["--dataset", DATASET, "--trackers", f"{SLOW},mosse", "--out", str(out), "--workers", "2"]
    return command + (["--backend", "ray", "--num-cpus", "2"] if backend == "ray" else [])


def _box_files(out, sequences) -> list:
    return [result_file(out / "results", s.benchmark, name, s.name) for name in TRACKERS for s in sequences]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["threads", "ray"])
def test_a_killed_evaluation_resumes_without_retracking_finished_pairs(tmp_path, backend):
    sequences = load_dataset(DATASET)
    out, clean = tmp_path / "killed", tmp_path / "clean"
    boxes = _box_files(out, sequences)
    process = subprocess.Popen(
        _command(out, backend),
        cwd=REPO_ROOT,
        start_new_session=True,  # its own process group: the driver and the Ray processes it starts
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + DEADLINE_S
    while sum(path.is_file() for path in boxes) < 2 and process.poll() is None:
        assert time.monotonic() < deadline, "no result was stored"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the process group is the driver's own pid
    process.wait()
    done = [path for path in boxes if path.is_file()]
    assert 2 <= len(done) < len(boxes), "the kill must land mid-evaluation"
    finished = {}
    for path in done:
        assert len(path.read_text().splitlines()) == 30, f"{path} is incomplete"
        time_path = path.with_name(path.stem + "_time.txt")
        finished.update({path: path.stat().st_mtime_ns, time_path: time_path.stat().st_mtime_ns})

    resumed = subprocess.run(
        _command(out, backend), cwd=REPO_ROOT, capture_output=True, text=True, timeout=DEADLINE_S
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"resuming: {len(done)} of {len(boxes)} (tracker, sequence) results already stored" in resumed.stderr
    )
    assert f"tracked {len(boxes) - len(done)} (tracker, sequence) pairs" in resumed.stdout
    assert {path: path.stat().st_mtime_ns for path in finished} == finished, "finished pairs were retracked"
    assert (out / "report" / "scores.csv").is_file()

    again = subprocess.run(
        _command(clean, backend), cwd=REPO_ROOT, capture_output=True, text=True, timeout=DEADLINE_S
    )
    assert again.returncode == 0, again.stderr
    for path, reference in zip(boxes, _box_files(clean, sequences), strict=True):
        assert path.read_text() == reference.read_text(), f"{path} differs from a clean run's"


def test_a_pair_with_only_part_of_its_files_written_is_tracked_again(tmp_path, caplog):
    """A kill between the result's files (times written, boxes not), or during the box file's write
    (which leaves only a temporary file beside it), leaves the pair to do; a stored pair is kept."""
    caplog.set_level("INFO")
    videos = [make_moving_square_sequence(num_frames=12, seed=seed) for seed in range(3)]
    root = tmp_path / "results"
    name, factory = tracker_factory("identity")
    half, stray, stored = videos
    kept = track_sequence(factory(), stored)
    write_result(root, stored.benchmark, name, stored.name, kept)
    write_result(root, half.benchmark, name, half.name, kept)  # written, then cut back to what a kill leaves
    result_file(root, half.benchmark, name, half.name).unlink()
    truncated = result_file(root, stray.benchmark, name, stray.name)
    truncated.parent.mkdir(parents=True, exist_ok=True)
    (truncated.parent / f".{truncated.name}.abc123.tmp").write_text("10.000,8.000,20")
    before = result_file(root, stored.benchmark, name, stored.name).stat().st_mtime_ns

    assert evaluate_trackers(videos, {name: factory}, root, show_progress=False) == 2
    assert "resuming: 1 of 3 (tracker, sequence) results already stored" in caplog.text
    assert result_file(root, stored.benchmark, name, stored.name).stat().st_mtime_ns == before
    for video in (half, stray):
        assert len(result_file(root, video.benchmark, name, video.name).read_text().splitlines()) == 12
        assert len(times_file(root, video.benchmark, name, video.name).read_text().splitlines()) == 12
