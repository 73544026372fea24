"""The teacher pool on Ray: same results as in-process, failures recorded, crashes retried, kills resumed."""

import functools
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO_ROOT, make_moving_square_sequence
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.registry import make_tracker
from tracking_by_trackers.teachers.scripted_teachers import FailingTeacher, NoisyGroundTruthTeacher
from tracking_by_trackers.teachers.teacher_pool import TeacherPool
from tracking_by_trackers.teachers.transfer_store import COLUMNS, TransferSetStore


@pytest.fixture(scope="module")
def videos():
    return [make_moving_square_sequence(num_frames=30, seed=seed) for seed in range(3)]


def test_pool_matches_running_the_teacher_in_process(ray_session, videos, tmp_path):
    store = TransferSetStore(tmp_path)
    teachers = {"kcf": functools.partial(make_tracker, "kcf"), "noisy_gt": NoisyGroundTruthTeacher}
    report = TeacherPool(num_actors=2).build(videos, teachers, store, show_progress=False)
    assert (report.ran, report.skipped, report.failed) == (6, 0, [])
    rows = store.read_all()
    assert list(rows.columns) == COLUMNS and len(rows) == 6 * 30
    for video in videos:
        for name, factory in teachers.items():
            expected = track_sequence(factory(), video)
            stored = store.read(video.benchmark, video.name, name)
            np.testing.assert_array_equal(stored[["x", "y", "w", "h"]].to_numpy(), expected.last_good_boxes())
            np.testing.assert_array_equal(stored["ok"].to_numpy(), expected.ok)
    again = TeacherPool(num_actors=1).build(videos, teachers, store, show_progress=False)
    assert (again.ran, again.skipped) == (0, 6)


def test_failing_teachers_are_recorded_and_do_not_stop_the_build(ray_session, videos, tmp_path):
    store = TransferSetStore(tmp_path)
    teachers = {
        "raises": functools.partial(FailingTeacher, "raise", at_frame=10, name="raises"),
        "nan": functools.partial(FailingTeacher, "nan", at_frame=5, name="nan"),
        "crashes": functools.partial(FailingTeacher, "crash", at_frame=3, name="crashes"),
        "noisy_gt": NoisyGroundTruthTeacher,
    }
    report = TeacherPool(num_actors=2).build(videos[:1], teachers, store, show_progress=False)
    assert report.failed == [(videos[0].name, "crashes")]
    name = videos[0].name
    raises = store.read("test", name, "raises")
    assert raises["ok"].tolist() == [True] * 10 + [False] * 20
    # Failed frames keep the last good box.
    assert (raises[["x", "y", "w", "h"]].iloc[10:] == raises[["x", "y", "w", "h"]].iloc[9]).all().all()
    assert store.read("test", name, "nan")["ok"].sum() == 5
    crashed = store.read("test", name, "crashes")
    assert crashed["ok"].tolist() == [True] + [False] * 29
    assert store.read("test", name, "noisy_gt")["ok"].all()


@pytest.mark.slow
def test_a_killed_build_resumes_without_redoing_finished_work(tmp_path):
    out = tmp_path / "transfer"
    command = [
        sys.executable,
        "-m",
        "tracking_by_trackers.experiments.cli",
        "teachers",
        "run",
        "--dataset",
        "synthetic:videos=6,frames=100,seed=4",
        "--teachers",
        "csrt,kcf",
        "--out",
        str(out),
        "--num-cpus",
        "2",
    ]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.rglob("*.parquet"))) < 3:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the driver, and Ray's processes started under it
    process.wait()
    finished = {path: path.stat().st_mtime_ns for path in out.rglob("*.parquet")}
    assert 3 <= len(finished) < 12, "the kill must land mid-build"
    for path in finished:
        pd.read_parquet(path)  # every visible file is complete
    resumed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipped {len(finished)} already stored" in resumed.stdout
    assert {path: path.stat().st_mtime_ns for path in finished} == finished, "finished work was redone"
    assert len(list(out.rglob("*.parquet"))) == 12
    assert not list(out.rglob("*.tmp")), "no temporary file may be left visible as a result"
    assert len(TransferSetStore(out).read_all()) == 12 * 100


def test_an_unreadable_frame_skips_that_video_with_a_logged_error(ray_session, videos, tmp_path, caplog):
    import cv2

    from tracking_by_trackers.envs.sequence import ImageFiles, Sequence

    folder = tmp_path / "frames"
    folder.mkdir()
    paths = []
    for index, frame in enumerate(videos[0].frames.array[:10]):
        paths.append(folder / f"{index:04d}.jpg")
        cv2.imwrite(str(paths[-1]), frame[..., ::-1])
    paths[6].write_bytes(b"not a jpeg")
    broken = Sequence("broken", ImageFiles(paths), videos[0].gt_boxes[:10], videos[0].absent[:10], "test")
    store = TransferSetStore(tmp_path / "store")
    report = TeacherPool(num_actors=2).build(
        [broken, videos[1]], {"kcf": functools.partial(make_tracker, "kcf")}, store, show_progress=False
    )
    assert report.ran == 1 and report.bad_input[0][:2] == ("broken", "kcf")
    assert "unreadable frame" in report.bad_input[0][2] and "0006.jpg" in report.bad_input[0][2]
    assert "skipping broken for teacher kcf" in caplog.text
    assert not store.has("test", "broken", "kcf") and store.has("test", videos[1].name, "kcf")


def test_actors_that_find_no_room_hold_no_job_and_the_build_finishes_on_those_that_started(
    ray_session, videos, tmp_path
):
    # Three actors of one CPU on the session's two: the third waits for a node that never comes, as an
    # actor does on an autoscaling cluster at its maximum.
    pool = TeacherPool(num_actors=3)
    try:
        store = TransferSetStore(tmp_path)
        teachers = {"noisy_gt": NoisyGroundTruthTeacher, "kcf": functools.partial(make_tracker, "kcf")}
        report = pool.build(videos, teachers, store, show_progress=False)
    finally:
        pool.shutdown()
    assert (report.ran, report.failed, report.bad_input) == (6, [], [])
    assert len(store.read_all()) == 6 * 30


def test_the_default_size_counts_the_cpus_a_later_stage_asks_for(ray_session):
    from tracking_by_trackers.teachers.teacher_pool import default_pool_size

    assert default_pool_size() == 2  # the session's CPUs
    assert default_pool_size(num_cpus_per_actor=0.5) == 4
    assert default_pool_size(cpus_wanted=24) == 24
