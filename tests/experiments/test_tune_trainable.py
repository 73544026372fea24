"""A sweep trial's settings → its KD-RL algorithm config and resources; the validation-AO callback (no Ray)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from experiments.train_config import ConfigError, TrainConfig
from experiments.tune_trainable import (
    PLACEMENT_STRATEGY_KEY,
    TRANSFER_SET_ROOT_KEY,
    SweepKDRL,
    algorithm_config_for_trial,
)
from experiments.validation_callback import VALIDATION_AO, VALIDATION_ITERATION, ValidationAOCallback
from policies.student_env import CURRICULUM_KEY
from policies.student_model import StudentNetwork


def trial(**settings) -> dict:
    return {**TrainConfig.quick(**settings).to_dict(), TRANSFER_SET_ROOT_KEY: "/data/transfer_set"}


def test_a_trials_settings_reach_the_clip_source_the_module_and_the_loss():
    config = algorithm_config_for_trial(
        trial(beta=0.4, teachers="kcf,mosse", t_max=10, lr=3e-4, curriculum=False)
    )
    clips = config.env_config["clip_source"]
    assert clips.args == ("/data/transfer_set",)
    assert clips.keywords["beta"] == 0.4 and clips.keywords["teachers"] == ("kcf", "mosse")
    assert config.rollout_fragment_length == 10 and config.model_config["max_seq_len"] == 11
    assert config.lr == 3e-4
    assert config.env_config[CURRICULUM_KEY] is None
    assert any(getattr(c, "func", None) is ValidationAOCallback for c in config.callbacks_class)


def test_a_trial_reserves_its_runners_and_its_learners_gpus_in_one_placement_group():
    resources = SweepKDRL.default_resource_request(
        {**trial(num_env_runners=2, num_gpus_per_learner=1), PLACEMENT_STRATEGY_KEY: "SPREAD"}
    )
    assert resources.bundles == [{"CPU": 1, "GPU": 1}, {"CPU": 1}, {"CPU": 1}]
    assert resources.strategy == "SPREAD"


def test_unknown_trial_settings_are_refused():
    with pytest.raises(ConfigError, match="betta"):
        algorithm_config_for_trial({**trial(), "betta": 0.3})
    with pytest.raises(ConfigError, match=TRANSFER_SET_ROOT_KEY):
        algorithm_config_for_trial(TrainConfig.quick().to_dict())


def test_validation_runs_every_n_iterations_and_its_value_is_carried_in_between():
    torch.manual_seed(0)
    network = StudentNetwork.from_preset("small")
    weights = {f"net.{key}": value for key, value in network.state_dict().items()}
    algorithm = SimpleNamespace(
        config=SimpleNamespace(model_config={"preset": "small"}),
        learner_group=SimpleNamespace(get_weights=lambda: {"default_policy": weights}),
        iteration=0,
    )
    callback = ValidationAOCallback("synthetic:videos=1,frames=8,difficulty=0.3,seed=2", validate_every=3)
    reported = []
    for iteration in (1, 2, 3, 4):
        result = {"training_iteration": iteration}
        callback.on_train_result(algorithm=algorithm, result=result)
        reported.append((result[VALIDATION_ITERATION], result[VALIDATION_AO]))
    assert [it for it, _ in reported] == [1, 1, 3, 3]  # the first iteration, then every 3rd
    assert all(0.0 <= ao <= 1.0 and not math.isnan(ao) for _, ao in reported)
    assert reported[1][1] == reported[0][1]  # same weights, carried value
