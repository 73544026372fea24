"""The sweep's search-space strings: parsing, Tune domains, what counts as swept, and the flags."""

from __future__ import annotations

import argparse

import pytest
from ray import tune

from experiments.train_config import ConfigError
from experiments.tune_search_space import (
    DEFAULT_SEARCH_SPACE,
    parse_values,
    search_space,
    swept_settings,
    teacher_pools,
    teachers_union,
)
from experiments.tune_sweep import SweepSettings, add_tune_arguments, check_trial_fits, settings_from_args


def test_lists_distributions_and_words_parse_to_typed_values():
    assert parse_values("lr", "loguniform:1e-4:3e-3") == ("loguniform", (1e-4, 3e-3))
    assert parse_values("lr", "1e-4, 1e-3") == ("choice", [1e-4, 1e-3])
    assert parse_values("t_max", "5,10") == ("choice", [5, 10])
    assert parse_values("curriculum", "on,off") == ("choice", [True, False])
    assert parse_values("teachers", "kcf+csrt, mosse") == ("choice", ["kcf,csrt", "mosse"])
    assert parse_values("distil_fraction", "uniform:0.25:0.75") == ("uniform", (0.25, 0.75))


@pytest.mark.parametrize(
    ("setting", "spec", "message"),
    [
        ("gamma", "0.9,1.0", "cannot be swept"),
        ("beta", "uniform:0.2:0.5", "give a list of values"),
        ("lr", "loguniform:0:1e-3", "bad bounds"),
        ("lr", "loguniform:1e-3", "LOW:HIGH"),
        ("t_max", "5,ten", "not a valid int"),
        ("curriculum", "maybe", "on/off"),
        ("teachers", "+", "empty teacher pool"),
        ("beta", " , ", "no value"),
    ],
)
def test_bad_specs_are_refused_with_the_setting_named(setting, spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_values(setting, spec)


def test_lists_become_choices_or_grids_and_single_values_stay_fixed():
    space = search_space({"lr": "loguniform:1e-4:1e-2", "beta": "0.3", "teachers": "kcf,kcf+mosse"})
    assert isinstance(space["lr"], tune.search.sample.Float)
    assert space["beta"] == 0.3
    assert isinstance(space["teachers"], tune.search.sample.Categorical)
    grid = search_space({"teachers": "kcf,kcf+mosse"}, grid=True)
    assert grid["teachers"] == {"grid_search": ["kcf", "kcf,mosse"]}
    assert swept_settings({"lr": "1e-3", "beta": "0.3,0.5", "curriculum": "on"}) == ["beta"]


def test_the_teachers_run_once_for_the_union_of_the_pools():
    pools = teacher_pools({"teachers": "kcf+csrt,csrt+medianflow,kcf"}, default="mosse")
    assert pools == ["kcf,csrt", "csrt,medianflow", "kcf"]
    assert teachers_union(pools) == "kcf,csrt,medianflow"
    assert teacher_pools({}, default="mosse") == ["mosse"]


def test_flags_become_sweep_settings():
    parser = add_tune_arguments(argparse.ArgumentParser())
    args = parser.parse_args(
        ["--lr", "1e-3", "--teacher-pools", "kcf,kcf+mosse", "--num-samples", "3", "--gpus-per-trial", "1"]
        + ["--num-env-runners", "4", "--max-iterations", "20", "--grace-period", "5", "--validate-every", "5"]
    )
    settings = settings_from_args(args).validate()
    assert settings.space == {**DEFAULT_SEARCH_SPACE, "lr": "1e-3", "teachers": "kcf,kcf+mosse"}
    assert settings.base["num_gpus_per_learner"] == 1 and settings.base["num_env_runners"] == 4
    assert settings.base["validate_every"] == 5
    assert (settings.num_samples, settings.max_iterations, settings.grace_period) == (3, 20, 5)


def test_bad_sweep_settings_are_refused():
    with pytest.raises(ConfigError, match="num_samples"):
        SweepSettings(num_samples=0).validate()
    with pytest.raises(ConfigError, match="reduction_factor"):
        SweepSettings(reduction_factor=1).validate()
    with pytest.raises(ConfigError, match="cannot be swept"):
        SweepSettings(space={"gamma": "0.9,1"}).validate()


def test_a_trial_larger_than_the_local_ray_instance_is_refused_before_the_sweep():
    settings = SweepSettings(base={**SweepSettings().base, "num_env_runners": 2, "num_gpus_per_learner": 0})
    check_trial_fits(settings, {"CPU": 3.0})
    with pytest.raises(ConfigError, match="each trial needs 3 CPUs"):
        check_trial_fits(settings, {"CPU": 2.0})
    with pytest.raises(ConfigError, match="each trial needs 1 GPU "):
        check_trial_fits(SweepSettings(base={**settings.base, "num_gpus_per_learner": 1}), {"CPU": 8.0})
