"""``tbt train``'s scale settings: RLlib's names, one-line errors for the old ones and for GPUs that are not
there, the teacher pool's size and where the evaluations run."""

from __future__ import annotations

import json

import pytest

from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig
from tracking_by_trackers.experiments.train.train_pipeline import teacher_pool_size, validation_backend


def _error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert "== stage" not in captured.out, "the run started before the error"
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_a_gpu_learner_actor_on_a_cluster_without_gpus_stops_the_run_before_it_starts(
    settled_ray_session, tmp_path, capsys
):
    out = tmp_path / "run"
    argv = ["train", "--quick", "--num-learners", "1", "--num-gpus-per-learner", "1", "--out", str(out)]
    assert main(argv) == 2
    assert _error_line(capsys).startswith(
        "tbt: error: the run asks the Ray cluster for 1 GPUs (learners 1) but the cluster has 0 and no "
        "autoscaler can add GPU nodes"
    )
    assert not out.exists()  # nothing written: the same command runs once GPUs are there


def test_a_gpu_learner_in_a_driver_without_a_gpu_is_refused(settled_ray_session, tmp_path, capsys):
    assert main(["train", "--quick", "--num-gpus-per-learner", "1", "--out", str(tmp_path / "run")]) == 2
    assert _error_line(capsys).startswith(
        "tbt: error: num_gpus_per_learner 1 with num_learners 0 puts the learner in this driver process, "
        "which sees no GPU"
    )


def test_gpus_for_the_env_runners_are_checked_too(settled_ray_session, tmp_path, capsys):
    argv = ["train", "--quick", "--num-gpus-per-env-runner", "0.5", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    assert "for 0.5 GPUs (env runners 0.5)" in _error_line(capsys)


def test_the_old_gpus_flag_names_its_successor(capsys):
    assert main(["train", "--gpus", "1"]) == 2
    assert _error_line(capsys) == (
        "tbt: error: --gpus is now --num-gpus-per-learner (RLlib's name); GPUs per learner, and with a "
        "learner on a cluster's GPU node add --num-learners 1"
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("gpus", "num_gpus_per_learner"),
        ("env_runner_resources", "custom_resources_per_env_runner"),
        ("learner_resources", "custom_resources_per_learner"),
    ],
)
def test_an_old_config_file_names_the_new_setting(tmp_path, capsys, old, new):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({old: 1 if old == "gpus" else {"learner_node": 0.001}}))
    assert main(["train", "--config", str(config)]) == 2
    assert _error_line(capsys) == (
        f"tbt: error: config file {config}: setting {old!r} is now {new!r} (RLlib's name); rename it in the "
        "config"
    )


def test_resuming_a_run_whose_config_json_has_gpus_names_the_new_setting(tmp_path):
    from tracking_by_trackers.experiments.train.train_pipeline import prepare_run_folder

    stored = {**TrainConfig.quick().to_dict(), "gpus": 0}
    del stored["num_gpus_per_learner"]
    (tmp_path / "config.json").write_text(json.dumps(stored))
    with pytest.raises(
        ConfigError, match=r"^cannot resume: .*config\.json: setting 'gpus' is now 'num_gpus_per_learner'"
    ):
        prepare_run_folder(tmp_path, TrainConfig.quick(), resume=True)


def test_more_than_one_gpu_per_learner_is_refused_with_the_way_to_use_them():
    with pytest.raises(ConfigError, match=r"N GPUs take num_learners N with num_gpus_per_learner 1; got 2"):
        TrainConfig(num_learners=1, num_gpus_per_learner=2).validate()


def test_the_scale_flags_carry_rllibs_names_into_the_config(monkeypatch):
    runs = []
    monkeypatch.setattr(
        "tracking_by_trackers.experiments.train.train_pipeline.run_training_pipeline",
        lambda config, out, resume: runs.append(config),
    )
    argv = ["train", "--num-env-runners", "8", "--num-envs-per-env-runner", "2"]
    argv += ["--num-gpus-per-env-runner", "0.25", "--num-learners", "2", "--num-gpus-per-learner", "1"]
    argv += ["--num-aggregator-actors-per-learner", "1", "--num-teacher-actors", "32"]
    argv += ["--custom-resources-per-env-runner", '{"env_runner_node": 0.001}']
    argv += ["--custom-resources-per-learner", '{"learner_node": 0.001}']
    assert main(argv) == 0
    (config,) = runs
    assert (config.num_env_runners, config.num_envs_per_env_runner, config.num_gpus_per_env_runner) == (
        8,
        2,
        0.25,
    )
    assert (config.num_learners, config.num_gpus_per_learner, config.num_aggregator_actors_per_learner) == (
        2,
        1,
        1,
    )
    assert config.custom_resources_per_env_runner == {"env_runner_node": 0.001}
    assert config.custom_resources_per_learner == {"learner_node": 0.001}
    assert config.num_teacher_actors == 32


def test_the_teacher_pool_is_sized_for_the_cluster_or_the_env_runners_and_the_jobs(settled_ray_session):
    # The session's Ray instance has 2 CPUs.
    assert teacher_pool_size(TrainConfig(num_env_runners=1), jobs=100) == 2
    # A cluster that grows on demand has few CPUs at the start: the runners it will host count.
    assert teacher_pool_size(TrainConfig(num_env_runners=24), jobs=100) == 24
    assert teacher_pool_size(TrainConfig(num_env_runners=24), jobs=5) == 5
    assert teacher_pool_size(TrainConfig(num_teacher_actors=64), jobs=100) == 64
    assert teacher_pool_size(TrainConfig(num_teacher_actors=64), jobs=0) == 1


def test_validation_leaves_ray_for_the_driver_when_the_runners_take_every_cpu(settled_ray_session):
    assert validation_backend(TrainConfig(num_env_runners=1), "threads") == "threads"
    assert validation_backend(TrainConfig(num_env_runners=1), "ray") == "ray"  # 1 of the 2 CPUs is free
    assert validation_backend(TrainConfig(num_env_runners=2), "ray") == "threads"
    # A learner actor without a GPU takes a CPU too.
    assert validation_backend(TrainConfig(num_env_runners=1, num_learners=1), "ray") == "threads"
    assert (
        validation_backend(TrainConfig(num_env_runners=1, num_learners=1, num_gpus_per_learner=1), "ray")
        == "ray"
    )
