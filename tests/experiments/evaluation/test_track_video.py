"""`tbt track` on a video file and an image folder: the files it writes, and its errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_moving_square_sequence
from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.experiments.evaluation.track_video import open_frames, track_video
from tracking_by_trackers.teachers.registry import tracker_factory

FRAMES = 14
# Two cores: the trackers' teacher threads beside torch's own pool would oversubscribe them.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _count_frames(path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


@pytest.fixture
def square_video(tmp_path):
    """The moving square as an MJPG .avi (a different container and codec from the one `track` writes)."""
    sequence = make_moving_square_sequence(num_frames=FRAMES)
    path = tmp_path / "square.avi"
    height, width = sequence.frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for index in range(FRAMES):
        writer.write(cv2.cvtColor(sequence.frames[index], cv2.COLOR_RGB2BGR))
    writer.release()
    return path, sequence


@pytest.fixture
def square_folder(tmp_path):
    sequence = make_moving_square_sequence(num_frames=FRAMES)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(FRAMES):
        cv2.imwrite(
            str(folder / f"{index + 1:04d}.png"), cv2.cvtColor(sequence.frames[index], cv2.COLOR_RGB2BGR)
        )
    return folder, sequence


def test_track_writes_boxes_a_readable_annotated_video_and_the_fps(
    square_video, exported_student, tmp_path, capsys
):
    video, sequence = square_video
    out = tmp_path / "out"
    init = ",".join(str(v) for v in sequence.init_box)
    argv = ["track", str(video), "--init", init, "--student", str(exported_student), "--out", str(out)]
    assert main([*argv, "--mode", "trast", "--teachers", "kcf"]) == 0
    printed = capsys.readouterr().out
    assert f"{FRAMES} frames at" in printed and "FPS" in printed and "handed to the teachers on" in printed
    assert _count_frames(out / "annotated.mp4") == FRAMES
    capture = cv2.VideoCapture(str(out / "annotated.mp4"))
    ok, image = capture.read()
    capture.release()
    assert ok and image.shape[:2] == sequence.frames[0].shape[:2]
    boxes = pd.read_csv(out / "boxes.csv")
    assert list(boxes.columns) == ["frame", "x", "y", "w", "h", "member", "seconds"] and len(boxes) == FRAMES
    np.testing.assert_allclose(boxes.loc[0, ["x", "y", "w", "h"]].to_numpy(float), sequence.init_box)
    assert boxes.loc[0, "member"] == "init" and set(boxes["member"][1:]) <= {"student", "kcf"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == FRAMES and summary["tracker_fps"] > 0 and summary["tracker"] == "trast-kcf"


@pytest.mark.parametrize(("mode", "teachers"), [("tras", None), ("trasfust", "kcf,mosse")])
def test_track_reads_an_image_folder(square_folder, exported_student, tmp_path, mode, teachers):
    folder, sequence = square_folder
    out = tmp_path / mode
    init = ",".join(str(v) for v in sequence.init_box)
    argv = ["track", str(folder), "--init", init, "--student", str(exported_student), "--out", str(out)]
    argv += ["--mode", mode] + (["--teachers", teachers] if teachers else [])
    assert main(argv) == 0
    assert _count_frames(out / "annotated.mp4") == FRAMES
    assert len(pd.read_csv(out / "boxes.csv")) == FRAMES


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "tbt track needs the target's box in the first frame: --init x,y,w,h"),
        (["--init", "1,2,3"], "--init: a box is four numbers x,y,w,h"),
        (
            ["--init", "500,10,20,20"],
            "--init 500,10,20,20: the initial box [500.0, 10.0, 20.0, 20.0] lies outside",
        ),
        (["--init", "10,10,0,20"], "with w, h > 0"),
        (["--init", "10,10,20,20", "--mode", "trast"], "--mode trast needs exactly one teacher"),
        (["--init", "10,10,20,20", "--mode", "trasfust"], "--mode trasfust needs teachers to fuse"),
        (["--init", "10,10,20,20", "--teachers", "kcf"], "--mode tras runs the student alone"),
    ],
)
def test_track_explains_bad_input(square_folder, exported_student, tmp_path, capsys, extra, message):
    folder, _ = square_folder
    argv = ["track", str(folder), "--student", str(exported_student), "--out", str(tmp_path / "o"), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_track_without_a_student_or_a_video_fails_clearly(square_folder, tmp_path, capsys):
    folder, _ = square_folder
    assert main(["track", str(folder), "--init", "10,10,20,20"]) == 2
    assert "tbt track runs the student: give --student PATH" in capsys.readouterr().err
    assert main(["track", str(tmp_path / "nothing.mp4"), "--init", "1,1,5,5", "--student", "x.pt"]) == 2
    assert "video path does not exist" in capsys.readouterr().err


def test_track_video_prepares_and_closes_any_tracker(square_folder, tmp_path):
    # A plug-in teacher on its own: it reads the video's name before init and is closed at the end.
    folder, sequence = square_folder
    frames, _ = open_frames(folder)
    _, factory = tracker_factory("tests.teachers.test_tracker:VideoAwareTracker")
    tracker = factory()
    result = track_video(tracker, frames, sequence.init_box, tmp_path / "out", name="square")
    assert tracker.tracker.video == "square" and tracker.tracker.closed == 1
    np.testing.assert_array_equal(result.boxes[:, 0], sequence.init_box[0] + np.arange(FRAMES))
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["tracker"] == "VideoAwareTracker"
    with pytest.raises(TypeError, match="the tracker given to track_video \\(str\\) is not a Tracker"):
        track_video("kcf", frames, sequence.init_box, tmp_path / "bad")
