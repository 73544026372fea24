"""The OpenCV DNN teacher adapters without their (undownloadable) models: missing and unloadable model files
give clear errors, and with a stand-in cv2 tracker they behave like the classic OpenCV teachers."""

from __future__ import annotations

import dataclasses
import re

import cv2
import numpy as np
import pytest

from tracking_by_trackers.teachers import opencv_dnn_trackers
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.opencv_dnn_trackers import (
    DNN_TRACKER_KINDS,
    DNNTracker,
    find_model_files,
    make_dnn_tracker,
)
from tracking_by_trackers.teachers.tracker import Tracker

CONVENTIONAL_FILES = {
    "nano": ["nanotrack_backbone_sim.onnx", "nanotrack_head_sim.onnx"],
    "nano_v2": ["v2/nanotrack_backbone_sim.onnx", "nanotrack/v2/nanotrack_head_sim.onnx"],
    "nano_v1": ["v1/nanotrack_backbone_sim.onnx", "nanotrack/v1/nanotrack_head_sim.onnx"],
    "vit": ["object_tracking_vittrack_2023sep.onnx", "vitTracker.onnx"],
    "dasiamrpn": ["dasiamrpn_model.onnx", "dasiamrpn_kernel_cls1.onnx", "dasiamrpn_kernel_r1.onnx"],
}
WHERE_TO_GET = {
    "nano": "SiamTrackers",
    "nano_v2": "nanotrackv2",
    "nano_v1": "nanotrackv1",
    "vit": "opencv_zoo",
    "dasiamrpn": "samples/python/tracker.py",
}


def test_kinds():
    assert DNN_TRACKER_KINDS == ("nano", "nano_v2", "nano_v1", "vit", "dasiamrpn")


def test_unknown_kind_is_rejected():
    with pytest.raises(
        ValueError,
        match=r"unknown OpenCV DNN tracker kind 'goturn'; valid kinds: nano, nano_v2, nano_v1, vit",
    ):
        make_dnn_tracker("goturn", "models")


@pytest.mark.parametrize("kind", DNN_TRACKER_KINDS)
def test_missing_files_are_all_listed_with_full_paths_and_a_source(kind, tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"OpenCV DNN tracker '{kind}' is missing") as caught:
        make_dnn_tracker(kind, tmp_path)
    message = str(caught.value)
    for file_name in CONVENTIONAL_FILES[kind]:
        assert str(tmp_path / file_name) in message
    assert WHERE_TO_GET[kind] in message


def test_only_the_missing_files_are_listed(tmp_path):
    (tmp_path / "dasiamrpn_model.onnx").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"missing 2 model file\(s\)") as caught:
        make_dnn_tracker("dasiamrpn", tmp_path)
    message = str(caught.value)
    assert "dasiamrpn_kernel_cls1.onnx" in message and "dasiamrpn_kernel_r1.onnx" in message
    assert "dasiamrpn_model.onnx" not in message


def test_explicit_paths_are_checked_too(tmp_path):
    backbone, neckhead = tmp_path / "mine" / "b.onnx", tmp_path / "mine" / "h.onnx"
    with pytest.raises(FileNotFoundError, match=re.escape(str(backbone))) as caught:
        make_dnn_tracker("nano", backbone=backbone, neckhead=neckhead)
    assert str(neckhead) in str(caught.value)


def test_a_file_neither_given_nor_in_a_folder_is_reported_as_not_given(tmp_path):
    backbone = tmp_path / "b.onnx"
    backbone.write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"neckhead: not given \(pass neckhead=<path> or a model_dir"):
        make_dnn_tracker("nano", backbone=backbone)


def test_explicit_paths_win_over_the_folder(tmp_path):
    for name in CONVENTIONAL_FILES["nano"]:
        (tmp_path / name).write_bytes(b"")
    mine = tmp_path / "my_head.onnx"
    mine.write_bytes(b"")
    files = find_model_files("nano", tmp_path, neckhead=mine)
    assert files == {"backbone": tmp_path / "nanotrack_backbone_sim.onnx", "neckhead": mine}


def test_vit_also_finds_opencvs_default_file_name(tmp_path):
    (tmp_path / "vitTracker.onnx").write_bytes(b"")
    assert find_model_files("vit", tmp_path) == {"net": tmp_path / "vitTracker.onnx"}


def test_unknown_model_parameter_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"'vit' has no model file parameter backbone; its parameters are"):
        make_dnn_tracker("vit", tmp_path, backbone=tmp_path / "b.onnx")


def test_files_opencv_cannot_load_are_named_in_a_value_error(tmp_path):
    backbone, neckhead = tmp_path / "nanotrack_backbone_sim.onnx", tmp_path / "nanotrack_head_sim.onnx"
    backbone.write_bytes(b"")
    neckhead.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=r"'nano' cannot load or run its model file\(s\)") as caught:
        make_dnn_tracker("nano", tmp_path)
    assert not isinstance(caught.value, cv2.error)
    message = str(caught.value)
    assert f"backbone: {backbone}" in message and f"neckhead: {neckhead}" in message


def test_an_empty_vit_model_is_named(tmp_path):
    net = tmp_path / "empty.onnx"
    net.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(f"net: {net}")):
        make_dnn_tracker("vit", net=net)


def _identity_onnx() -> bytes:
    """A valid ONNX model, y = Identity(x) with x of shape (1, 1, 1, 1), encoded by hand (no onnx package)."""

    def varint(number: int) -> bytes:
        out = bytearray()
        while True:
            out.append((number & 0x7F) | (0x80 if number > 0x7F else 0))
            number >>= 7
            if not number:
                return bytes(out)

    def number(field: int, value: int) -> bytes:
        return varint(field << 3) + varint(value)

    def message(field: int, payload: bytes | str) -> bytes:
        payload = payload.encode() if isinstance(payload, str) else payload
        return varint(field << 3 | 2) + varint(len(payload)) + payload

    def tensor_input(name: str) -> bytes:  # ValueInfoProto: name, TypeProto.tensor_type(float, 4 dims of 1)
        shape = message(1, number(1, 1)) * 4
        return message(1, name) + message(2, message(1, number(1, 1) + message(2, shape)))

    node = message(1, "x") + message(2, "y") + message(4, "Identity")
    inputs, outputs = message(11, tensor_input("x")), message(12, tensor_input("y"))
    graph = message(1, node) + message(2, "g") + inputs + outputs
    return number(1, 8) + message(7, graph) + message(8, message(1, "") + number(2, 13))


def test_a_valid_model_of_another_network_is_named_not_raised_from_cv2(tmp_path):
    net = tmp_path / "identity.onnx"
    net.write_bytes(_identity_onnx())
    cv2.dnn.readNetFromONNX(str(net))  # loads fine: only running it as a tracker fails
    with pytest.raises(ValueError, match=r"'vit' cannot load or run its model file\(s\)") as caught:
        make_dnn_tracker("vit", net=net)
    assert not isinstance(caught.value, cv2.error)
    assert f"net: {net}" in str(caught.value) and "OpenCV said:" in str(caught.value)


class _StandInCV2Tracker:
    """Moves the init rectangle 2 px right per update, reports failure on its third update, and records the
    images it is given."""

    created = 0

    def __init__(self):
        type(self).created += 1
        self.images = []

    @classmethod
    def create(cls, params):
        return cls()

    def init(self, image, rect):
        self.images.append(image)
        self.rect, self.updates = rect, 0

    def update(self, image):
        self.images.append(image)
        self.updates += 1
        x, y, w, h = self.rect
        return self.updates != 3, (x + 2 * self.updates, y, w, h)

    def getTrackingScore(self):
        return 0.25 * self.updates


@pytest.fixture
def stand_in_vit(tmp_path, monkeypatch):
    """A "vit" tracker whose cv2 object is :class:`_StandInCV2Tracker`, built over a dummy model file."""
    spec = opencv_dnn_trackers._SPECS["vit"]
    monkeypatch.setitem(
        opencv_dnn_trackers._SPECS, "vit", dataclasses.replace(spec, cv2_class=_StandInCV2Tracker)
    )
    monkeypatch.setattr(_StandInCV2Tracker, "created", 0)
    (tmp_path / "vitTracker.onnx").write_bytes(b"")
    return make_dnn_tracker("vit", tmp_path, name="vit_test")


def test_dnn_tracker_shares_the_opencv_teachers_behaviour(stand_in_vit, moving_square):
    assert isinstance(stand_in_vit, DNNTracker) and stand_in_vit.name == "vit_test"
    assert isinstance(stand_in_vit, Tracker)
    result = track_sequence(stand_in_vit, moving_square.slice(0, 6))
    x, y = moving_square.init_box[:2]
    # The third update fails: its box is the last good one and the frame is not ok.
    expected_x = [x, x + 2, x + 4, x + 4, x + 8, x + 10]
    np.testing.assert_array_equal(result.boxes[:, 0], expected_x)
    np.testing.assert_array_equal(result.ok, [True, True, True, False, True, True])
    assert stand_in_vit.last_score == pytest.approx(1.25)
    frames = [moving_square.frames[index] for index in range(6)]
    np.testing.assert_array_equal(stand_in_vit._tracker.images, [frame[..., ::-1] for frame in frames])


def test_models_are_tried_when_made_and_loaded_afresh_for_each_init(stand_in_vit, moving_square):
    assert _StandInCV2Tracker.created == 1
    track_sequence(stand_in_vit, moving_square.slice(0, 3))
    track_sequence(stand_in_vit, moving_square.slice(0, 3))
    assert _StandInCV2Tracker.created == 3


@pytest.mark.data
@pytest.mark.parametrize("kind", ["nano_v2", "nano_v1"])
@pytest.mark.parametrize("folder", ["models root", "nanotrack folder", "environment"])
def test_both_nanotrack_versions_are_found_in_one_model_folder(kind, folder, shared_models, monkeypatch):
    from tracking_by_trackers.teachers.registry import tracker_factory

    version = kind.split("_")[1]
    model_dir = {"models root": shared_models, "nanotrack folder": shared_models / "nanotrack"}.get(folder)
    if folder == "environment":
        monkeypatch.setenv("TBT_MODEL_DIR", str(shared_models))
    name, factory = tracker_factory(kind, model_dir=model_dir)
    tracker = factory()
    assert name == kind and isinstance(tracker, Tracker)
    assert tracker.model_files["backbone"].parent == (shared_models / "nanotrack" / version).absolute()


@pytest.mark.data
@pytest.mark.parametrize("kind", ["nano_v2", "nano_v1"])
def test_nanotrack_follows_a_real_target(kind, shared_models, shared_data):
    from tracking_by_trackers.envs.boxes import iou
    from tracking_by_trackers.envs.datasets.otb import read_otb

    sequence = next(s for s in read_otb(shared_data / "otb") if s.name == "Crossing")
    result = track_sequence(make_dnn_tracker(kind, shared_models), sequence.slice(0, 40))
    ious = iou(result.boxes[1:], sequence.gt_boxes[1:40])
    assert ious.mean() > 0.5, f"{kind} on Crossing: mean IoU {ious.mean():.3f}"


def test_a_dnn_tracker_without_a_model_folder_names_every_way_to_give_one(monkeypatch):
    from tracking_by_trackers.teachers.registry import tracker_factory

    monkeypatch.delenv("TBT_MODEL_DIR", raising=False)
    with pytest.raises(
        ValueError,
        match=r"give the folder of its model files \(--model-dir, the config's model_dir, or \$TBT_MODEL_DIR\)",
    ):
        tracker_factory("nano_v2")


@pytest.mark.data
def test_making_and_starting_nanotrack_logs_nothing(shared_models, moving_square, capfd):
    tracker = make_dnn_tracker("nano_v2", shared_models)
    tracker.init(moving_square.frames[0], moving_square.init_box)
    tracker.update(moving_square.frames[1])
    assert "setPreferableTarget" not in capfd.readouterr().err
