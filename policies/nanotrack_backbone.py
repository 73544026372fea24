"""NanoTrack v2's backbone, written here with the state-dict names of its PyTorch checkpoint.

NanoTrack (Honglin Chu, Apache-2.0) is a lightweight siamese tracker whose backbone was trained on real
tracking video (GOT-10k and others). Its backbone is the first nine blocks of MobileNetV3-Small in the
layout of the widely used ``mobilenetv3.pytorch`` implementation (``features.N.conv.M``): a 3×3 stride-2
stem with hard-swish, then inverted residual blocks, stride 16 in all, 48 channels out. A 128×128 crop
(the paper's crop side) gives a 48×8×8 map, 3072 features per crop.

Why in-house rather than converting the ONNX graph: the ONNX file has its batch norm folded into the
convolutions, so a converted module would have no batch norm to keep frozen and would train the folded
weights as one; the PyTorch checkpoint (``nanotrackv2.pth``) has the unfolded weights and statistics, and
~60 lines with its exact names load it with no remapping table. A test checks that the features equal the
ONNX backbone's, run by OpenCV's DNN module, on the same input.

Input: NanoTrack's convention, BGR pixel values in [0, 255] (crops made with OpenCV, not normalised):
:func:`nanotrack_normalize` converts the env's RGB uint8 crops. Batch norm runs on the checkpoint's
statistics (the student keeps every batch norm in eval mode, see
:mod:`tracking_by_trackers.policies.student_model`); its affine parameters train.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "NANOTRACK_V2_BLOCKS",
    "NANOTRACK_V2_CHECKPOINT",
    "NanoTrackBackbone",
    "find_nanotrack_checkpoint",
]

NANOTRACK_V2_CHECKPOINT = "nanotrackv2.pth"
_CHECKPOINT_PREFIX = "backbone."
_OPTIONAL_SUFFIX = ".num_batches_tracked"

# (kernel, expanded width, output width, squeeze-excite, hard-swish, stride) of blocks 1..8.
NANOTRACK_V2_BLOCKS: tuple[tuple[int, int, int, bool, bool, int], ...] = (
    (3, 16, 16, True, False, 2),
    (3, 72, 24, False, False, 2),
    (3, 88, 24, False, False, 1),
    (5, 96, 40, True, True, 2),
    (5, 240, 40, True, True, 1),
    (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1),
    (5, 144, 48, True, True, 1),
)
_STEM_WIDTH = 16


def _divisible_by_8(value: float) -> int:
    """MobileNet's channel rounding: the nearest multiple of 8, never more than 10% below ``value``."""
    rounded = max(8, int(value + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * value else rounded


class SqueezeExcite(nn.Module):
    """Channel attention: global average → FC → ReLU → FC → hard sigmoid, multiplied into the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = _divisible_by_8(channels / 4)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels), nn.Hardsigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels = x.shape[:2]
        weights = self.fc(self.avg_pool(x).view(batch, channels)).view(batch, channels, 1, 1)
        return x * weights


class InvertedResidual(nn.Module):
    """MobileNetV3's block: (1×1 expand →) depthwise k×k → (squeeze-excite →) 1×1 project, with a
    shortcut when the shape is kept. Without expansion the layers are ``conv.0..5``, with it ``conv.0..8``,
    as in the checkpoint."""

    def __init__(
        self, in_width: int, hidden: int, out_width: int, kernel: int, use_se: bool, use_hs: bool, stride: int
    ) -> None:
        super().__init__()
        self.shortcut = stride == 1 and in_width == out_width
        activation = nn.Hardswish if use_hs else nn.ReLU
        depthwise = [
            nn.Conv2d(hidden, hidden, kernel, stride, (kernel - 1) // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
        ]
        excite = SqueezeExcite(hidden) if use_se else nn.Identity()
        project = [nn.Conv2d(hidden, out_width, 1, 1, 0, bias=False), nn.BatchNorm2d(out_width)]
        if in_width == hidden:
            layers = [*depthwise, activation(), excite, *project]
        else:
            expand = [nn.Conv2d(in_width, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), activation()]
            layers = [*expand, *depthwise, excite, activation(), *project]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.shortcut else out


class NanoTrackBackbone(nn.Module):
    """NanoTrack v2's backbone: (N, 3, S, S) BGR [0, 255] → (N, 48, ⌈S/16⌉, ⌈S/16⌉).

    Random init unless :meth:`load_pretrained` reads ``nanotrackv2.pth``.
    """

    out_channels = NANOTRACK_V2_BLOCKS[-1][2]

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(3, _STEM_WIDTH, 3, 2, 1, bias=False), nn.BatchNorm2d(_STEM_WIDTH), nn.Hardswish()
            )
        ]
        width = _STEM_WIDTH
        for kernel, hidden, out_width, use_se, use_hs, stride in NANOTRACK_V2_BLOCKS:
            layers.append(InvertedResidual(width, hidden, out_width, kernel, use_se, use_hs, stride))
            width = out_width
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).contiguous()

    @staticmethod
    def output_side(input_side: int) -> int:
        """Side of the output map for a square input of side ``input_side`` (128 → 8)."""
        side = input_side
        for stride in (2, *(block[-1] for block in NANOTRACK_V2_BLOCKS)):
            side = (side + 1) // 2 if stride == 2 else side
        return side

    def load_pretrained(self, path: str | Path) -> None:
        """Load the backbone of NanoTrack's checkpoint (``{"state_dict": {"backbone.…", "neck.…", …}}``, or a
        bare state dict with or without the ``backbone.`` prefix) in place.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: the file is not a NanoTrack v2 checkpoint; the message names the keys at fault.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"NanoTrack v2 checkpoint not found at {path}: it is {NANOTRACK_V2_CHECKPOINT} from "
                "HonglinChu/SiamTrackers (NanoTrack/models/nanotrackv2); give the folder holding it as "
                "--model-dir (or $TBT_MODEL_DIR)"
            )
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as error:  # a truncated or foreign file: torch's own error names no file
            raise ValueError(f"{path} is not a readable PyTorch checkpoint: {error}") from None
        state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, Mapping) else None
        if not isinstance(state, Mapping):
            raise ValueError(f"{path} is not a NanoTrack v2 checkpoint: it holds no state dict")
        if any(str(key).startswith(_CHECKPOINT_PREFIX) for key in state):
            state = {
                k[len(_CHECKPOINT_PREFIX) :]: v for k, v in state.items() if k.startswith(_CHECKPOINT_PREFIX)
            }
        self.load_state_dict(self._checked(state, path), strict=True)

    def _checked(self, state: Mapping[str, object], path: Path) -> dict[str, torch.Tensor]:
        expected = self.state_dict()
        missing = [k for k in expected if k not in state and not k.endswith(_OPTIONAL_SUFFIX)]
        unexpected = [str(k) for k in state if k not in expected]
        mismatched = [
            f"{k} {tuple(getattr(v, 'shape', ()))} (expected {tuple(expected[k].shape)})"
            for k, v in state.items()
            if k in expected and tuple(getattr(v, "shape", ())) != tuple(expected[k].shape)
        ]
        problems = [
            f"{label} {', '.join(keys[:6])}{' …' if len(keys) > 6 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
            if keys
        ]
        if problems:
            raise ValueError(f"{path} is not a NanoTrack v2 backbone checkpoint: {'; '.join(problems)}")
        return {k: state[k] if k in state else value for k, value in expected.items()}


def find_nanotrack_checkpoint(model_dir: str | Path) -> Path:
    """``nanotrackv2.pth`` in ``model_dir``, its ``v2/`` or its ``nanotrack/v2/``.

    Raises:
        FileNotFoundError: none of them holds it; the message lists where it looked.
    """
    # The folder itself, or where the NanoTrack v2 teacher's files are (its v2/ or nanotrack/v2/).
    from tracking_by_trackers.teachers.opencv_dnn_trackers import NANOTRACK_SUBFOLDERS

    folders = ("", *NANOTRACK_SUBFOLDERS["v2"])
    candidates = [Path(model_dir) / folder / NANOTRACK_V2_CHECKPOINT for folder in folders]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(
        f"NanoTrack v2 checkpoint {NANOTRACK_V2_CHECKPOINT} not found; looked at "
        + ", ".join(str(c) for c in candidates)
        + " (from HonglinChu/SiamTrackers, NanoTrack/models/nanotrackv2)"
    )
