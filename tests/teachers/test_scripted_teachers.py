"""Scripted teachers through the one-pass loop: the noisy ground-truth teacher is deterministic everywhere
and close to the truth, and each failure mode gives the expected failed frames."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tracking_by_trackers.envs.boxes import iou
from tracking_by_trackers.envs.sequence import Sequence
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.scripted_teachers import (
    FAILURE_MODES,
    FailingTeacher,
    NoisyGroundTruthTeacher,
)

AT_FRAME = 5


def _run_in_subprocess(script: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", textwrap.dedent(script)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, timeout=60, **kwargs)


def test_noisy_teacher_is_close_to_the_ground_truth_but_not_on_it(moving_square):
    result = track_sequence(NoisyGroundTruthTeacher(noise=0.1), moving_square)
    assert result.ok.all()
    overlaps = iou(result.boxes, moving_square.gt_boxes)
    assert overlaps.mean() > 0.5
    assert (overlaps[1:] < 1).all()


def test_noisy_teacher_is_deterministic_and_seeded(moving_square):
    first = track_sequence(NoisyGroundTruthTeacher(seed=3), moving_square).boxes
    again = track_sequence(NoisyGroundTruthTeacher(seed=3), moving_square).boxes
    other_seed = track_sequence(NoisyGroundTruthTeacher(seed=4), moving_square).boxes
    assert np.array_equal(first, again)
    assert not np.array_equal(first[1:], other_seed[1:])


def test_noisy_teacher_gives_the_same_boxes_in_another_process(moving_square, tmp_path):
    output = tmp_path / "boxes.npy"
    script = f"""
        import numpy as np
        from tracking_by_trackers.teachers.one_pass import track_sequence
        from tracking_by_trackers.teachers.scripted_teachers import NoisyGroundTruthTeacher
        from tests.conftest import make_moving_square_sequence
        result = track_sequence(NoisyGroundTruthTeacher(seed=3), make_moving_square_sequence())
        np.save({str(output)!r}, result.boxes)
    """
    # Another hash seed: Python's str hash would differ, the teacher's noise must not.
    done = _run_in_subprocess(script, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert done.returncode == 0, done.stderr.decode()
    here = track_sequence(NoisyGroundTruthTeacher(seed=3), moving_square).boxes
    assert np.array_equal(np.load(output), here)


def test_noisy_teacher_without_noise_is_the_ground_truth(moving_square):
    result = track_sequence(NoisyGroundTruthTeacher(noise=0.0), moving_square)
    assert np.array_equal(result.boxes, moving_square.gt_boxes)


def test_a_clip_gets_the_whole_videos_noisy_boxes(moving_square):
    whole = track_sequence(NoisyGroundTruthTeacher(), moving_square).boxes
    clip = track_sequence(NoisyGroundTruthTeacher(), moving_square.slice(10, 20)).boxes
    assert np.array_equal(clip[1:], whole[11:20])


def test_where_the_target_is_absent_the_last_box_is_kept(moving_square):
    gt = moving_square.gt_boxes.copy()
    gt[6:9] = np.nan
    absent = np.isnan(gt[:, 0])
    sequence = Sequence("gappy", moving_square.frames, gt, absent, benchmark="test")
    result = track_sequence(NoisyGroundTruthTeacher(), sequence)
    assert result.ok.all()
    assert np.array_equal(result.boxes[6:9], np.repeat(result.boxes[5:6], 3, axis=0))
    assert not np.array_equal(result.boxes[9], result.boxes[5])


def test_noise_must_be_non_negative():
    with pytest.raises(ValueError, match=r"noise must be a non-negative number, got -0.1"):
        NoisyGroundTruthTeacher(noise=-0.1)


def _ok_before_failure(num_frames: int) -> np.ndarray:
    return np.arange(num_frames) < AT_FRAME


@pytest.mark.parametrize("mode", ["raise", "nan"])
def test_raising_and_nan_teachers_give_nan_failed_frames(mode, moving_square):
    result = track_sequence(FailingTeacher(mode, at_frame=AT_FRAME), moving_square)
    np.testing.assert_array_equal(result.ok, _ok_before_failure(len(moving_square)))
    assert np.array_equal(result.boxes[:AT_FRAME], moving_square.gt_boxes[:AT_FRAME])
    assert np.isnan(result.boxes[AT_FRAME:]).all()


def test_zero_size_teacher_fails_from_its_frame_on(moving_square):
    result = track_sequence(FailingTeacher("zero", at_frame=AT_FRAME), moving_square)
    np.testing.assert_array_equal(result.ok, _ok_before_failure(len(moving_square)))
    assert (result.boxes[AT_FRAME:, 2:] == 0).all()
    assert np.array_equal(result.boxes[AT_FRAME:, :2], moving_square.gt_boxes[AT_FRAME:, :2])


def test_low_confidence_teacher_returns_the_truth_but_reports_failure(moving_square):
    result = track_sequence(FailingTeacher("low_confidence", at_frame=AT_FRAME), moving_square)
    np.testing.assert_array_equal(result.ok, _ok_before_failure(len(moving_square)))
    assert np.array_equal(result.boxes, moving_square.gt_boxes)


def test_init_failure_fails_every_frame(moving_square):
    result = track_sequence(FailingTeacher("init"), moving_square)
    assert not result.ok.any()


def test_crash_kills_the_whole_process_at_its_frame():
    script = f"""
        from tracking_by_trackers.teachers.one_pass import track_sequence
        from tracking_by_trackers.teachers.scripted_teachers import FailingTeacher
        from tests.conftest import make_moving_square_sequence
        teacher = FailingTeacher("crash", at_frame={AT_FRAME})
        # Frames 0 to {AT_FRAME - 1} only: the crash frame is never reached.
        track_sequence(teacher, make_moving_square_sequence(num_frames={AT_FRAME}))
        track_sequence(teacher, make_moving_square_sequence(num_frames={AT_FRAME + 1}))
        raise SystemExit(0)
    """
    done = _run_in_subprocess(script)
    assert done.returncode == 1, done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_failure_modes_and_frames_are_checked():
    assert set(FAILURE_MODES) == {"raise", "nan", "zero", "low_confidence", "init", "crash"}
    with pytest.raises(ValueError, match=r"unknown failure mode 'explode'; valid modes: raise, nan"):
        FailingTeacher("explode")
    with pytest.raises(ValueError, match=r"at_frame must be at least 1 \(frame 0 is init; use mode 'init'\)"):
        FailingTeacher("nan", at_frame=0)


@pytest.mark.parametrize("teacher", [NoisyGroundTruthTeacher(), FailingTeacher("nan")], ids=["noisy", "fail"])
def test_scripted_teachers_need_prepare(teacher, moving_square):
    with pytest.raises(RuntimeError, match=r"needs prepare\(sequence\) before each init.*track_sequence"):
        teacher.init(moving_square.frames[0], moving_square.init_box)


def test_updating_past_the_last_frame_is_an_error(moving_square):
    clip = moving_square.slice(0, 3)
    teacher = NoisyGroundTruthTeacher()
    teacher.prepare(clip)
    teacher.init(clip.frames[0], clip.init_box)
    teacher.update(clip.frames[1])
    teacher.update(clip.frames[2])
    with pytest.raises(IndexError, match=r"update for frame 3, but sequence square0 has 3 frames"):
        teacher.update(clip.frames[2])
