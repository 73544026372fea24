"""A sweep trial's settings → its KD-RL algorithm config, validation and resources; the validation
callback (no Ray)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from tracking_by_trackers.experiments.train.checkpoint_validation import AO_KEYS, SCORE, validate_tras
from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig
from tracking_by_trackers.experiments.tune.tune_trainable import (
    PARTNERS_KEY,
    PLACEMENT_STRATEGY_KEY,
    TRANSFER_SET_ROOT_KEY,
    VALIDATION_TEACHERS_KEY,
    SweepKDRL,
    algorithm_config_for_trial,
)
from tracking_by_trackers.experiments.tune.validation_callback import (
    VALIDATION_ITERATION,
    CheckpointValidationCallback,
)
from tracking_by_trackers.policies.kdrl.student_env import CURRICULUM_KEY
from tracking_by_trackers.policies.student_model import StudentNetwork

VALIDATION = "synthetic:videos=1,frames=8,difficulty=0.3,seed=2"


def trial(**settings) -> dict:
    return {
        **TrainConfig.quick(**settings).to_dict(),
        TRANSFER_SET_ROOT_KEY: "/data/transfer_set",
        VALIDATION_TEACHERS_KEY: "/data/validation_teachers",
        PARTNERS_KEY: {"kcf,mosse": "mosse", "kcf": "kcf"},
    }


def test_a_trials_settings_reach_the_clip_source_the_module_the_schedule_and_the_validation():
    config = algorithm_config_for_trial(
        trial(beta=0.4, teachers="kcf,mosse", t_max=10, lr=3e-4, curriculum=False, iterations=7)
    )
    clips = config.env_config["clip_source"]
    assert clips.args == ("/data/transfer_set",)
    assert clips.keywords["beta"] == 0.4 and clips.keywords["teachers"] == ("kcf", "mosse")
    assert config.rollout_fragment_length == 10 and config.model_config["max_seq_len"] == 12
    assert config.env_config[CURRICULUM_KEY] is None
    # tbt train's schedule and budget: the algorithm's, so the trial anneals over its own 7 iterations.
    schedule = config.budget_schedule()
    assert (schedule.lr, schedule.iterations, schedule.final_fraction) == (3e-4, 7, 0.05)
    (validation,) = [
        c for c in config.callbacks_class if getattr(c, "func", None) is CheckpointValidationCallback
    ]
    # tbt train's checkpoint metric, with the pool's partner and the stored validation tracks.
    assert validation.keywords["settings"]["checkpoint_metric"] == "modes"
    assert validation.keywords["partner"] == "mosse"
    assert validation.keywords["teacher_results"] == "/data/validation_teachers"


def test_a_trial_reserves_its_runners_and_its_learners_gpus_in_one_placement_group():
    resources = SweepKDRL.default_resource_request(
        {**trial(num_env_runners=2, num_gpus_per_learner=1), PLACEMENT_STRATEGY_KEY: "SPREAD"}
    )
    assert resources.bundles == [{"CPU": 1, "GPU": 1}, {"CPU": 1}, {"CPU": 1}]
    assert resources.strategy == "SPREAD"


def test_unknown_or_missing_trial_settings_are_refused():
    with pytest.raises(ConfigError, match="betta"):
        algorithm_config_for_trial({**trial(), "betta": 0.3})
    with pytest.raises(ConfigError, match=TRANSFER_SET_ROOT_KEY):
        algorithm_config_for_trial(TrainConfig.quick().to_dict())
    with pytest.raises(ConfigError, match="needs TRAST's partner for teacher pool 'csrt'"):
        algorithm_config_for_trial(trial(teachers="csrt"))
    # TRAS alone needs neither.
    algorithm_config_for_trial({**trial(teachers="csrt", checkpoint_metric="tras"), PARTNERS_KEY: {}})


def _algorithm_with(network):
    weights = {f"net.{key}": value for key, value in network.state_dict().items()}
    return SimpleNamespace(
        config=SimpleNamespace(model_config={"preset": "small"}),
        learner_group=SimpleNamespace(get_weights=lambda: {"default_policy": weights}),
        iteration=0,
    )


def test_validation_runs_every_n_iterations_and_at_the_budgets_end_and_is_carried_in_between():
    torch.manual_seed(0)
    network = StudentNetwork.from_preset("small").eval()
    settings = TrainConfig(
        validation_dataset=VALIDATION, validate_every=3, checkpoint_metric="tras"
    ).to_dict()
    callback = CheckpointValidationCallback(settings)
    reported = []
    for iteration, done in ((1, False), (2, False), (3, False), (4, False), (5, True)):
        result = {"training_iteration": iteration, "done": done}
        callback.on_train_result(algorithm=_algorithm_with(network), result=result)
        reported.append(result)
    # The first iteration, every 3rd, and the last one of the budget.
    assert [r[VALIDATION_ITERATION] for r in reported] == [1, 1, 3, 3, 5]
    from tracking_by_trackers.envs.datasets import load_dataset

    expected = validate_tras(network, load_dataset(VALIDATION))
    for result in reported:
        # tbt train's validation.csv names: TRAS's AO, and the score the metric compares.
        assert result[AO_KEYS["tras"]] == pytest.approx(expected)
        assert result[SCORE] == pytest.approx(expected)
        assert math.isnan(result[AO_KEYS["trast"]]) and math.isnan(result[AO_KEYS["trasfust"]])
