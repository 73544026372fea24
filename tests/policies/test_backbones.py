"""Backbones: torchvision-compatible ResNet-18 names, checkpoint loading, output shapes, normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tracking_by_trackers.policies.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RESNET18_IMAGENET_URL,
    CheckpointMismatchError,
    ImageNetNormalize,
    ResNet18Backbone,
    SmallConvBackbone,
    make_backbone,
)

# Two cores: one torch thread per process avoids oversubscription when tests run beside other work.
torch.set_num_threads(1)


def _bn(prefix: str, channels: int) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (f"{prefix}.weight", (channels,)),
        (f"{prefix}.bias", (channels,)),
        (f"{prefix}.running_mean", (channels,)),
        (f"{prefix}.running_var", (channels,)),
        (f"{prefix}.num_batches_tracked", ()),
    ]


def torchvision_resnet18_entries(with_fc: bool = True) -> list[tuple[str, tuple[int, ...]]]:
    """torchvision resnet18's state-dict names and shapes, written out from the architecture.

    An independent re-derivation (torchvision does not import here): stem, then four layers of two
    BasicBlocks, a 1×1 stride-2 downsample on block 0 of layer2..layer4, then fc 512 → 1000.
    """
    entries = [("conv1.weight", (64, 3, 7, 7)), *_bn("bn1", 64)]
    in_channels = 64
    for layer, channels in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            prefix = f"layer{layer}.{block}"
            block_in = in_channels if block == 0 else channels
            entries.append((f"{prefix}.conv1.weight", (channels, block_in, 3, 3)))
            entries += _bn(f"{prefix}.bn1", channels)
            entries.append((f"{prefix}.conv2.weight", (channels, channels, 3, 3)))
            entries += _bn(f"{prefix}.bn2", channels)
            if block == 0 and layer > 1:
                entries.append((f"{prefix}.downsample.0.weight", (channels, block_in, 1, 1)))
                entries += _bn(f"{prefix}.downsample.1", channels)
        in_channels = channels
    if with_fc:
        entries += [("fc.weight", (1000, 512)), ("fc.bias", (1000,))]
    return entries


def fake_torchvision_checkpoint(seed: int = 0, with_counters: bool = True) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in torchvision_resnet18_entries():
        if name.endswith("num_batches_tracked"):
            if with_counters:
                state[name] = torch.randint(1, 10**6, (), generator=generator)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[name] = torch.randn(shape, generator=generator)
    return state


@pytest.fixture(scope="module")
def resnet() -> ResNet18Backbone:
    return ResNet18Backbone()


def test_reference_entry_count_matches_torchvision() -> None:
    # 6 stem + 8 blocks × 12 + 3 downsamples × 6 = 120, plus fc.weight and fc.bias = 122.
    assert len(torchvision_resnet18_entries()) == 122
    assert len(torchvision_resnet18_entries(with_fc=False)) == 120


def test_resnet18_state_dict_equals_torchvision_minus_fc(resnet: ResNet18Backbone) -> None:
    ours = [(name, tuple(t.shape)) for name, t in resnet.state_dict().items()]
    assert ours == torchvision_resnet18_entries(with_fc=False)


@pytest.mark.parametrize("with_counters", [True, False], ids=["all-122-keys", "pre-0.4.1-no-counters"])
def test_imagenet_checkpoint_loads_unchanged(tmp_path: Path, with_counters: bool) -> None:
    checkpoint = fake_torchvision_checkpoint(with_counters=with_counters)
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(checkpoint, path)

    loaded = ResNet18Backbone.from_checkpoint(path).state_dict()

    for name, tensor in checkpoint.items():
        if name.startswith("fc."):
            assert name not in loaded
        else:
            assert torch.equal(loaded[name], tensor), name


def test_load_imagenet_weights_updates_in_place(tmp_path: Path) -> None:
    checkpoint = fake_torchvision_checkpoint(seed=1)
    path = tmp_path / "weights.pth"
    torch.save(checkpoint, path)
    backbone = ResNet18Backbone()
    backbone.load_imagenet_weights(path)
    assert torch.equal(backbone.layer4[1].bn2.running_var, checkpoint["layer4.1.bn2.running_var"])


def test_checkpoint_with_renamed_key_names_both_keys(tmp_path: Path) -> None:
    checkpoint = fake_torchvision_checkpoint()
    checkpoint["layer4.1.bn2.running_variance"] = checkpoint.pop("layer4.1.bn2.running_var")
    path = tmp_path / "renamed.pth"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointMismatchError) as error:
        ResNet18Backbone.from_checkpoint(path)
    message = str(error.value)
    assert str(path) in message
    assert "not a torchvision resnet18 state dict" in message
    assert "missing layer4.1.bn2.running_var" in message
    assert "unexpected layer4.1.bn2.running_variance" in message


def test_checkpoint_with_wrong_shape_names_the_key(tmp_path: Path) -> None:
    checkpoint = fake_torchvision_checkpoint()
    checkpoint["layer2.0.downsample.0.weight"] = torch.zeros(128, 64, 3, 3)
    path = tmp_path / "wrong_shape.pth"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointMismatchError, match=r"layer2\.0\.downsample\.0\.weight \(128, 64, 3, 3\)"):
        ResNet18Backbone.from_checkpoint(path)


def test_missing_checkpoint_names_path_and_url(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "resnet18-f37072fd.pth"
    with pytest.raises(FileNotFoundError) as error:
        ResNet18Backbone.from_checkpoint(path)
    assert str(path) in str(error.value)
    assert RESNET18_IMAGENET_URL in str(error.value)


def test_resnet18_output_shape(resnet: ResNet18Backbone) -> None:
    with torch.inference_mode():
        features = resnet.eval()(torch.randn(2, 3, 128, 128))
    assert features.shape == (2, 512, 4, 4)
    assert resnet.out_channels * resnet.output_side(128) ** 2 == 8192
    assert resnet.output_side(127) == 4 and resnet.output_side(129) == 5


def test_small_output_shape_and_size() -> None:
    backbone = SmallConvBackbone()
    with torch.inference_mode():
        features = backbone.eval()(torch.randn(3, 3, 64, 64))
    assert features.shape == (3, 64, 4, 4)
    assert backbone.out_channels == 64 and backbone.output_side(64) == 4
    assert 0.09e6 < sum(p.numel() for p in backbone.parameters()) < 0.2e6


def test_small_is_configurable() -> None:
    backbone = SmallConvBackbone(channels=(8, 16, 32, 32, 48), strides=(2, 2, 2, 2, 2))
    with torch.inference_mode():
        features = backbone.eval()(torch.randn(1, 3, 64, 64))
    assert features.shape == (1, 48, 2, 2)
    assert backbone.output_side(64) == 2
    with pytest.raises(ValueError, match="equal length"):
        SmallConvBackbone(channels=(16, 32), strides=(2,))


def test_normalize_hand_computed_pixel() -> None:
    crops = torch.zeros(1, 2, 4, 4, 3, dtype=torch.uint8)
    crops[0, 1, 2, 3] = torch.tensor([255, 0, 128], dtype=torch.uint8)
    out = ImageNetNormalize()(crops)
    expected = torch.tensor(
        [
            (1.0 - IMAGENET_MEAN[0]) / IMAGENET_STD[0],
            (0.0 - IMAGENET_MEAN[1]) / IMAGENET_STD[1],
            (128 / 255 - IMAGENET_MEAN[2]) / IMAGENET_STD[2],
        ]
    )
    torch.testing.assert_close(out[1, :, 2, 3], expected)
    assert out.dtype == torch.float32


def test_normalize_layout_keeps_sample_then_crop_order() -> None:
    batch, side = 3, 5
    # Each crop is filled with a distinct value 10*sample + crop, in every channel.
    tags = (10 * torch.arange(batch)[:, None] + torch.arange(2)[None, :]).to(torch.uint8)
    crops = tags[:, :, None, None, None].expand(batch, 2, side, side, 3).contiguous()
    # A channel gradient checks that the last axis becomes axis 1.
    crops[..., 1] += 100
    out = ImageNetNormalize(mean=(0, 0, 0), std=(1 / 255, 1 / 255, 1 / 255))(crops)
    assert out.shape == (2 * batch, 3, side, side)
    order = out[:, 0, 0, 0].round().long().tolist()
    assert order == [0, 1, 10, 11, 20, 21]
    torch.testing.assert_close(out[:, 1] - out[:, 0], torch.full((2 * batch, side, side), 100.0))


def test_normalize_rejects_float_or_channel_first_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ImageNetNormalize()(torch.zeros(1, 2, 4, 4, 3))
    with pytest.raises(ValueError, match="uint8"):
        ImageNetNormalize()(torch.zeros(1, 2, 3, 4, 4, dtype=torch.uint8))


def test_normalize_has_no_state_dict_entries() -> None:
    assert ImageNetNormalize().state_dict() == {}


def test_make_backbone_presets() -> None:
    assert isinstance(make_backbone("resnet18"), ResNet18Backbone)
    assert isinstance(make_backbone("small"), SmallConvBackbone)


def test_make_backbone_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet50'; valid names: resnet18, small"):
        make_backbone("resnet50")
