"""The sweep's search-space strings: parsing, Tune domains, what counts as swept; the flags, the seeds,
the schedulers and the storage path (no Ray)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from ray import tune

from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig
from tracking_by_trackers.experiments.tune.tune_search_space import (
    DEFAULT_SEARCH_SPACE,
    parse_values,
    search_space,
    swept_settings,
    teacher_pools,
    teachers_union,
)
from tracking_by_trackers.experiments.tune.tune_sweep import (
    SweepSettings,
    add_tune_arguments,
    build_scheduler,
    check_trial_fits,
    experiment_path,
    parse_seeds,
    run_config,
    search_algorithm,
    settings_from_args,
    storage_location,
)


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


def parse(argv: list[str]):
    return settings_from_args(add_tune_arguments(argparse.ArgumentParser()).parse_args(argv))


def test_flags_become_sweep_settings(tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("train_minutes: 30\nvalidate_every: 200\niterations: 5000\nbeta: 0.4\n")
    settings = parse(
        ["--lr", "1e-3", "--teacher-pools", "kcf,kcf+mosse", "--num-samples", "3", "--gpus-per-trial", "1"]
        + ["--num-env-runners", "4", "--max-iterations", "20", "--grace-period", "5", "--validate-every", "5"]
        + ["--config", str(config_file), "--checkpoint-metric", "tras", "--mlflow-tracking-uri", "file:/m"]
    ).validate()
    assert settings.space == {**DEFAULT_SEARCH_SPACE, "lr": "1e-3", "teachers": "kcf,kcf+mosse"}
    assert settings.base["num_gpus_per_learner"] == 1 and settings.base["num_env_runners"] == 4
    assert settings.base["checkpoint_metric"] == "tras" and settings.base["mlflow_tracking_uri"] == "file:/m"
    assert (settings.num_samples, settings.max_iterations, settings.grace_period) == (3, 20, 5)
    # The base keeps the real run's budget and cadence (best_config.json); a trial gets the sweep's.
    assert (settings.base["iterations"], settings.base["validate_every"], settings.base["train_minutes"]) == (
        5000,
        200,
        30,
    )
    trial = settings.trial_config()
    assert (trial.iterations, trial.validate_every, trial.train_minutes, trial.beta) == (20, 5, 30, 0.4)
    assert (settings.scheduler, settings.seeds, settings.storage_path) == ("asha", None, None)


def test_seeds_are_a_count_from_the_base_seed_or_a_list():
    assert parse_seeds("3", first=10) == [10, 11, 12]
    assert parse_seeds("0,5,7") == [0, 5, 7]
    assert parse(["--seeds", "2", "--seed", "4"]).seed_list() == [4, 5]
    assert parse([]).seed_list() == [0]
    for bad, message in (
        ("0", "count must be >= 1"),
        ("two", "expected a count or a list"),
        ("1,1", "distinct"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_seeds(bad)


def test_asha_and_pbt_compare_the_validation_score_and_pbt_perturbs_the_learning_rate():
    from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining

    asha = build_scheduler(parse(["--max-iterations", "40", "--grace-period", "10"]).validate())
    assert isinstance(asha, ASHAScheduler)
    assert (asha.metric, asha._max_t, asha._time_attr) == ("score", 40, "training_iteration")
    pbt = build_scheduler(
        parse(
            ["--scheduler", "pbt", "--lr", "loguniform:1e-4:1e-2", "--perturbation-interval", "10"]
        ).validate()
    )
    assert isinstance(pbt, PopulationBasedTraining)
    assert pbt.metric == "score" and pbt._perturbation_interval == 10
    assert set(pbt._hyperparam_mutations) == {"lr"}
    assert isinstance(pbt._hyperparam_mutations["lr"], tune.search.sample.Float)
    listed = build_scheduler(parse(["--scheduler", "pbt", "--lr", "1e-4,1e-3"]).validate())
    assert listed._hyperparam_mutations["lr"] == [1e-4, 1e-3]
    with pytest.raises(ConfigError, match="PBT perturbs the learning rate: give --lr a range or a list"):
        parse(["--scheduler", "pbt", "--lr", "1e-3"]).validate()
    with pytest.raises(ConfigError, match="PBT copies weights between trials"):
        parse(["--scheduler", "pbt", "--seeds", "2"]).validate()


def test_the_storage_path_is_a_uri_passed_to_tune_as_it_is_or_a_local_path(tmp_path):
    out = tmp_path / "tune"
    # A URI is pyarrow's to resolve, as Tune resolves it: never turned into a local path.
    s3 = parse(["--storage-path", "s3://bucket/sweeps/"]).validate()
    assert run_config(s3, out, []).storage_path == "s3://bucket/sweeps/"
    assert experiment_path(s3, out) == "s3://bucket/sweeps/sweep"
    assert storage_location("gs://bucket/x", out) == "gs://bucket/x"
    assert storage_location(f"file://{tmp_path}/store", out) == f"file://{tmp_path}/store"
    # A plain path, relative or not, is made absolute; none means --out.
    assert storage_location("store", out) == str((Path.cwd() / "store").resolve())
    assert experiment_path(parse([]), out) == str(out.resolve() / "sweep")


def test_bad_sweep_settings_are_refused():
    with pytest.raises(ConfigError, match="num_samples"):
        SweepSettings(num_samples=0).validate()
    with pytest.raises(ConfigError, match="reduction_factor"):
        SweepSettings(reduction_factor=1).validate()
    with pytest.raises(ConfigError, match="cannot be swept"):
        SweepSettings(space={"gamma": "0.9,1"}).validate()
    with pytest.raises(ConfigError, match="scheduler must be one of"):
        SweepSettings(scheduler="hyperband").validate()


def test_a_trial_larger_than_the_local_ray_instance_is_refused_before_the_sweep():
    settings = SweepSettings(base={**SweepSettings().base, "num_env_runners": 2, "num_gpus_per_learner": 0})
    check_trial_fits(settings, {"CPU": 3.0})
    with pytest.raises(ConfigError, match="each trial needs 3 CPUs"):
        check_trial_fits(settings, {"CPU": 2.0})
    with pytest.raises(ConfigError, match="each trial needs 1 GPU "):
        check_trial_fits(SweepSettings(base={**settings.base, "num_gpus_per_learner": 1}), {"CPU": 8.0})


def test_the_best_config_builds_on_the_base_with_the_settings_the_space_fixes():
    settings = parse(["--teacher-pools", "kcf+mosse", "--beta", "0.3", "--lr", "1e-4,1e-3"])
    base = settings.run_config_base()
    assert (base.teachers, base.beta) == ("kcf,mosse", 0.3)
    assert base.lr == TrainConfig().lr  # swept: the best configuration's value goes on top


def test_the_search_runs_at_most_max_concurrent_trials_at_once():
    from ray.tune.search.basic_variant import BasicVariantGenerator

    limited = search_algorithm(parse(["--max-concurrent-trials", "1"]).validate())
    assert isinstance(limited, BasicVariantGenerator) and limited.max_concurrent == 1
    assert search_algorithm(parse([]).validate()).max_concurrent == 0  # 0: Tune's "no limit"
