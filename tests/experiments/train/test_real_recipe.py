"""The real-video recipe (configs/real.yaml): valid as shipped, and shortened, end to end on two real
sequences with the NanoTrack teachers and the pretrained NanoTrack student."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.experiments.train.train_config import TrainConfig, load_config_file

RECIPE = REPO_ROOT / "configs" / "real.yaml"


@pytest.mark.data
def test_the_recipe_is_a_valid_config_on_the_real_split(shared_data, shared_models, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    config = TrainConfig(**load_config_file(RECIPE)).validate()
    assert config.dataset.endswith("real.yaml:train") and config.test_dataset.endswith("real.yaml:test")
    assert config.preset == "nanotrack" and config.teachers_list() == ["nano_v2", "nano_v1", "csrt"]


@pytest.mark.data
@pytest.mark.slow
def test_a_shortened_real_recipe_runs_end_to_end_on_two_real_sequences(
    ray_session, shared_data, shared_models, tmp_path, monkeypatch
):
    monkeypatch.chdir(REPO_ROOT)  # the recipe's paths are relative to the checkout
    # Two sequences: one to train on, one to validate and test on (a split file keeps its splits apart, so
    # the test split is a second file; a real run never scores the sequences it validated on).
    real = f"otb:{shared_data / 'real'}"
    split, test_split = tmp_path / "two.yaml", tmp_path / "test.yaml"
    split.write_text(yaml.safe_dump({"dataset": real, "train": ["OTB_KiteSurf"], "val": ["OTB_Biker"]}))
    test_split.write_text(yaml.safe_dump({"dataset": real, "test": ["OTB_Biker"]}))
    settings = load_config_file(RECIPE) | {
        "dataset": f"split:{split}:train",
        "validation_dataset": f"split:{split}:val",
        "test_dataset": f"split:{test_split}:test",
        "teachers": "nano_v2,csrt",
        "model_dir": str(shared_models),
        "clips_per_trajectory": 2,
        "iterations": 2,
        "train_minutes": 1.0,
        "validate_every": 2,
        "num_envs_per_env_runner": 2,
        "train_batch_size": 20,
    }
    config = tmp_path / "short.yaml"
    config.write_text(yaml.safe_dump(settings))
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out)]) == 0
    scores = pd.read_csv(out / "report" / "scores.csv", index_col=0)
    assert {"tras", "trast-nano_v2", "trasfust-nano_v2+csrt", "nano_v2", "csrt", "identity"} <= set(
        scores.index
    )
    assert scores["AO"].between(0, 1).all()
    # NanoTrack v2 follows this real target far better than standing still does.
    assert scores.loc["nano_v2", "AO"] > scores.loc["identity", "AO"] + 0.2
    assert (out / "report" / "student.pt").is_file()
