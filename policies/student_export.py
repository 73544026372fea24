"""The trained student on its own: export it from a training checkpoint, load it for tracking.

A training checkpoint (``KDRL.save_to_path``) holds the whole algorithm: learner, optimiser, connector
and env-runner states. The trackers of step 4 need only the network, so ``tbt export`` writes one torch
file::

    {"format": "tbt-student", "version": 1,
     "config": {backbone, crop_size, fc_width, lstm_width, separate_critic},
     "state_dict": StudentNetwork.state_dict(), "source": "<checkpoint path>"}

Files written before ``separate_critic`` existed lack it and load with the paper's shared critic.

:func:`load_student` reads either form (an exported file, or a checkpoint directory: the algorithm's
root, or the module's own ``learner_group/learner/rl_module/default_policy`` folder) and returns a
:class:`~tracking_by_trackers.policies.student_model.StudentNetwork` in eval mode on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import torch

from tracking_by_trackers.policies.student_model import StudentNetwork, StudentPreset

__all__ = [
    "EXPORT_FORMAT",
    "ExportError",
    "export_student",
    "load_student",
    "module_checkpoint_dir",
    "save_student",
]

EXPORT_FORMAT = "tbt-student"
EXPORT_VERSION = 1
_MODULE_SUBDIR = Path("learner_group") / "learner" / "rl_module" / "default_policy"


class ExportError(ValueError):
    """A path that is neither an exported student nor a KD-RL checkpoint."""


def module_checkpoint_dir(checkpoint: str | os.PathLike) -> Path:
    """The RLModule folder inside a KD-RL checkpoint (``checkpoint`` may already be that folder), absolute.

    Absolute because RLlib reads it through pyarrow, which takes a relative path for a URI and fails with
    "URI has empty scheme".
    """
    root = Path(checkpoint).resolve()
    if not root.exists():
        raise ExportError(f"checkpoint {root} does not exist")
    for candidate in (root / _MODULE_SUBDIR, root):
        if (candidate / "module_state.pkl").exists() or (candidate / "module_state.pt").exists():
            return candidate
    if (root / "module_state").exists():
        return root
    raise ExportError(
        f"{root} is not a KD-RL checkpoint: expected {_MODULE_SUBDIR} inside it (a folder written by "
        "KDRL.save_to_path) or a module folder with its module_state"
    )


def _network_from_checkpoint(checkpoint: str | os.PathLike) -> StudentNetwork:
    from ray.rllib.core.rl_module.rl_module import RLModule

    folder = module_checkpoint_dir(checkpoint)
    try:
        module = RLModule.from_checkpoint(folder)
    except Exception as error:  # truncated or foreign state files: one message naming the folder
        reason = " ".join(str(error).split())[:300]
        raise ExportError(
            f"cannot load the module checkpoint {folder}: {type(error).__name__}: {reason}"
        ) from error
    net = getattr(module, "net", None)
    if not isinstance(net, StudentNetwork):
        raise ExportError(f"the module in {checkpoint} is a {type(module).__name__}, not the student")
    return net


def export_student(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the student network of a training checkpoint to the torch file ``out``; returns ``out``."""
    return save_student(_network_from_checkpoint(checkpoint), out, source=str(Path(checkpoint).resolve()))


def save_student(net: StudentNetwork, out: str | os.PathLike, *, source: str = "") -> Path:
    """Write ``net`` to the torch file ``out`` in the exported layout; returns ``out``.

    ``source`` names where the weights came from (the checkpoint, for :func:`export_student`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "config": asdict(net.config),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "source": source,
    }
    # Write then rename: a killed export never leaves a half-written file under the final name.
    partial = out.with_name(out.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, out)
    return out


def load_student(path: str | os.PathLike) -> StudentNetwork:
    """The student network stored at ``path`` (exported file or checkpoint folder), eval mode, CPU."""
    path = Path(path)
    if path.is_dir():
        net = _network_from_checkpoint(path)
    elif path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickle errors, truncated files, …: one clear message
            raise ExportError(f"{path} is not a readable exported student: {error}") from error
        if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
            raise ExportError(f"{path} is not an exported student (no format={EXPORT_FORMAT!r} tag)")
        if payload.get("version", 0) > EXPORT_VERSION:
            raise ExportError(
                f"{path} has export version {payload['version']}; this code reads <= {EXPORT_VERSION}"
            )
        try:
            config = StudentPreset(**payload["config"])
        except (KeyError, TypeError) as error:
            raise ExportError(
                f"{path}: its student config {payload.get('config')!r} does not fit this code's "
                f"StudentPreset ({error}); export the checkpoint again with this version"
            ) from None
        net = StudentNetwork.from_config(config)
        problems = _weights_mismatch(net, payload.get("state_dict", {}))
        if problems:
            raise ExportError(
                f"{path}: its weights do not fit the network its config describes (backbone "
                f"{config.backbone!r}, fc {config.fc_width}, lstm {config.lstm_width}): {problems}; the "
                "file mixes two presets (weights of one, config of another) or was edited"
            )
        net.load_state_dict(payload["state_dict"])
    else:
        raise ExportError(f"student {path} does not exist")
    return net.cpu().eval()


def _weights_mismatch(net: StudentNetwork, state_dict: dict) -> str:
    """How ``state_dict`` differs from ``net``'s own in names and shapes, in one line; empty if it fits.

    torch's ``load_state_dict`` error lists every tensor on its own line, hundreds for a ResNet."""
    expected = net.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    reshaped = [
        f"{key} {tuple(state_dict[key].shape)} instead of {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state_dict and tuple(state_dict[key].shape) != tuple(value.shape)
    ]
    parts = [
        f"{len(keys)} {what} (first: {keys[0]})"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped))
        if keys
    ]
    return ", ".join(parts)
