"""TRAS, TRAST and TRASFUST: selection rules with scripted heads, LSTM resets, failing teachers, the toolkit.

The selection rules are checked with the real network whose heads are replaced by scripted ones: the
critic returns the values a test chooses for each row of each forward pass, the actor a constant action.
Row order is the trackers' documented one: TRAST's student first, then its teacher; TRASFUST's teachers
in the order given.
"""

from __future__ import annotations

import copy
import pickle

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import make_moving_square_sequence
from tests.teachers.test_tracker import DriftingTracker
from tracking_by_trackers.envs.boxes import apply_action, clip_to_image
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.evaluation.evaluate import one_torch_thread
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers import (
    TRAS,
    TRASFUST,
    TRAST,
    resolve_device,
    student_tracker_factory,
)
from tracking_by_trackers.policies.trackers import student_tracker as student_tracker_module
from tracking_by_trackers.policies.trackers.factory import is_student_tracker_spec
from tracking_by_trackers.policies.trackers.lstm_stream import LSTMStream
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.opencv_trackers import make_opencv_tracker
from tracking_by_trackers.teachers.scripted_teachers import FailingTeacher, NoisyGroundTruthTeacher
from tracking_by_trackers.teachers.tracker import FusingTracker


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # Two cores, and teacher threads beside the forward pass: torch's own pool would oversubscribe them.
    with one_torch_thread():
        yield


@pytest.fixture
def student():
    torch.manual_seed(0)
    return StudentNetwork.from_preset("small").eval()


class ScriptedCritic(nn.Module):
    """Stands in for the critic head: forward pass k gives row i the value ``values[k][i]``."""

    def __init__(self, values):
        super().__init__()
        self.values = [list(map(float, row)) for row in values]
        self.calls = 0

    def forward(self, embeddings):
        row_values = self.values[self.calls]
        self.calls += 1
        assert len(row_values) == embeddings.shape[0], "the script expects another batch size"
        return torch.tensor(row_values).view(-1, 1, 1).expand(-1, embeddings.shape[1], 1)


class ConstantActor(nn.Module):
    """Stands in for the actor head: the same action μ for every row."""

    def __init__(self, action):
        super().__init__()
        self.action = torch.tensor(action, dtype=torch.float32)
        self.weight = nn.Parameter(torch.zeros(1))  # the network reads its dtype and device from here

    def forward(self, embeddings):
        return self.action.expand(*embeddings.shape[:2], 4)


@pytest.fixture
def crop_boxes(monkeypatch):
    """The boxes of every batched crop the trackers make, one ``(K, 4)`` array per forward pass."""
    seen = []
    real = student_tracker_module.crop_state_pairs

    def spy(previous_frames, current_frames, boxes, *args):
        seen.append(np.array(boxes, dtype=np.float64).reshape(-1, 4))
        return real(previous_frames, current_frames, boxes, *args)

    monkeypatch.setattr(student_tracker_module, "crop_state_pairs", spy)
    return seen


def _student_steps(boxes, action, image_hw):
    """The boxes ψ(action, previous) chains from ``boxes[0]``."""
    out = [np.asarray(boxes[0], float)]
    for _ in range(len(boxes) - 1):
        out.append(apply_action(np.clip(action, -1, 1), out[-1], image_hw))
    return np.array(out)


def test_lstm_stream_returns_to_the_state_after_the_first_prediction_every_32_predictions():
    stream = LSTMStream((torch.zeros(1, 2), torch.zeros(1, 2)), reset_interval=32)
    for prediction in range(1, 70):
        stream.advance((torch.full((1, 2), float(prediction)), torch.zeros(1, 2)))
        expected = 1.0 if prediction % 32 == 0 else float(prediction)
        assert stream.state[0][0, 0].item() == expected, f"after prediction {prediction}"
    with pytest.raises(ValueError, match="reset_interval must be at least 1"):
        LSTMStream((torch.zeros(1, 2), torch.zeros(1, 2)), reset_interval=0)


def test_tras_resets_its_lstm_state_every_32_frames_to_the_state_after_the_first_prediction(student):
    states_in, states_out = [], []

    def record(module, args, output):
        states_in.append(args[1][0].clone())
        states_out.append(output[1][0].clone())

    student.lstm.register_forward_hook(record)
    track_sequence(TRAS(student), make_moving_square_sequence(num_frames=70))
    assert len(states_in) == 69
    assert torch.count_nonzero(states_in[0]) == 0, "prediction 1 starts from the zero state"
    for prediction in (33, 65):  # 1-based: predictions 33 and 65 start from the state after prediction 1
        torch.testing.assert_close(states_in[prediction - 1], states_out[0], rtol=0, atol=0)
    for prediction in (2, 20, 34, 66):
        torch.testing.assert_close(states_in[prediction - 1], states_out[prediction - 2], rtol=0, atol=0)
    assert not torch.equal(states_in[32 - 1], states_out[0])


def test_tras_moves_by_the_clamped_action_and_keeps_its_box_in_the_image(student, moving_square):
    student.actor = ConstantActor([3.0, -0.25, 0.0, 0.0])  # Δx clamps to 1: one box width per frame
    result = track_sequence(TRAS(student), moving_square)
    height, width = moving_square.frames[0].shape[:2]
    expected = _student_steps(result.boxes, [3.0, -0.25, 0.0, 0.0], (height, width))
    np.testing.assert_allclose(result.boxes, expected)
    assert (result.boxes[:, 0] + result.boxes[:, 2] <= width + 1e-9).all() and (result.boxes[:, 1] >= 0).all()


@pytest.mark.parametrize("spec", ["tras", "trast:kcf", "trasfust:kcf+mosse+medianflow"])
def test_trackers_run_and_are_deterministic_on_synthetic_videos(student, spec):
    sequences = load_dataset("synthetic:videos=2,frames=30")
    name, factory = student_tracker_factory(spec, student, device="cpu")
    for sequence in sequences:
        first, second = factory(), factory()
        a, b = track_sequence(first, sequence), track_sequence(second, sequence)
        np.testing.assert_array_equal(a.boxes, b.boxes)
        assert first.choices == second.choices and len(first.choices) == len(sequence)
        assert a.ok.all() and first.name == name
        height, width = sequence.frames[0].shape[:2]
        np.testing.assert_array_equal(a.boxes[1:], clip_to_image(a.boxes[1:], (height, width)))


def test_trast_outputs_the_teacher_box_only_when_its_value_is_higher(student, moving_square, crop_boxes):
    frames = len(moving_square)
    # Per frame t = 1, 2, …: the teacher wins on even frames, loses on odd ones, ties on multiples of 5.
    teacher_value = [0.0 if t % 5 == 0 else (1.0 if t % 2 == 0 else -1.0) for t in range(1, frames)]
    student.critic = ScriptedCritic([[0.0, v] for v in teacher_value])
    student.actor = ConstantActor([0.1, 0.0, 0.0, 0.0])
    tracker = TRAST(student, NoisyGroundTruthTeacher(noise=0.05, name="noisy"))
    result = track_sequence(tracker, moving_square)
    teacher_alone = track_sequence(NoisyGroundTruthTeacher(noise=0.05, name="noisy"), moving_square).boxes

    image_hw = moving_square.frames[0].shape[:2]
    for t in range(1, frames):
        handed_over = teacher_value[t - 1] > 0
        assert tracker.choices[t] == ("noisy" if handed_over else "student"), f"frame {t}"
        expected = (
            clip_to_image(teacher_alone[t], image_hw)
            if handed_over
            else apply_action([0.1, 0, 0, 0], result.boxes[t - 1], image_hw)
        )
        np.testing.assert_allclose(result.boxes[t], expected, err_msg=f"frame {t}")
        # Row 0 is cropped around the tracker's previous OUTPUT, row 1 around the teacher's OWN previous box.
        np.testing.assert_allclose(crop_boxes[t - 1][0], result.boxes[t - 1])
        np.testing.assert_allclose(crop_boxes[t - 1][1], teacher_alone[t - 1])


def test_trasfust_outputs_the_box_of_the_teacher_with_the_highest_value(student, moving_square):
    names = ["a", "b", "c"]
    rng = np.random.default_rng(0)
    values = rng.integers(0, 3, (len(moving_square) - 1, 3)).astype(float)  # integers: ties happen
    student.critic = ScriptedCritic(values)
    teachers = [NoisyGroundTruthTeacher(noise=0.1, seed=i, name=n) for i, n in enumerate(names)]
    tracker = TRASFUST(student, teachers)
    result = track_sequence(tracker, moving_square)
    alone = [
        track_sequence(NoisyGroundTruthTeacher(0.1, i, n), moving_square).boxes for i, n in enumerate(names)
    ]
    image_hw = moving_square.frames[0].shape[:2]
    for t in range(1, len(moving_square)):
        best = int(np.argmax(values[t - 1]))  # argmax takes the first of tied maxima, as TRASFUST does
        assert tracker.choices[t] == names[best]
        np.testing.assert_allclose(result.boxes[t], clip_to_image(alone[best][t], image_hw))
    assert tracker.name == "trasfust-a+b+c"


@pytest.mark.parametrize("mode", ["raise", "nan", "zero", "low_confidence"])
def test_a_failing_teacher_is_ignored_and_its_last_good_box_kept(student, moving_square, crop_boxes, mode):
    at_frame = 6
    # The failing teacher (row 0) always has the higher value: it is chosen whenever it is usable.
    student.critic = ScriptedCritic([[1.0, 0.0]] * (len(moving_square) - 1))
    teachers = [
        FailingTeacher(mode, at_frame=at_frame, name="failing"),
        NoisyGroundTruthTeacher(0.1, name="noisy"),
    ]
    tracker = TRASFUST(student, teachers)
    result = track_sequence(tracker, moving_square)
    assert tracker.choices[1:at_frame] == ["failing"] * (at_frame - 1)
    assert tracker.choices[at_frame:] == ["noisy"] * (len(moving_square) - at_frame)
    assert np.isfinite(result.boxes).all()
    last_good = moving_square.gt_boxes[at_frame - 1]
    for t in range(at_frame + 1, len(moving_square)):
        np.testing.assert_allclose(
            crop_boxes[t - 1][0], last_good, err_msg=f"failing teacher's state, frame {t}"
        )
    assert tracker.members[0].failed_frames == len(moving_square) - at_frame


def test_trast_whose_teacher_fails_to_initialise_is_tras(student, moving_square):
    tras = track_sequence(TRAS(student), moving_square)
    trast = TRAST(student, FailingTeacher("init", name="broken"))
    result = track_sequence(trast, moving_square)
    np.testing.assert_array_equal(result.boxes, tras.boxes)
    assert set(trast.choices[1:]) == {"student"} and not trast.members[0].started


def test_trasfust_takes_a_student_step_when_every_teacher_fails(student, moving_square):
    student.actor = ConstantActor([0.05, 0.05, 0.0, 0.0])
    tracker = TRASFUST(
        student, [FailingTeacher("raise", at_frame=4, name="x"), FailingTeacher("nan", 4, "y")]
    )
    result = track_sequence(tracker, moving_square)
    assert set(tracker.choices[1:4]) <= {"x", "y"} and set(tracker.choices[4:]) == {"student"}
    image_hw = moving_square.frames[0].shape[:2]
    np.testing.assert_allclose(
        result.boxes[3:], _student_steps(result.boxes[3:], [0.05, 0.05, 0, 0], image_hw)
    )


def _write_png_frames(sequence, folder):
    paths = []
    for index in range(len(sequence)):
        path = folder / f"{index + 1:04d}.png"  # lossless, so every reader decodes the same pixels
        cv2.imwrite(str(path), cv2.cvtColor(sequence.frames[index], cv2.COLOR_RGB2BGR))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("spec", ["tras", "trast:kcf", "trasfust:kcf+mosse"])
def test_the_got10k_toolkit_track_drives_the_trackers_unchanged(student, tmp_path, spec):
    from got10k.trackers import Tracker

    sequence = make_moving_square_sequence(num_frames=12)
    img_files = _write_png_frames(sequence, tmp_path)
    _, factory = student_tracker_factory(spec, student, device="cpu")
    reference = track_sequence(factory(), sequence).boxes
    boxes, times = Tracker.track(
        factory(), img_files, sequence.init_box
    )  # the toolkit's own loop, PIL images
    np.testing.assert_allclose(boxes, reference)
    assert times.shape == (12,) and (times[1:] > 0).all()
    own_boxes, _ = factory().track(img_files, sequence.init_box)
    np.testing.assert_allclose(own_boxes, reference)
    assert factory().is_deterministic


def test_teacher_runners_give_the_same_boxes(student, moving_square):
    def run(runner):
        tracker = TRASFUST(student, [make_opencv_tracker("kcf"), make_opencv_tracker("mosse")], runner=runner)
        return track_sequence(tracker, moving_square).boxes, tracker.choices

    threads, inline = run("threads"), run("inline")
    np.testing.assert_array_equal(threads[0], inline[0])
    assert threads[1] == inline[1]


def test_a_new_tracker_leaves_a_shared_network_alone_while_another_thread_tracks(student, moving_square):
    # Module.to() rebuilds the LSTM's list of flat weights; a forward pass in another thread that read it
    # meanwhile failed with "zip() argument 2 is longer than argument 1" (seen in a threaded validation).
    flat_weights = student.lstm._flat_weights
    trackers = [TRAS(student, device="cpu") for _ in range(3)]
    assert student.lstm._flat_weights is flat_weights
    assert all(tracker.network is student for tracker in trackers)
    moved = TRAS(copy.deepcopy(student).double(), device="cpu")  # same device: still not moved
    assert moved.network.lstm.weight_hh_l0.dtype == torch.float64


def test_the_ray_teacher_runner_gives_the_same_boxes_as_threads(ray_session, student):
    sequence = make_moving_square_sequence(num_frames=10)
    boxes = {}
    for runner in ("threads", "ray"):
        tracker = TRAST(student, NoisyGroundTruthTeacher(0.1, name="noisy"), runner=runner)
        boxes[runner] = track_sequence(tracker, sequence).boxes
        tracker.close()
    np.testing.assert_array_equal(boxes["ray"], boxes["threads"])


@pytest.mark.data
def test_trackers_on_real_sequences(student, shared_data):
    sequence = load_dataset(f"otb:{shared_data / 'otb' / 'Crossing'}")[0].slice(0, 20)
    for spec in ["tras", "trast:csrt", "trasfust:kcf+csrt"]:
        _, factory = student_tracker_factory(spec, student, device="cpu")
        first, second = track_sequence(factory(), sequence), track_sequence(factory(), sequence)
        np.testing.assert_array_equal(first.boxes, second.boxes)
        assert first.ok.all()


@pytest.mark.parametrize(
    ("spec", "name", "members"),
    [
        ("tras", "tras", ["student"]),
        ("trast:kcf", "trast-kcf", ["student", "kcf"]),
        (
            "trasfust:kcf+tests.teachers.test_tracker:make_drifting_tracker",
            "trasfust-kcf+make_drifting_tracker",
            ["student", "kcf", "make_drifting_tracker"],
        ),
    ],
)
def test_student_trackers_say_whose_box_they_output(student, moving_square, spec, name, members):
    # A plug-in teacher takes part under its spec's name, as the built-in ones do.
    _, factory = student_tracker_factory(spec, student, device="cpu")
    tracker = factory()
    try:
        assert isinstance(tracker, FusingTracker) and tracker.member_names == members
        assert tracker.name == name
        result = track_sequence(tracker, moving_square)
        assert tracker.last_ok and result.ok.all()
        assert tracker.choices[0] == "init" and set(tracker.choices[1:]) <= set(members)
    finally:
        tracker.close()


def test_factory_specs_names_and_pickling(student, moving_square):
    assert [student_tracker_factory(s, student)[0] for s in ["tras", "trast:csrt", "TRASFUST:kcf+csrt"]] == [
        "tras",
        "trast-csrt",
        "trasfust-kcf+csrt",
    ]
    assert is_student_tracker_spec("trast:csrt") and not is_student_tracker_spec("kcf")
    _, factory = student_tracker_factory("trasfust:kcf+mosse", student, device="cpu")
    copy = pickle.loads(pickle.dumps(factory))
    np.testing.assert_array_equal(
        track_sequence(copy(), moving_square).boxes, track_sequence(factory(), moving_square).boxes
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tras:kcf", "tras runs the student alone"),
        ("trast", "trast takes exactly one teacher"),
        ("trast:kcf+csrt", "trast takes exactly one teacher"),
        ("trasfust:", "trasfust takes one or more teachers"),
        ("trasfust:kcf+kcf", "names a teacher twice"),
        ("trast:nosuch", "unknown tracker 'nosuch'"),
        ("trast:results:ECO", "give their root folder"),
    ],
)
def test_factory_rejects_bad_specs_clearly(student, spec, message):
    with pytest.raises(ValueError, match=message):
        student_tracker_factory(spec, student)


def test_factory_rejects_a_bad_runner_and_a_missing_student(student, tmp_path):
    with pytest.raises(ValueError, match="unknown teacher runner 'processes'"):
        student_tracker_factory("trast:kcf", student, runner="processes")
    with pytest.raises(ValueError, match="does not exist"):
        student_tracker_factory("tras", tmp_path / "missing.pt")


def test_device_is_picked_automatically_or_forced():
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        resolve_device("gpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tras_on_cuda_follows_the_cpu(student):
    sequence = make_moving_square_sequence(num_frames=10)
    cpu = track_sequence(TRAS(copy.deepcopy(student), device="cpu"), sequence).boxes
    tracker = TRAS(copy.deepcopy(student), device="cuda")
    cuda = track_sequence(tracker, sequence).boxes
    assert next(tracker.network.parameters()).is_cuda
    np.testing.assert_allclose(cuda, cpu, atol=0.5)  # float rounding differs between devices; pixels do not


def test_bad_initial_boxes_and_update_before_init_fail_clearly(student, moving_square):
    frame = moving_square.frames[0]
    tracker = TRAS(student)
    with pytest.raises(RuntimeError, match="call init"):
        tracker.update(frame)
    with pytest.raises(ValueError, match="lies outside the 128x96 frame"):
        tracker.init(frame, [200, 10, 20, 20])
    with pytest.raises(ValueError, match="w, h > 0"):
        tracker.init(frame, [10, 10, 0, 20])
    with pytest.raises(ValueError, match="at least one teacher"):
        TRASFUST(student, [])
    with pytest.raises(ValueError, match="unique and not 'student'"):
        TRASFUST(student, [NoisyGroundTruthTeacher(name="student")])
    with pytest.raises(TypeError, match=r"the teacher of trast \(DriftingTracker\) is not a Tracker"):
        TRAST(student, DriftingTracker())
