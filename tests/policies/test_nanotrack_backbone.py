"""NanoTrack v2's backbone: its checkpoint loads by name, its features equal the ONNX backbone's, bad files are
named, and the ``nanotrack`` student preset finds its weights in the model folder."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig
from tracking_by_trackers.policies.backbones import make_backbone, normalize_for
from tracking_by_trackers.policies.nanotrack_backbone import NanoTrackBackbone, find_nanotrack_checkpoint
from tracking_by_trackers.policies.student_model import StudentNetwork


@pytest.fixture(scope="module")
def nanotrack_v2(shared_models):
    return shared_models / "nanotrack" / "v2"


def test_output_side_and_width():
    backbone = NanoTrackBackbone().eval()
    assert NanoTrackBackbone.output_side(128) == 8 and NanoTrackBackbone.output_side(255) == 16
    with torch.no_grad():
        assert backbone(torch.zeros(2, 3, 128, 128)).shape == (2, 48, 8, 8)


@pytest.mark.data
def test_every_backbone_tensor_of_the_checkpoint_has_a_place(nanotrack_v2):
    checkpoint = torch.load(nanotrack_v2 / "nanotrackv2.pth", map_location="cpu", weights_only=False)
    names = {k[len("backbone.") :] for k in checkpoint["state_dict"] if k.startswith("backbone.")}
    assert names == set(NanoTrackBackbone().state_dict()) and len(names) == 168


@pytest.mark.data
@pytest.mark.parametrize("side", [128, 255])
def test_features_equal_the_onnx_backbones(nanotrack_v2, side):
    """The fidelity check: the same input through our module and through OpenCV's DNN run of the ONNX file
    that NanoTrack's own tracker uses (whose batch norm is folded into the convolutions)."""
    torch.set_num_threads(1)
    backbone = NanoTrackBackbone()
    backbone.load_pretrained(nanotrack_v2 / "nanotrackv2.pth")
    backbone.eval()
    crops = np.random.default_rng(side).uniform(0, 255, (2, 3, side, side)).astype(np.float32)
    with torch.no_grad():
        ours = backbone(torch.from_numpy(crops)).numpy()
    net = cv2.dnn.readNetFromONNX(str(nanotrack_v2 / "nanotrack_backbone_sim.onnx"))
    theirs = []
    for crop in crops:
        net.setInput(crop[None])
        theirs.append(net.forward())
    theirs = np.concatenate(theirs)
    assert ours.shape == theirs.shape == (2, 48, -(-side // 16), -(-side // 16))
    assert np.abs(theirs).mean() > 1.0  # features that carry signal, not a blank map
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)


def test_a_missing_checkpoint_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nanotrackv2.pth from HonglinChu/SiamTrackers"):
        NanoTrackBackbone().load_pretrained(tmp_path / "nanotrackv2.pth")
    with pytest.raises(FileNotFoundError, match=r"not found; looked at .*nanotrack/v2/nanotrackv2.pth"):
        find_nanotrack_checkpoint(tmp_path)


def test_a_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / "nanotrackv2.pth"
    torch.save({"state_dict": NanoTrackBackbone().state_dict()}, path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match=rf"{path} is not a readable PyTorch checkpoint"):
        NanoTrackBackbone().load_pretrained(path)


def test_another_networks_checkpoint_is_named_with_its_keys(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(make_backbone("resnet18").state_dict(), path)
    with pytest.raises(
        ValueError, match=r"is not a NanoTrack v2 backbone checkpoint: missing features\.0\.0\.weight"
    ):
        NanoTrackBackbone().load_pretrained(path)


def test_a_bare_state_dict_with_or_without_the_prefix_loads(tmp_path):
    source = NanoTrackBackbone()
    for prefix in ("", "backbone."):
        path = tmp_path / f"{prefix or 'bare'}.pth"
        torch.save({f"{prefix}{k}": v for k, v in source.state_dict().items()}, path)
        target = NanoTrackBackbone()
        target.load_pretrained(path)
        assert torch.equal(target.features[3].conv[0].weight, source.features[3].conv[0].weight)


def test_the_input_is_nanotracks_bgr_pixel_values():
    crops = torch.tensor([[[[10, 20, 30]]]], dtype=torch.uint8)  # one 1×1 RGB crop
    assert normalize_for("nanotrack_v2")(crops).flatten().tolist() == pytest.approx([30.0, 20.0, 10.0])


def test_the_nanotrack_student_takes_128_pixel_crops():
    net = StudentNetwork.from_preset("nanotrack").eval()
    obs = torch.zeros(1, 2, 2, 128, 128, 3, dtype=torch.uint8)
    mu, value, _ = net(obs, net.initial_state(1))
    assert mu.shape == (1, 2, 4) and value.shape == (1, 2)
    assert net.fc[0].in_features == 2 * 48 * 8 * 8


@pytest.mark.data
def test_the_preset_finds_its_weights_in_the_model_folder(shared_models, monkeypatch):
    monkeypatch.delenv("TBT_MODEL_DIR", raising=False)
    expected = str((shared_models / "nanotrack" / "v2" / "nanotrackv2.pth").resolve())
    assert TrainConfig(preset="nanotrack", model_dir=str(shared_models)).backbone_weights() == expected
    monkeypatch.setenv("TBT_MODEL_DIR", str(shared_models / "nanotrack"))
    assert TrainConfig(preset="nanotrack").backbone_weights() == expected


def test_the_preset_without_a_model_folder_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("TBT_MODEL_DIR", raising=False)
    with pytest.raises(
        ConfigError, match=r"preset 'nanotrack' loads NanoTrack v2's pretrained backbone: give"
    ):
        TrainConfig(preset="nanotrack").validate()
    with pytest.raises(
        ConfigError, match=r"preset 'nanotrack': NanoTrack v2 checkpoint nanotrackv2.pth not found"
    ):
        TrainConfig(preset="nanotrack", model_dir=str(tmp_path)).validate()


@pytest.mark.data
def test_the_rl_module_loads_the_backbone_weights_it_is_given(nanotrack_v2):
    import gymnasium as gym

    from tracking_by_trackers.policies.kdrl.torch.student_torch_rl_module import StudentTorchRLModule

    path = nanotrack_v2 / "nanotrackv2.pth"
    module = StudentTorchRLModule(
        observation_space=gym.spaces.Box(0, 255, (2, 128, 128, 3), np.uint8),
        action_space=gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
        inference_only=False,
        model_config={"preset": "nanotrack", "backbone_weights": str(path), "max_seq_len": 7},
    )
    stored = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    torch.testing.assert_close(
        module.net.backbone.features[8].conv[7].weight, stored["backbone.features.8.conv.7.weight"]
    )
