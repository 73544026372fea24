"""Image backbones shared by the student's two branches, and the uint8 → float input normalisation.

Three backbones (docs/method.md, *The student network*):

- ``"resnet18"``: ResNet-18 without its average pool and fc, as in the paper. A 128×128 crop gives
  512×4×4 = 8192 features. The module is written here rather than imported from torchvision (which does
  not import against our CPU torch build), but its submodules carry torchvision's exact names
  (``conv1``, ``bn1``, ``layerN.M.{conv1,bn1,conv2,bn2}``, ``layerN.0.downsample.{0,1}``) so that the
  ImageNet checkpoint a user downloads (``resnet18-f37072fd.pth``) loads with no key remapping; a
  remapping table would be one more thing to get silently wrong.
- ``"small"``: a cheap CNN for CPUs, five 3×3 conv + group norm + ReLU layers with 16-32-64-64-64
  channels (~0.1 M parameters). On one CPU thread samples per second beat capacity, so
  this is the preset used for CPU training.

- ``"nanotrack_v2"``: NanoTrack v2's MobileNetV3-style backbone, pretrained on real tracking video
  (:mod:`tracking_by_trackers.policies.nanotrack_backbone`); a 128×128 crop gives 48×8×8 = 3072 features.

All take float (N, 3, S, S) crops converted by :func:`normalize_for` (ImageNet's mean and std, or
NanoTrack's BGR [0, 255]), expose ``out_channels``
and ``output_side(input_side)``, and return a contiguous (N, out_channels, side, side) map that the
student flattens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "BACKBONE_NAMES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RESNET18_IMAGENET_URL",
    "CheckpointMismatchError",
    "ImageNetNormalize",
    "ResNet18Backbone",
    "SmallConvBackbone",
    "make_backbone",
    "normalize_for",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
RESNET18_IMAGENET_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"

# torchvision's classifier head: present in its checkpoint, absent from a backbone.
_IGNORED_CHECKPOINT_PREFIXES = ("fc.",)
# torchvision's ImageNet files were saved before BatchNorm gained this counter (PyTorch 0.4.1), so a
# genuine checkpoint lacks it; it only matters for momentum=None, which we never use.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


def _conv_output_side(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


class ImageNetNormalize(nn.Module):
    """uint8 channel-last crops → float channel-first crops normalised with ImageNet's mean and std.

    Input: the env's observation, (B, 2, S, S, 3) uint8 RGB (two crops per sample, channel-last); any
    leading dims are accepted and flattened, so (N, S, S, 3) works too.
    Output: (B*2, 3, S, S) float32, ``(x / 255 - mean) / std`` per channel, with crop order preserved:
    sample0-crop0, sample0-crop1, sample1-crop0, … (the student splits it back with ``view(B, 2, …)``).

    The normalisation is folded into one affine ``x * scale + shift`` (a single ``addcmul``), so the
    whole conversion is a view, one dtype cast and one fused kernel. The result keeps the channel-last
    memory layout of the input (a channels_last tensor): CPU convolutions take it without a copy and
    run faster on it than on a contiguous input.
    """

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(
        self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD, bgr: bool = False
    ) -> None:
        super().__init__()
        # Backbones trained on OpenCV's BGR images (NanoTrack) take the channels the other way round.
        self.bgr = bool(bgr)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        # Constants, not state: kept out of the state dict so student checkpoints stay backbone-only.
        self.register_buffer("scale", 1.0 / (255.0 * std_t), persistent=False)
        self.register_buffer("shift", -mean_t / std_t, persistent=False)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        if crops.dtype != torch.uint8 or crops.ndim < 4 or crops.shape[-1] != 3:
            raise ValueError(
                f"expected uint8 crops of shape (..., S, S, 3), got {crops.dtype} {tuple(crops.shape)}"
            )
        channel_first = crops.reshape(-1, *crops.shape[-3:]).permute(0, 3, 1, 2)
        if self.bgr:
            channel_first = channel_first.flip(1)
        return torch.addcmul(self.shift, channel_first.to(self.scale.dtype), self.scale)


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock (two 3×3 convs, identity or 1×1-conv shortcut), same names."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys or shapes do not match the backbone it is loaded into."""


class ResNet18Backbone(nn.Module):
    """ResNet-18 up to ``layer4`` (no average pool, no fc), with torchvision's state-dict names.

    Input (N, 3, H, W) float, ImageNet-normalised; output (N, 512, ⌈H/32⌉, ⌈W/32⌉): a 128×128 crop
    gives 512×4×4 = 8192 features. Random init unless ImageNet weights are loaded with
    :meth:`load_imagenet_weights` or :meth:`from_checkpoint`.
    """

    out_channels = 512

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, 64, stride=1)
        self.layer2 = self._make_layer(64, 128, stride=2)
        self.layer3 = self._make_layer(128, 256, stride=2)
        self.layer4 = self._make_layer(256, 512, stride=2)
        self._init_like_torchvision()

    @staticmethod
    def _make_layer(in_channels: int, channels: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels, 1))

    def _init_like_torchvision(self) -> None:
        # Same scheme as torchvision, so training from scratch behaves like the paper's ablations.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        # A channels_last input (see ImageNetNormalize) gives a channels_last map; make it standard so
        # that callers may `.view` it. The map is small, so the copy is cheap.
        return x.contiguous()

    @staticmethod
    def output_side(input_side: int) -> int:
        """Side of the output map for a square input of side ``input_side`` (128 → 4)."""
        side = _conv_output_side(input_side, kernel=7, stride=2, padding=3)
        side = _conv_output_side(side, kernel=3, stride=2, padding=1)  # maxpool
        for _ in range(3):  # the stride-2 first conv of layer2..layer4
            side = _conv_output_side(side, kernel=3, stride=2, padding=1)
        return side

    def load_pretrained(self, path: str | Path) -> None:
        """The backbones' common name for loading pretrained weights: :meth:`load_imagenet_weights`."""
        self.load_imagenet_weights(path)

    def load_imagenet_weights(self, path: str | Path) -> None:
        """Load torchvision's ImageNet ``resnet18-f37072fd.pth`` (or any resnet18 state dict) in place.

        ``fc.*`` is ignored (we have no classifier) and ``*.num_batches_tracked`` may be absent (the
        official file predates it); any other missing or unexpected key, or a shape mismatch, raises
        :class:`CheckpointMismatchError` naming the keys.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            CheckpointMismatchError: the file is not a torchvision resnet18 state dict.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"ResNet-18 ImageNet checkpoint not found at {path}: download torchvision's weights from "
                f"{RESNET18_IMAGENET_URL} on a machine with internet access and copy the file there"
            )
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(checkpoint, Mapping):
            raise CheckpointMismatchError(
                f"checkpoint {path} is not a torchvision resnet18 state dict: it holds a "
                f"{type(checkpoint).__name__}, not a mapping of names to tensors"
            )
        self.load_state_dict(self._checked_state_dict(checkpoint, path), strict=True)

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> ResNet18Backbone:
        """A new backbone with the weights of ``path`` (see :meth:`load_imagenet_weights`)."""
        backbone = cls()
        backbone.load_imagenet_weights(path)
        return backbone

    def _checked_state_dict(self, checkpoint: Mapping[str, object], path: Path) -> dict[str, torch.Tensor]:
        expected = self.state_dict()
        given = {k: v for k, v in checkpoint.items() if not str(k).startswith(_IGNORED_CHECKPOINT_PREFIXES)}
        missing = [k for k in expected if k not in given and not k.endswith(_OPTIONAL_SUFFIX)]
        unexpected = [str(k) for k in given if k not in expected]
        mismatched = [
            f"{k} {_shape_of(v)} (expected {tuple(expected[k].shape)})"
            for k, v in given.items()
            if k in expected and _shape_of(v) != tuple(expected[k].shape)
        ]
        problems = [
            f"{label} {', '.join(keys)}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
            if keys
        ]
        if problems:
            raise CheckpointMismatchError(
                f"checkpoint {path} is not a torchvision resnet18 state dict: {'; '.join(problems)}"
            )
        # Fill the optional counters from our own buffers so that a strict load_state_dict accepts it.
        return {k: given[k] if k in given else value for k, value in expected.items()}


def _shape_of(value: object) -> tuple[int, ...] | str:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


class SmallConvBackbone(nn.Module):
    """The ``small`` preset: 3×3 conv + group norm + ReLU layers, ~0.1 M parameters.

    Group norm, not batch norm: the student's batch norm runs on stored statistics (see
    ``tracking_by_trackers.policies.student_model``), and a backbone trained from scratch has none worth storing: frozen at
    their initial values (mean 0, variance 1) they normalise nothing, activations shrink layer after
    layer under PyTorch's default init, and a student trained that way learned an output that hardly
    depended on its input. Group norm normalises each sample on its own, so
    it is as batch-independent as frozen statistics and still keeps activations at unit scale.

    Defaults: channels 16-32-64-64-64 and strides 2-2-2-2-1, so a 64×64 crop gives a 64×4×4 map (1024
    features per crop, 2×1024 inputs to the first FC). Four halvings rather than five: 4×4 keeps enough
    spatial detail to regress the box offset; one more stride-2 layer (2×2) would
    leave 256 features, mostly position-blind. The last conv keeps stride 1 to add depth at no cost in
    resolution. Padding 1 means each stride-2 layer maps side s to ⌈s/2⌉.
    """

    def __init__(
        self, channels: Sequence[int] = (16, 32, 64, 64, 64), strides: Sequence[int] = (2, 2, 2, 2, 1)
    ) -> None:
        super().__init__()
        if len(channels) != len(strides) or not channels:
            raise ValueError(
                f"channels and strides must be non-empty and of equal length, got {channels} and {strides}"
            )
        self.channels = tuple(int(c) for c in channels)
        self.strides = tuple(int(s) for s in strides)
        layers: list[nn.Module] = []
        in_channels = 3
        for out_channels, stride in zip(self.channels, self.strides, strict=True):
            # No conv bias: the following norm's shift makes it redundant. 8 channels per group.
            layers += [
                nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                nn.GroupNorm(max(1, out_channels // 8), out_channels),
                nn.ReLU(inplace=True),
            ]
            in_channels = out_channels
        self.layers = nn.Sequential(*layers)
        self.out_channels = self.channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Contiguous for the same reason as ResNet18Backbone.forward.
        return self.layers(x).contiguous()

    def output_side(self, input_side: int) -> int:
        """Side of the output map for a square input of side ``input_side`` (64 → 4 by default)."""
        return _fold_sides(input_side, self.strides)


def _fold_sides(side: int, strides: Sequence[int]) -> int:
    for stride in strides:
        side = _conv_output_side(side, kernel=3, stride=stride, padding=1)
    return side


def _nanotrack_v2() -> nn.Module:
    from tracking_by_trackers.policies.nanotrack_backbone import NanoTrackBackbone

    return NanoTrackBackbone()


_BACKBONES: dict[str, Callable[[], nn.Module]] = {
    "resnet18": ResNet18Backbone,
    "small": SmallConvBackbone,
    "nanotrack_v2": _nanotrack_v2,
}
BACKBONE_NAMES: tuple[str, ...] = tuple(_BACKBONES)


def normalize_for(name: str) -> ImageNetNormalize:
    """The input conversion backbone ``name`` was trained with: ImageNet's mean and std on RGB, except
    NanoTrack's BGR pixel values in [0, 255] (:mod:`tracking_by_trackers.policies.nanotrack_backbone`)."""
    if name == "nanotrack_v2":
        return ImageNetNormalize(mean=(0.0, 0.0, 0.0), std=(1 / 255, 1 / 255, 1 / 255), bgr=True)
    return ImageNetNormalize()


def make_backbone(name: str) -> nn.Module:
    """A freshly initialised backbone by preset name: ``"resnet18"``, ``"small"`` or ``"nanotrack_v2"``."""
    try:
        factory = _BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; valid names: {', '.join(BACKBONE_NAMES)}") from None
    return factory()
