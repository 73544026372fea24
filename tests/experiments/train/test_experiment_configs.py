"""Every file under configs/experiments/ is a config ``tbt train --config`` runs today, or one whose header
says it runs only on its own commit because it sets a setting removed since (and today's code says so)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO_ROOT
from tracking_by_trackers.experiments.train.train_config import (
    REMOVED_SETTINGS,
    ConfigError,
    TrainConfig,
    load_config_file,
)

CONFIGS = sorted((REPO_ROOT / "configs" / "experiments").glob("*.yaml"))


def test_there_are_experiment_configs():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_an_experiment_config_runs_today_or_names_its_commit(path):
    header = "\n".join(line for line in path.read_text().splitlines() if line.startswith("#"))
    settings = load_config_file(path)
    removed = sorted(set(settings) & set(REMOVED_SETTINGS))
    if re.search(r"runs only on its commit", header):
        assert re.search(r"git checkout [0-9a-f]{7}", header), f"{path.name}: which commit?"
        assert removed, f"{path.name} says it runs only on its commit, but sets no removed setting"
        with pytest.raises(ConfigError, match=f"setting '{removed[0]}' was removed"):
            TrainConfig().updated(**settings)
    else:
        assert not removed, f"{path.name} sets removed settings {removed} without saying which commit runs it"
        TrainConfig().updated(**settings).validate()
