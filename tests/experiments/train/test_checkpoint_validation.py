"""The validation that chooses checkpoints: TRAS alone, or the mean of TRAS, TRAST and TRASFUST replaying
stored teacher tracks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.evaluation.evaluate import evaluate_trackers
from tracking_by_trackers.experiments.evaluation.ope_metrics import pool_frames, score_sequence
from tracking_by_trackers.experiments.train.checkpoint_validation import CheckpointValidator, validate_tras
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers import TRAS
from tracking_by_trackers.teachers.identity_tracker import IdentityTracker
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.scripted_teachers import NoisyGroundTruthTeacher


@pytest.fixture(scope="module")
def videos():
    return load_dataset("synthetic:videos=3,frames=20,difficulty=0.5,seed=7")


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return StudentNetwork.from_preset("small").eval()


@pytest.fixture(scope="module")
def teacher_results(videos, tmp_path_factory):
    """Stored tracks of the validation videos: the ground truth ("gt") and a box that never moves."""
    root = tmp_path_factory.mktemp("validation_teachers")
    factories = {
        "gt": lambda: NoisyGroundTruthTeacher(0.0, name="gt"),
        "frozen": lambda: IdentityTracker(),
    }
    assert evaluate_trackers(videos, factories, root, show_progress=False) == 6
    return root


def _tras_ao_by_hand(student, videos) -> float:
    scores = {}
    for video in videos:
        boxes = track_sequence(TRAS(student, device="cpu"), video).boxes
        scores[video.name] = score_sequence(boxes, video.gt_boxes, video.absent)
    return float(pool_frames(scores).ao)


def test_tras_metric_is_the_ao_of_tras_alone(student, videos):
    scores = CheckpointValidator(videos, metric="tras")(student)
    expected = _tras_ao_by_hand(student, videos)
    assert scores.aos == {"tras": pytest.approx(expected)}
    assert scores.score == pytest.approx(expected)
    assert validate_tras(student, videos) == pytest.approx(expected)


def test_modes_metric_is_the_mean_ao_of_the_three_trackers_replaying_the_teachers(
    student, videos, teacher_results
):
    validator = CheckpointValidator(
        videos, metric="modes", partner="gt", pool=["gt"], teacher_results=teacher_results, workers=2
    )
    scores = validator(student)
    assert set(scores.aos) == {"tras", "trast", "trasfust"}
    assert scores.aos["tras"] == pytest.approx(_tras_ao_by_hand(student, videos))
    # TRASFUST with one teacher always outputs that teacher's box: the replayed ground truth (stored
    # with a few decimals, and clipped to the image where the target leaves it).
    assert scores.aos["trasfust"] == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= scores.aos["trast"] <= 1.0
    assert scores.score == pytest.approx(math.fsum(scores.aos.values()) / 3)
    assert validator.describe() == "mean AO of TRAS, TRAST and TRASFUST"


def test_the_pool_decides_trasfust_and_the_partner_trast(student, videos, teacher_results):
    frozen = CheckpointValidator(
        videos, partner="frozen", pool=["frozen"], teacher_results=teacher_results, workers=1
    )(student)
    # A pool of one frozen box is the identity tracker's AO, computed here from the ground truth alone.
    identity = {
        video.name: score_sequence(
            np.repeat(video.init_box[None].astype(float), len(video), axis=0), video.gt_boxes, video.absent
        )
        for video in videos
    }
    assert frozen.aos["trasfust"] == pytest.approx(pool_frames(identity).ao, abs=1e-4)
    assert frozen.aos["trasfust"] < 0.5


def test_bad_settings_are_refused_with_their_reason(videos, teacher_results):
    with pytest.raises(ValueError, match="unknown checkpoint metric 'ao'; valid metrics: modes, tras"):
        CheckpointValidator(videos, metric="ao")
    with pytest.raises(ValueError, match="the 'modes' checkpoint metric runs TRAST and TRASFUST on stored"):
        CheckpointValidator(videos, metric="modes", pool=["gt"], teacher_results=teacher_results)
    with pytest.raises(ValueError, match="no validation videos"):
        CheckpointValidator([], metric="tras")


def test_a_missing_teacher_track_names_the_file(videos, tmp_path):
    # Found before training starts, not as a TRAST that silently tracks without its teacher.
    with pytest.raises(
        ValueError, match=r"no stored track of teacher 'gt' on synthetic/synthetic_7_0000 under"
    ):
        CheckpointValidator(videos, partner="gt", pool=["gt"], teacher_results=tmp_path)


def test_a_video_with_an_unreadable_frame_is_left_out_with_a_logged_line(student, videos, tmp_path, caplog):
    import dataclasses

    import cv2

    from tracking_by_trackers.envs.sequence import ImageFiles

    source = videos[0]
    paths = []
    for index in range(len(source)):
        path = tmp_path / f"{index + 1:04d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(source.frames[index], cv2.COLOR_RGB2BGR))
        paths.append(path)
    paths[5].write_bytes(b"")  # frame 5 unreadable: the whole video leaves the validation
    bad = dataclasses.replace(source, name="bad_video", frames=ImageFiles(paths))
    validator = CheckpointValidator([*videos, bad], metric="tras", workers=1)
    with caplog.at_level("ERROR"):
        first, second = validator(student), validator(student)
    assert first.score == second.score == pytest.approx(validate_tras(student, videos), abs=1e-9)
    messages = [record.getMessage() for record in caplog.records if "validation skips" in record.getMessage()]
    assert messages == [
        f"validation skips video bad_video from now on: sequence synthetic/bad_video frame 5: unreadable frame "
        f"(empty file, 0 bytes): {paths[5]}"
    ]
