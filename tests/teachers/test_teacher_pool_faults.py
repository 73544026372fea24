"""Faults during a transfer-set build: a teacher actor killed by its pid while it tracks, or gone for good,
reruns only the pair it held; a plug-in teacher that segfaults is recorded as failed and the build goes on.

(The driver killed mid-build and a rerun resuming is ``test_teacher_pool.py``'s slow test.)
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections import Counter

import numpy as np
import pytest
import ray

from tests.conftest import make_moving_square_sequence
from tests.teachers.fault_teachers import HOLDING, RELEASE, HoldingTeacher, runs
from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.scripted_teachers import NoisyGroundTruthTeacher
from tracking_by_trackers.teachers.teacher_pool import TeacherPool
from tracking_by_trackers.teachers.transfer_store import TransferSetStore

# A safety net for a broken build, never a pass criterion: the conditions waited for are events.
DEADLINE_S = 120
TEACHERS = ("noisy_a", "noisy_b")


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("kill", ["sigkill", "ray_kill"])
def test_a_teacher_actor_killed_while_it_tracks_reruns_only_its_pair(ray_session, tmp_path, kill):
    """``sigkill``: the actor's process is killed by its pid (a segfault, an OOM kill, a lost node): Ray
    restarts it and runs the pair again. ``ray_kill``: the actor is gone for good: the pool starts a new one."""
    videos = [make_moving_square_sequence(num_frames=20, seed=seed) for seed in range(3)]
    held = videos[1].name
    log = tmp_path / "log"
    log.mkdir()
    teachers = {
        name: functools.partial(
            HoldingTeacher, str(log), name=name, seed=seed, hold_video=held if name == "noisy_a" else ""
        )
        for seed, name in enumerate(TEACHERS)
    }
    store = TransferSetStore(tmp_path / "store")
    pool = TeacherPool(num_actors=2)
    pids = ray.get([actor.__ray_call__.remote(lambda actor: os.getpid()) for actor in pool.actors])
    outcome: dict = {}
    build = threading.Thread(
        target=lambda: outcome.update(report=pool.build(videos, teachers, store, show_progress=False))
    )
    build.start()
    try:
        others = [(v, t) for v in videos for t in TEACHERS if (v.name, t) != (held, "noisy_a")]
        # The held pair is mid-video on one actor, and the other actor has stored every other pair.
        _wait_for(
            lambda: (log / HOLDING).is_file() and all(store.has("test", v.name, t) for v, t in others),
            "the held pair and every other pair stored",
        )
        victim = int((log / HOLDING).read_text())
        assert victim in pids, "the held pair runs in one of the pool's actors"
        finished = {path: path.stat().st_mtime_ns for path in store.root.rglob("*.parquet")}
        assert len(finished) == len(others)
        if kill == "sigkill":
            os.kill(victim, signal.SIGKILL)
        else:
            ray.kill(pool.actors[pids.index(victim)])
        (log / RELEASE).touch()
        build.join(DEADLINE_S)
        assert not build.is_alive(), "the build did not finish after the kill"
    finally:
        (log / RELEASE).touch()
        build.join(DEADLINE_S)
        pool.shutdown()
    report = outcome["report"]
    assert (report.ran, report.skipped, report.failed, report.bad_input) == (6, 0, [], [])
    started = runs(log)
    counts = Counter((video, teacher) for _, video, teacher in started)
    assert counts == {**{(v.name, t): 1 for v, t in others}, (held, "noisy_a"): 2}, "finished work was redone"
    (first, second) = [pid for pid, video, teacher in started if (video, teacher) == (held, "noisy_a")]
    assert first == victim and second != victim, "the pair ran again in a new actor process"
    assert {path: path.stat().st_mtime_ns for path in finished} == finished, "a stored pair was rewritten"
    for seed, name in enumerate(TEACHERS):
        for video in videos:
            expected = track_sequence(NoisyGroundTruthTeacher(noise=0.1, seed=seed, name=name), video)
            stored = store.read("test", video.name, name)
            np.testing.assert_allclose(stored[["x", "y", "w", "h"]].to_numpy(), expected.last_good_boxes())
            assert stored["ok"].all()


@pytest.mark.slow  # four actor crashes and restarts
def test_a_segfaulting_plugin_teacher_is_recorded_as_failed_and_the_build_goes_on(
    ray_session, tmp_path, capsys, caplog
):
    spec = "tests.teachers.fault_teachers:make_segfaulting_teacher"
    out = tmp_path / "transfer"
    dataset = "synthetic:videos=2,frames=12,seed=3"
    status = main(
        [
            "teachers",
            "run",
            "--dataset",
            dataset,
            "--teachers",
            f"{spec},kcf",
            "--out",
            str(out),
            "--actors",
            "2",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    rows = TransferSetStore(out).read_all()
    videos = sorted(rows["sequence"].unique())
    assert len(videos) == 2 and len(rows) == 2 * 2 * 12, "every pair is stored, the failed ones as failed"
    for video in videos:
        assert (
            f"recorded as failed: teacher make_segfaulting_teacher on {video} (it crashed its actor twice)"
            in printed
        )
        assert (
            f"teacher make_segfaulting_teacher recorded as failed on {video}: it crashed its actor 2 times"
            in caplog.text
        )
        crashed = rows[(rows["sequence"] == video) & (rows["teacher"] == "make_segfaulting_teacher")]
        assert crashed.sort_values("frame")["ok"].tolist() == [True] + [False] * 11
        kcf = rows[(rows["sequence"] == video) & (rows["teacher"] == "kcf")]
        assert kcf["ok"].mean() > 0.5, "the other teacher tracked the video in the restarted actors"
    assert "ran 4 (video, teacher) pairs" in printed
