"""Session-wide fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_root() -> Path:
    """The real benchmark sequences: ``$TBT_DATA_ROOT``, else ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("TBT_DATA_ROOT", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = _shared_data_root()
    if not (root / "README.md").is_file():
        pytest.skip(f"real sequences not found at {root} (set TBT_DATA_ROOT)")
    return root


def _shared_models_root() -> Path:
    """The pretrained models: ``$TBT_MODEL_DIR``, else ``../shared/models`` beside the checkout."""
    return Path(os.environ.get("TBT_MODEL_DIR", REPO_ROOT.parent / "shared" / "models"))


@pytest.fixture(scope="session")
def shared_models() -> Path:
    """The models root (holding ``nanotrack/v1``, ``nanotrack/v2``)."""
    root = _shared_models_root()
    if not (root / "nanotrack" / "v2" / "nanotrack_backbone_sim.onnx").is_file():
        pytest.skip(f"NanoTrack models not found at {root}/nanotrack (set TBT_MODEL_DIR)")
    return root


def make_moving_square_sequence(num_frames: int = 40, height: int = 96, width: int = 128, seed: int = 0):
    """A textured square gliding right and down over a noisy background: a cheap, exact test video."""
    import numpy as np

    from tracking_by_trackers.envs.sequence import InMemoryFrames, Sequence

    rng = np.random.default_rng(seed)
    background = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
    sprite = rng.integers(150, 256, (20, 20, 3), dtype=np.uint8)
    frames = np.repeat(background[None], num_frames, axis=0)
    boxes = np.zeros((num_frames, 4))
    for t in range(num_frames):
        x, y = 10 + 2 * t % (width - 30), 8 + t % (height - 30)
        frames[t, y : y + 20, x : x + 20] = sprite
        boxes[t] = [x, y, 20, 20]
    return Sequence(
        name=f"square{seed}",
        frames=InMemoryFrames(frames),
        gt_boxes=boxes,
        absent=np.zeros(num_frames, bool),
        benchmark="test",
    )


@pytest.fixture
def moving_square():
    return make_moving_square_sequence()


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance for the whole test session (starting Ray costs seconds)."""
    import ray

    from tracking_by_trackers.cluster.ray_runtime import init_ray

    init_ray(num_cpus=2)
    yield ray
    ray.shutdown()
