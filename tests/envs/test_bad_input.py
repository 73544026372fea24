"""Bad input (docs/bad_input.md): each case is refused with one line naming the file, the sequence and the
frame, converted where the benchmarks themselves need it, or skipped with a logged line where one bad video
must not stop a training run. Every test goes through a real entry point (``load_dataset``, one-pass
tracking, ``tbt``, the env, the teacher pool, ``load_student``, the DNN teachers) and checks the message."""

import functools
import json
import logging
import shutil
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import make_moving_square_sequence
from tests.envs.test_datasets import make_got10k_sequence, write_boxes, write_frames
from tracking_by_trackers.envs.clip_sources import SequenceClipSource
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.envs.sequence import DatasetError, ImageFiles, Sequence
from tracking_by_trackers.envs.tracking_env import MAX_BAD_CLIPS, TrackingEnv
from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig
from tracking_by_trackers.experiments.train.train_pipeline import prepare_run_folder
from tracking_by_trackers.policies.student_export import ExportError, load_student, save_student
from tracking_by_trackers.policies.student_model import StudentNetwork, preset
from tracking_by_trackers.teachers.identity_tracker import IdentityTracker
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.opencv_dnn_trackers import MissingModelFileError, make_dnn_tracker

FRAMES = 5
HEIGHT, WIDTH = 12, 16  # write_frames' image size


def otb_sequence(root: Path, boxes: list[str] | None = None, frames: int = FRAMES) -> Path:
    """An OTB folder ``root/seq`` with ``frames`` images and the given ground-truth lines (valid by default)."""
    folder = root / "seq"
    write_frames(folder / "img", frames, pattern="{:04d}.jpg")
    if boxes is None:
        write_boxes(folder / "groundtruth_rect.txt", frames)
    else:
        (folder / "groundtruth_rect.txt").write_text("".join(f"{line}\n" for line in boxes))
    return folder


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def error_of(capsys) -> str:
    """The one line ``tbt`` wrote to stderr (the progress bar's lines left out)."""
    lines = capsys.readouterr().err.splitlines()
    return one_line("\n".join(line for line in lines if not line.startswith("tracking:")))


# ---------------------------------------------------------------------------------------------------------
# Dataset files: frames.


def test_a_missing_frame_names_the_missing_file(tmp_path):
    folder = otb_sequence(tmp_path)
    (folder / "img" / "0003.jpg").unlink()
    with pytest.raises(DatasetError) as caught:
        load_dataset(f"otb:{folder}")
    assert one_line(str(caught.value)) == (
        f"missing frame: {folder / 'img' / '0003.jpg'} (the numbering jumps from 0002.jpg to 0004.jpg)"
    )


def test_a_missing_last_frame_names_the_box_without_a_frame(tmp_path):
    folder = otb_sequence(tmp_path)
    (folder / "img" / "0005.jpg").unlink()
    with pytest.raises(DatasetError) as caught:
        load_dataset(f"otb:{folder}")
    assert one_line(str(caught.value)).startswith(
        f"{folder / 'groundtruth_rect.txt'} line 5: no frame for this row (5 rows but only 4 frames"
    )


@pytest.mark.parametrize(
    ("content", "reason"), [(b"", "empty file, 0 bytes"), (b"\xff\xd8 not a jpeg", "not a decodable image")]
)
def test_an_unreadable_frame_names_sequence_frame_and_file(tmp_path, content, reason):
    folder = otb_sequence(tmp_path)
    (folder / "img" / "0003.jpg").write_bytes(content)
    (sequence,) = load_dataset(f"otb:{folder}")  # frames are read lazily
    with pytest.raises(DatasetError) as caught:
        track_sequence(IdentityTracker(), sequence)
    assert one_line(str(caught.value)) == (
        f"sequence OTB/seq frame 2: unreadable frame ({reason}): {folder / 'img' / '0003.jpg'}"
    )


def test_an_unreadable_first_frame_is_bad_input_not_a_failed_init(tmp_path):
    # Frame 0 is read before the tracker's init, whose errors are recorded as the tracker's failure.
    folder = otb_sequence(tmp_path)
    (folder / "img" / "0001.jpg").write_bytes(b"")
    (sequence,) = load_dataset(f"otb:{folder}")
    with pytest.raises(DatasetError, match=r"^sequence OTB/seq frame 0: unreadable frame \(empty file"):
        track_sequence(IdentityTracker(), sequence)


def test_grey_frames_are_converted_to_three_equal_channels(tmp_path):
    # Whole OTB sequences are grey; the GOT-10k toolkit converts them with PIL's convert("RGB").
    folder = otb_sequence(tmp_path)
    assert cv2.imwrite(str(folder / "img" / "0003.jpg"), np.full((HEIGHT, WIDTH), 120, np.uint8))
    (sequence,) = load_dataset(f"otb:{folder}")
    frame = sequence.frames[2]
    assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
    assert (np.abs(frame.astype(int) - 120) <= 1).all()


def test_four_channel_frames_lose_their_alpha_and_keep_rgb_order(tmp_path):
    folder = tmp_path / "clip"
    write_frames(folder, 3, pattern="{:04d}.png")
    bgra = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    bgra[..., :3], bgra[..., 3] = (10, 20, 30), 0  # fully transparent: alpha must not darken the frame
    assert cv2.imwrite(str(folder / "0002.png"), bgra)
    write_boxes(folder / "groundtruth.txt", 3)
    (sequence,) = load_dataset(f"folder:{folder}")
    frame = sequence.frames[1]
    assert frame.shape == (HEIGHT, WIDTH, 3)
    assert frame[0, 0].tolist() == [30, 20, 10]  # RGB


def test_sixteen_bit_frames_are_scaled_to_eight_bits(tmp_path):
    folder = tmp_path / "clip"
    write_frames(folder, 3, pattern="{:04d}.png")
    assert cv2.imwrite(str(folder / "0002.png"), np.full((HEIGHT, WIDTH, 3), 256 * 200, np.uint16))
    write_boxes(folder / "groundtruth.txt", 3)
    (sequence,) = load_dataset(f"folder:{folder}")
    assert sequence.frames[1].dtype == np.uint8 and (sequence.frames[1] == 200).all()


def test_a_frame_of_another_size_is_refused_with_both_sizes(tmp_path):
    # Boxes are pixel coordinates of one frame size: a resized frame would put every box in the wrong place.
    folder = otb_sequence(tmp_path)
    assert cv2.imwrite(str(folder / "img" / "0004.jpg"), np.zeros((2 * HEIGHT, 2 * WIDTH, 3), np.uint8))
    (sequence,) = load_dataset(f"otb:{folder}")
    with pytest.raises(DatasetError) as caught:
        track_sequence(IdentityTracker(), sequence)
    assert one_line(str(caught.value)) == (
        f"sequence OTB/seq frame 3 ({folder / 'img' / '0004.jpg'}): frame size changes from 16x12 (frame 0) "
        "to 32x24; every frame of a video must have one size"
    )


# ---------------------------------------------------------------------------------------------------------
# Dataset files: ground truth.


def _otb_error(tmp_path, boxes: list[str]) -> str:
    folder = otb_sequence(tmp_path, boxes)
    with pytest.raises(DatasetError) as caught:
        load_dataset(f"otb:{folder}")
    return one_line(str(caught.value))


def _valid(count: int) -> list[str]:
    return ["2,3,4,5"] * count


def test_a_garbage_ground_truth_line_names_file_line_and_token(tmp_path):
    message = _otb_error(tmp_path, [*_valid(2), "x=3 y=4", *_valid(2)])
    assert message == f"{tmp_path / 'seq' / 'groundtruth_rect.txt'} line 3: 'x=3' is not a number"


def test_a_binary_ground_truth_file_is_unreadable_and_named(tmp_path):
    folder = otb_sequence(tmp_path)
    (folder / "groundtruth_rect.txt").write_bytes(bytes(range(256)))
    with pytest.raises(DatasetError) as caught:
        load_dataset(f"otb:{folder}")
    assert one_line(str(caught.value)).startswith(
        f"unreadable annotation file {folder / 'groundtruth_rect.txt'}: 'utf-8' codec can't decode"
    )


def test_a_nan_ground_truth_line_is_an_absent_target(tmp_path):
    folder = otb_sequence(tmp_path, [*_valid(2), "NaN,NaN,NaN,NaN", *_valid(2)])
    (sequence,) = load_dataset(f"otb:{folder}")
    assert sequence.absent.tolist() == [False, False, True, False, False]
    assert np.isnan(sequence.gt_boxes[2]).all()


def test_an_infinite_ground_truth_value_names_file_and_line(tmp_path):
    message = _otb_error(tmp_path, [*_valid(3), "2,inf,4,5", *_valid(1)])
    assert message == f"{tmp_path / 'seq' / 'groundtruth_rect.txt'} line 4: 'inf' is not a finite number"


def test_a_negative_box_size_names_file_and_line(tmp_path):
    message = _otb_error(tmp_path, [*_valid(1), "2,3,-4,5", *_valid(3)])
    assert message == f"{tmp_path / 'seq' / 'groundtruth_rect.txt'} line 2: negative box size (w=-4, h=5)"


def test_a_zero_size_box_is_an_absent_target_with_a_logged_warning(tmp_path, caplog):
    # 0,0,0,0 is how several benchmarks write "no target"; scoring it would fail every tracker there.
    folder = otb_sequence(tmp_path, [*_valid(2), "0,0,0,0", "2,3,0,5", *_valid(1)])
    with caplog.at_level(logging.WARNING):
        (sequence,) = load_dataset(f"otb:{folder}")
    assert sequence.absent.tolist() == [False, False, True, True, False]
    assert np.isnan(sequence.gt_boxes[2:4]).all()
    assert (
        f"{folder / 'groundtruth_rect.txt'}: 2 box(es) of zero width or height (first on line 3) read as "
        "target absent"
    ) in caplog.text


@pytest.mark.parametrize("first", ["0,0,0,0", "nan,nan,nan,nan", "2,3,4,0"])
def test_an_invalid_first_box_names_file_and_line_1(tmp_path, first):
    message = _otb_error(tmp_path, [first, *_valid(4)])
    assert message.startswith(
        f"{tmp_path / 'seq' / 'groundtruth_rect.txt'} line 1: the first box must have finite values and a "
        "width and height > 0 (trackers start from it), got "
    )


def test_an_absent_first_frame_names_sequence_and_frame_file(tmp_path):
    # GOT-10k's absence.label can void frame 0's box after the box file was read.
    folder = tmp_path / "GOT-10k_Val_000001"
    make_got10k_sequence(folder, 4, absence=[1, 0, 0, 0], cover=[8] * 4)
    with pytest.raises(DatasetError) as caught:
        load_dataset(f"got10k:{folder}")
    assert one_line(str(caught.value)).startswith(
        f"sequence GOT-10k/GOT-10k_Val_000001: the first frame ({folder / '00000001.jpg'}) needs a valid "
        "initial box"
    )


def test_too_few_ground_truth_lines_name_the_first_missing_line(tmp_path):
    folder = tmp_path / "GOT-10k_Val_000002"
    write_frames(folder, 6)
    write_boxes(folder / "groundtruth.txt", 4)
    (folder / "absence.label").write_text("0\n" * 6)
    with pytest.raises(DatasetError) as caught:
        load_dataset(f"got10k:{folder}")
    assert one_line(str(caught.value)) == (
        f"{folder / 'groundtruth.txt'}: 4 rows but 6 frames in {folder} (line 5 is missing)"
    )


def test_too_few_otb_lines_keep_the_annotated_frames_with_a_warning(tmp_path, caplog):
    # OTB's own Football1, Freeman3, Freeman4 and Diving have fewer boxes than images (envs/datasets/otb.py).
    folder = otb_sequence(tmp_path, _valid(3))
    with caplog.at_level(logging.WARNING):
        (sequence,) = load_dataset(f"otb:{folder}")
    assert len(sequence) == 3
    assert f"{folder / 'groundtruth_rect.txt'} has 3 boxes for 5 images" in caplog.text


def test_too_many_ground_truth_lines_name_the_first_line_without_a_frame(tmp_path):
    message = _otb_error(tmp_path, _valid(7))
    assert message.startswith(
        f"{tmp_path / 'seq' / 'groundtruth_rect.txt'} line 6: no frame for this row (7 rows but only 5 frames"
    )


# ---------------------------------------------------------------------------------------------------------
# The command line: evaluate and track.


def test_tbt_evaluate_on_an_unreadable_frame_is_a_one_line_error(tmp_path, capsys):
    folder = otb_sequence(tmp_path / "data")
    (folder / "img" / "0003.jpg").write_bytes(b"")
    argv = [
        "evaluate",
        "--dataset",
        f"otb:{folder}",
        "--trackers",
        "identity",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 2
    assert error_of(capsys) == (
        f"tbt: error: sequence OTB/seq frame 2: unreadable frame (empty file, 0 bytes): "
        f"{folder / 'img' / '0003.jpg'}"
    )


def test_an_unreadable_frame_on_ray_is_its_own_line_not_the_workers_traceback(ray_session, tmp_path):
    from tracking_by_trackers.experiments.evaluation.evaluate import evaluate_trackers

    folder = otb_sequence(tmp_path / "data")
    (folder / "img" / "0002.jpg").write_bytes(b"junk")
    sequences = load_dataset(f"otb:{folder}")
    with pytest.raises(DatasetError) as caught:
        evaluate_trackers(sequences, {"identity": IdentityTracker}, tmp_path / "out", backend="ray")
    assert type(caught.value) is DatasetError  # not Ray's RayTaskError(DatasetError) with its traceback
    assert one_line(str(caught.value)) == (
        f"sequence OTB/seq frame 1: unreadable frame (not a decodable image): {folder / 'img' / '0002.jpg'}"
    )


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ("100,100,5,5", "the initial box [100.0, 100.0, 5.0, 5.0] lies outside the 16x12 frame"),
        ("-20,2,5,5", "the initial box [-20.0, 2.0, 5.0, 5.0] lies outside the 16x12 frame"),
        ("2,2,0,5", "the initial box must be four finite numbers x, y, w, h with w, h > 0"),
        ("2,2,5,-1", "the initial box must be four finite numbers x, y, w, h with w, h > 0"),
    ],
)
def test_tbt_track_refuses_an_init_box_outside_the_frame_or_of_zero_size(tmp_path, capsys, init, expected):
    frames = tmp_path / "frames"
    write_frames(frames, 3, pattern="{:04d}.jpg")
    argv = ["track", str(frames), f"--init={init}", "--student", str(tmp_path / "student.pt")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert error_of(capsys).startswith(f"tbt: error: --init {init}: {expected}")
    assert not (tmp_path / "out").exists()


def test_tbt_track_names_an_unreadable_first_frame_not_the_init_box(tmp_path, capsys):
    frames = tmp_path / "frames"
    write_frames(frames, 3, pattern="{:04d}.jpg")
    (frames / "0001.jpg").write_bytes(b"")
    argv = ["track", str(frames), "--init", "2,2,5,5", "--student", str(tmp_path / "student.pt")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert error_of(capsys) == (
        f"tbt: error: video {frames} frame 0: unreadable frame (empty file, 0 bytes): {frames / '0001.jpg'}"
    )


# ---------------------------------------------------------------------------------------------------------
# Configs.


def _train_with_config(tmp_path, capsys, text: str, suffix: str = ".json") -> str:
    config = tmp_path / f"config{suffix}"
    config.write_text(text)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()
    return error_of(capsys)


def test_an_unknown_config_key_names_the_file_and_the_key(tmp_path, capsys):
    message = _train_with_config(tmp_path, capsys, json.dumps({"betta": 0.5}))
    assert message.startswith(
        f"tbt: error: config file {tmp_path / 'config.json'}: unknown setting(s) ['betta']; valid settings: "
    )


def test_an_out_of_range_config_value_names_the_setting_and_its_range(tmp_path, capsys):
    message = _train_with_config(tmp_path, capsys, json.dumps({"beta": 1.5}))
    assert message == "tbt: error: beta must be in [0, 1), got 1.5"


def test_a_config_value_of_the_wrong_type_names_the_setting(tmp_path, capsys):
    message = _train_with_config(tmp_path, capsys, json.dumps({"iterations": "many"}))
    assert message == (
        f"tbt: error: config file {tmp_path / 'config.json'}: setting 'iterations' must be an integer, got "
        "'many' (str)"
    )


def test_a_bool_is_not_a_number_in_a_config(tmp_path, capsys):
    message = _train_with_config(tmp_path, capsys, "clip_length: true\n", suffix=".yaml")
    assert message.endswith("setting 'clip_length' must be an integer, got True (bool)")


def test_a_config_file_that_does_not_parse_is_one_line(tmp_path, capsys):
    message = _train_with_config(tmp_path, capsys, "beta: [1, 2\n", suffix=".yaml")
    assert message.startswith(f"tbt: error: cannot parse config file {tmp_path / 'config.yaml'}: ")


def test_resume_keeps_the_stored_method_settings_and_says_which(tmp_path, capsys):
    # Decision (docs/bad_input.md): a resumed run keeps the settings its checkpoint, transfer set and
    # curriculum were made with; only the budget and scale settings change, and the kept ones are printed.
    started = prepare_run_folder(tmp_path, TrainConfig.quick(beta=0.3, lr=1e-4), resume=False)
    capsys.readouterr()
    resumed = prepare_run_folder(tmp_path, TrainConfig.quick(beta=0.5, lr=1e-4, iterations=9), resume=True)
    assert (resumed.beta, resumed.iterations) == (0.3, 9)
    assert resumed == started.updated(iterations=9)
    assert json.loads((tmp_path / "config.json").read_text())["beta"] == 0.3
    line = one_line(capsys.readouterr().out)
    assert line.startswith(f"resuming {tmp_path} with its stored settings: beta 0.3 (given 0.5); on --resume")
    assert "iterations" in line and "start a new --out to change the others" in line


def test_resume_of_a_damaged_config_json_names_it(tmp_path):
    prepare_run_folder(tmp_path, TrainConfig.quick(), resume=False)
    (tmp_path / "config.json").write_text('{"beta": 0.3, "clip_length": "long"}')
    with pytest.raises(ConfigError) as caught:
        prepare_run_folder(tmp_path, TrainConfig.quick(), resume=True)
    assert one_line(str(caught.value)) == (
        f"cannot resume: {tmp_path / 'config.json'}: setting 'clip_length' must be an integer, got 'long' (str)"
    )


# ---------------------------------------------------------------------------------------------------------
# Model files.


@pytest.fixture(scope="module")
def small_student_payload(tmp_path_factory):
    path = save_student(StudentNetwork.from_config(preset("small")), tmp_path_factory.mktemp("s") / "s.pt")
    return torch.load(path, weights_only=True)


def test_a_student_with_another_presets_config_is_refused_in_one_line(tmp_path, small_student_payload):
    mixed = tmp_path / "mixed.pt"
    torch.save({**small_student_payload, "config": asdict(preset("paper"))}, mixed)
    with pytest.raises(ExportError) as caught:
        load_student(mixed)
    message = one_line(str(caught.value))
    assert message.startswith(
        f"{mixed}: its weights do not fit the network its config describes (backbone 'resnet18', fc 512, "
        "lstm 512): "
    )
    assert "missing (first: backbone." in message and "of another shape (first: fc." in message


def test_a_student_config_from_another_version_is_refused(tmp_path, small_student_payload):
    newer = tmp_path / "newer.pt"
    torch.save({**small_student_payload, "config": {**small_student_payload["config"], "heads": 3}}, newer)
    with pytest.raises(ExportError) as caught:
        load_student(newer)
    assert "does not fit this code's StudentPreset" in one_line(str(caught.value))
    assert "'heads'" in str(caught.value)


def test_a_truncated_student_file_is_named(tmp_path, small_student_payload):
    whole = tmp_path / "whole.pt"
    torch.save(small_student_payload, whole)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole.read_bytes()[:2000])
    with pytest.raises(ExportError, match=f"^{truncated} is not a readable exported student: "):
        load_student(truncated)


def test_tbt_evaluate_with_an_incompatible_student_is_a_one_line_error(
    tmp_path, capsys, small_student_payload
):
    mixed = tmp_path / "mixed.pt"
    torch.save({**small_student_payload, "config": asdict(preset("paper"))}, mixed)
    argv = ["evaluate", "--trackers", "tras", "--student", str(mixed), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert error_of(capsys).startswith(f"tbt: error: {mixed}: its weights do not fit the network")


def _nano_folder(tmp_path: Path, shared_models: Path) -> Path:
    folder = tmp_path / "nanotrack"
    shutil.copytree(shared_models / "nanotrack" / "v2", folder / "v2")
    return folder


def test_a_missing_nanotrack_file_is_one_line_and_a_value_error(tmp_path, shared_models):
    folder = _nano_folder(tmp_path, shared_models)
    (folder / "v2" / "nanotrack_head_sim.onnx").unlink()
    with pytest.raises(MissingModelFileError) as caught:
        make_dnn_tracker("nano_v2", folder)
    assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, ValueError)
    assert one_line(str(caught.value)).startswith(
        f"OpenCV DNN tracker 'nano_v2' is missing 1 model file(s): neckhead: "
        f"{folder / 'v2' / 'nanotrack_head_sim.onnx'} or "
    )


def test_a_truncated_nanotrack_file_is_named(tmp_path, shared_models):
    folder = _nano_folder(tmp_path, shared_models)
    head = folder / "v2" / "nanotrack_head_sim.onnx"
    head.chmod(0o644)
    head.write_bytes(head.read_bytes()[:5000])
    with pytest.raises(ValueError) as caught:
        make_dnn_tracker("nano_v2", folder)
    message = one_line(str(caught.value))
    assert message.startswith(
        f"OpenCV DNN tracker 'nano_v2' cannot load or run its model file(s): neckhead: {head}"
    )
    assert "backbone" not in message  # the backbone is fine and not blamed


def test_nanotrack_files_of_another_network_are_named(tmp_path, shared_models):
    folder = _nano_folder(tmp_path, shared_models)
    backbone, head = folder / "v2" / "nanotrack_backbone_sim.onnx", folder / "v2" / "nanotrack_head_sim.onnx"
    swapped = tmp_path / "swap.onnx"
    shutil.move(backbone, swapped)
    shutil.move(head, backbone)
    shutil.move(swapped, head)
    with pytest.raises(ValueError) as caught:
        make_dnn_tracker("nano_v2", folder)
    message = one_line(str(caught.value))
    assert f"backbone: {backbone}; neckhead: {head}; OpenCV said: " in message
    assert "is each file the nano_v2 network its parameter names?" in message


def test_tbt_evaluate_with_a_missing_onnx_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "models" / "v2").mkdir(parents=True)
    argv = ["evaluate", "--trackers", "nano_v2", "--model-dir", str(tmp_path / "models")]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert error_of(capsys).startswith(
        "tbt: error: OpenCV DNN tracker 'nano_v2' is missing 2 model file(s): "
    )


# ---------------------------------------------------------------------------------------------------------
# One bad video among good ones in training: a logged skip.


def _image_sequence(folder: Path, source: Sequence, name: str) -> tuple[Sequence, list[Path]]:
    """``source``'s frames written as PNG files (lossless), read back lazily as sequence ``name``."""
    folder.mkdir(parents=True)
    paths = []
    for index in range(len(source)):
        paths.append(folder / f"{index + 1:04d}.png")
        cv2.imwrite(str(paths[-1]), source.frames[index][..., ::-1])
    return Sequence(name, ImageFiles(paths), source.gt_boxes, source.absent, "test"), paths


def test_env_skips_clips_with_a_bad_frame_and_logs_them(tmp_path, caplog):
    good = make_moving_square_sequence(num_frames=12, seed=1)
    bad, paths = _image_sequence(tmp_path / "bad", make_moving_square_sequence(num_frames=12, seed=2), "bad")
    paths[0].write_bytes(b"")  # every clip of this 12-frame video starts on frame 0: each reset must skip it
    env = TrackingEnv(SequenceClipSource([good, bad]), clip_length=12, crop_size=32)
    with caplog.at_level(logging.WARNING):
        for seed in range(8):
            observation, info = env.reset(seed=seed)
            assert observation.shape == (2, 32, 32, 3) and env._clip.name.startswith("test/square1")
    assert (
        f"skipping a clip with bad input: clip test/bad[0:12] frame 0: unreadable frame (empty file, 0 bytes): {paths[0]}"
        in caplog.text
    )


def test_env_truncates_an_episode_at_a_bad_frame(tmp_path, caplog):
    source = make_moving_square_sequence(num_frames=6, seed=3)
    bad, paths = _image_sequence(tmp_path / "bad", source, "bad")
    assert cv2.imwrite(str(paths[3]), np.zeros((10, 10, 3), np.uint8))  # another size, mid-clip
    env = TrackingEnv(SequenceClipSource([bad]), clip_length=6, crop_size=32)
    env.reset(seed=0)
    steps = []
    with caplog.at_level(logging.WARNING):
        while not steps or not (steps[-1][2] or steps[-1][3]):
            steps.append(env.step(np.zeros(4)))
    observation, _, terminated, truncated, _ = steps[-1]
    assert (len(steps), terminated, truncated) == (2, False, True)
    assert observation.shape == (2, 32, 32, 3)
    assert (
        f"ending an episode early on bad input: clip test/bad[0:6] frame 3 ({paths[3]}): frame size changes "
        "from 128x96 (frame 0) to 10x10"
    ) in caplog.text


def test_env_gives_up_when_every_clip_is_bad(tmp_path):
    bad, paths = _image_sequence(tmp_path / "bad", make_moving_square_sequence(num_frames=4), "bad")
    for path in paths:
        path.write_bytes(b"broken")
    env = TrackingEnv(SequenceClipSource([bad]), clip_length=4, crop_size=32)
    with pytest.raises(DatasetError) as caught:
        env.reset(seed=0)
    assert one_line(str(caught.value)).startswith(
        f"{MAX_BAD_CLIPS} clips drawn in a row had bad input; the last: clip test/bad[0:4] frame 0: "
        "unreadable frame (not a decodable image)"
    )


def test_teacher_pool_skips_bad_videos_among_good_ones(ray_session, tmp_path, caplog):
    from tracking_by_trackers.teachers.registry import make_tracker
    from tracking_by_trackers.teachers.teacher_pool import TeacherPool
    from tracking_by_trackers.teachers.transfer_store import TransferSetStore

    good = [make_moving_square_sequence(num_frames=10, seed=seed) for seed in (4, 5)]
    empty_first, paths = _image_sequence(
        tmp_path / "a", make_moving_square_sequence(num_frames=10), "empty_first"
    )
    paths[0].write_bytes(b"")
    resized, resized_paths = _image_sequence(
        tmp_path / "b", make_moving_square_sequence(num_frames=10), "resized"
    )
    assert cv2.imwrite(str(resized_paths[5]), np.zeros((8, 8, 3), np.uint8))
    store = TransferSetStore(tmp_path / "store")
    teachers = {"kcf": functools.partial(make_tracker, "kcf")}
    with caplog.at_level(logging.ERROR):
        report = TeacherPool(num_actors=2).build(
            [good[0], empty_first, resized, good[1]], teachers, store, show_progress=False
        )
    assert report.ran == 2 and report.failed == []
    messages = {name: message for name, _, message in report.bad_input}
    assert messages["empty_first"] == (
        f"sequence test/empty_first frame 0: unreadable frame (empty file, 0 bytes): {paths[0]}"
    )
    assert messages["resized"].startswith(
        f"sequence test/resized frame 5 ({resized_paths[5]}): frame size changes"
    )
    assert "skipping empty_first for teacher kcf" in caplog.text
    assert all(store.has("test", video.name, "kcf") for video in good)
    assert not store.has("test", "empty_first", "kcf") and not store.has("test", "resized", "kcf")
