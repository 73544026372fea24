"""The results teacher: replaying published trackers' stored OTB results reproduces them exactly, and every
misuse or misfit (missing file, wrong length, no prepare) is a clear error."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tracking_by_trackers.envs.sequence import DatasetError
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.results_store import read_result, result_file
from tracking_by_trackers.teachers.results_teacher import ResultsTeacher

STORED_TRACKERS = ("ECO", "MDNet", "SiamFC", "MEEM", "MUSTer", "STRUCK")
OTB_SEQUENCES = ("Couple", "Crossing", "Football1")
# Where STRUCK stored its own sub-pixel rounding of the init box as frame 0 instead of the ground truth.
FRAME_ZERO_OFF_GT = {("STRUCK", "Crossing"), ("STRUCK", "Football1")}


@pytest.fixture(scope="module")
def otb_sequences(shared_data):
    from tracking_by_trackers.envs.datasets import load_dataset

    return {sequence.name: sequence for sequence in load_dataset(f"otb:{shared_data / 'otb'}")}


@pytest.mark.data
def test_every_stored_tracker_folder_is_covered(shared_data):
    folders = {path.name for path in (shared_data / "results" / "OTB").iterdir() if path.is_dir()}
    assert folders == set(STORED_TRACKERS)


@pytest.mark.data
@pytest.mark.parametrize("sequence_name", OTB_SEQUENCES)
@pytest.mark.parametrize("tracker", STORED_TRACKERS)
def test_replay_reproduces_the_stored_boxes(tracker, sequence_name, shared_data, otb_sequences, caplog):
    sequence = otb_sequences[sequence_name]
    stored = read_result(shared_data / "results", "OTB", tracker, sequence_name)
    with caplog.at_level(logging.WARNING, logger="tracking_by_trackers.teachers.results_teacher"):
        result = track_sequence(ResultsTeacher(shared_data / "results", tracker), sequence)
    assert caplog.records == []
    if (tracker, sequence_name) in FRAME_ZERO_OFF_GT:
        # The loop's frame 0 is the init box, as for every tracker.
        assert np.array_equal(result.boxes[0], sequence.init_box)
        assert np.array_equal(result.boxes[1:], stored.boxes[1:])
    else:
        assert np.array_equal(result.boxes, stored.boxes)
    assert np.array_equal(result.ok, stored.ok)


def _store(root, boxes, tracker="fake", benchmark="test", sequence="square0"):
    path = result_file(root, benchmark, tracker, sequence)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, boxes, fmt="%.3f", delimiter=",")
    return path


def test_nan_stored_boxes_are_replayed_as_failed_frames(tmp_path, moving_square):
    boxes = moving_square.gt_boxes + 0.5
    boxes[0] = moving_square.init_box
    boxes[7] = np.nan
    _store(tmp_path, boxes)
    result = track_sequence(ResultsTeacher(tmp_path, "fake"), moving_square)
    assert np.array_equal(result.boxes, boxes, equal_nan=True)
    assert result.ok.sum() == len(boxes) - 1 and not result.ok[7]


def test_benchmark_can_be_given_instead_of_the_sequences(tmp_path, moving_square):
    _store(tmp_path, moving_square.gt_boxes, benchmark="elsewhere")
    result = track_sequence(ResultsTeacher(tmp_path, "fake", benchmark="elsewhere"), moving_square)
    assert np.array_equal(result.boxes, moving_square.gt_boxes)


def test_a_clip_replays_its_own_rows_of_the_whole_videos_result(tmp_path, moving_square):
    boxes = moving_square.gt_boxes + np.arange(len(moving_square))[:, None]
    _store(tmp_path, boxes)
    clip = moving_square.slice(10, 20)
    teacher = ResultsTeacher(tmp_path, "fake")
    teacher.prepare(clip)
    teacher.init(clip.frames[0], boxes[10])
    replayed = [teacher.update(clip.frames[index]) for index in range(1, len(clip))]
    assert np.array_equal(replayed, boxes[11:20])


def test_an_init_box_far_from_the_stored_one_is_warned_about_not_refused(tmp_path, moving_square, caplog):
    boxes = moving_square.gt_boxes.copy()
    boxes[0, :2] += 15
    _store(tmp_path, boxes)
    with caplog.at_level(logging.WARNING, logger="tracking_by_trackers.teachers.results_teacher"):
        result = track_sequence(ResultsTeacher(tmp_path, "fake"), moving_square)
    assert "stored frame-0 box" in caplog.text and "test/square0" in caplog.text
    assert result.ok.all()


def test_a_missing_result_file_names_the_file_and_the_tracker(tmp_path, moving_square):
    expected = result_file(tmp_path, "test", "ECO", "square0")
    with pytest.raises(DatasetError, match=rf"tracker ECO on test/square0: {expected} is missing"):
        ResultsTeacher(tmp_path, "ECO").prepare(moving_square)


@pytest.mark.parametrize("rows", [39, 41])
def test_a_stored_result_of_another_length_is_refused(tmp_path, moving_square, rows):
    path = _store(tmp_path, np.resize(moving_square.gt_boxes, (rows, 4)))
    with pytest.raises(DatasetError, match=rf"{path} has {rows} boxes, which do not fit the 40 frames of"):
        ResultsTeacher(tmp_path, "fake").prepare(moving_square)


def test_a_clip_beyond_the_stored_rows_is_refused(tmp_path, moving_square):
    _store(tmp_path, moving_square.gt_boxes[:25])
    with pytest.raises(DatasetError, match=r"has 25 boxes, which do not fit frames 20 to 29 of sequence"):
        ResultsTeacher(tmp_path, "fake").prepare(moving_square.slice(20, 30))


def test_updating_past_the_stored_rows_names_the_sequence_and_row_count(tmp_path, moving_square):
    _store(tmp_path, moving_square.gt_boxes)
    teacher = ResultsTeacher(tmp_path, "fake")
    teacher.prepare(moving_square)
    teacher.init(moving_square.frames[0], moving_square.init_box)
    for _ in range(len(moving_square) - 1):
        teacher.update(None)
    with pytest.raises(IndexError, match=r"fake: the stored result for test/square0 has 40 rows"):
        teacher.update(None)


def test_init_without_prepare_says_to_use_track_sequence(tmp_path, moving_square):
    _store(tmp_path, moving_square.gt_boxes)
    teacher = ResultsTeacher(tmp_path, "fake")
    with pytest.raises(RuntimeError, match=r"needs prepare\(sequence\) before each init.*track_sequence"):
        teacher.init(moving_square.frames[0], moving_square.init_box)
    teacher.prepare(moving_square)
    teacher.init(moving_square.frames[0], moving_square.init_box)
    # One prepare is one video: a second init must not replay the first video's boxes again.
    with pytest.raises(RuntimeError, match=r"needs prepare\(sequence\)"):
        teacher.init(moving_square.frames[0], moving_square.init_box)


def test_update_without_init_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match=r"call init\(image, box\) before update\(image\)"):
        ResultsTeacher(tmp_path, "fake").update(None)
