"""``tbt train``: settings, a shortened end-to-end run with every report artefact, and resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tracking_by_trackers.experiments.cli import main
from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig, load_config_file
from tracking_by_trackers.experiments.train.train_report import bar_checks


def test_config_precedence_and_checks(tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("lr: 0.002\nteachers: kcf,csrt\n")
    config = TrainConfig().updated(**load_config_file(config_file)).updated(lr=None, beta=0.6)
    assert (config.lr, config.teachers, config.beta) == (0.002, "kcf,csrt", 0.6)
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['learning_rate'\]"):
        TrainConfig().updated(learning_rate=1.0)
    with pytest.raises(ConfigError, match="beta must be in"):
        TrainConfig(beta=1.5).validate()
    with pytest.raises(ConfigError, match="preset must be one of"):
        TrainConfig(preset="huge").validate()
    with pytest.raises(ConfigError, match=r"checkpoint_metric must be one of \('modes', 'tras'\), got 'ao'"):
        TrainConfig(checkpoint_metric="ao").validate()
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot parse config file"):
        load_config_file(tmp_path / "bad.json")


def test_bar_checks_read_the_pooled_table():
    table = (
        pd.DataFrame(
            {"AO": [0.70, 0.60, 0.55, 0.50, 0.45, 0.10]},
            index=["oracle", "trasfust-kcf+csrt", "csrt", "trast-csrt", "tras", "identity"],
        )
        .assign(kcf=0)
        .drop(columns="kcf")
    )
    table.loc["kcf", "AO"] = 0.4
    checks = {name: ok for name, ok, _ in bar_checks(table, partner="csrt", pool=["kcf", "csrt"])}
    assert checks == {
        "TRAS AO >= identity AO + 0.15": True,  # 0.45 vs 0.10
        "TRAST AO >= TRAS AO": True,  # 0.50 vs 0.45
        "TRAST AO >= its teacher's (csrt) AO - 0.02": False,  # 0.50 vs 0.55
        "TRASFUST AO >= best pool teacher's AO - 0.02": True,  # 0.60 vs csrt 0.55
    }


def test_a_run_folder_is_not_overwritten_and_resume_needs_a_run(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps(TrainConfig().to_dict()))
    assert main(["train", "--out", str(tmp_path)]) == 2
    assert "already holds a run; resume it with --resume" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "new"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


@pytest.mark.slow
def test_shortened_train_writes_every_artefact_and_resumes(ray_session, tmp_path, monkeypatch):
    # A relative --out, as a user types it (RLlib's checkpointing refuses relative paths).
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "--quick", "--out", "run"]) == 0
    report = out / "report"
    for name in (
        "summary.md",
        "scores.md",
        "scores.csv",
        "per_sequence_scores.md",
        "per_sequence_ao.csv",
        "success_plot.png",
        "precision_plot.png",
        "teacher_share.md",
        "teacher_share.png",
        "training_curves.png",
        "training_curves.csv",
        "validation.csv",
        "student.pt",
        "config.json",
    ):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    for image in ("success_plot.png", "training_curves.png", "teacher_share.png"):
        assert (report / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image
    scores = pd.read_csv(report / "scores.csv", index_col=0)
    assert {"tras", "trast-kcf", "trasfust-kcf+mosse", "kcf", "mosse", "identity", "oracle"} <= set(
        scores.index
    )
    assert scores["AO"].between(0, 1).all()
    # TRAST and TRASFUST replayed the teachers' own test tracks; only live trackers have an FPS.
    specs = json.loads((out / "evaluation" / "evaluation.json").read_text())["specs"]
    assert specs["trast-kcf"] == "trast:results:kcf" and specs["kcf"] == "kcf"
    assert scores.loc[["trast-kcf", "trasfust-kcf+mosse"], "FPS"].isna().all()
    assert (scores.loc[["tras", "kcf"], "FPS"] > 0).all()
    curves = pd.read_csv(report / "training_curves.csv")
    assert curves["iteration"].tolist() == [1, 2, 3, 4]
    # The default checkpoint metric: TRAS, TRAST and TRASFUST replaying the teachers' stored tracks of the
    # validation videos, their mean choosing the best checkpoint.
    assert sorted(p.name for p in (out / "validation_teachers" / "synthetic" / "kcf").glob("*[0-9].txt")) == [
        "synthetic_500_0000.txt",
        "synthetic_500_0001.txt",
    ]
    validation = pd.read_csv(report / "validation.csv")
    assert validation["iteration"].tolist() == [2, 4]
    aos = validation[["validation_ao", "trast_ao", "trasfust_ao"]]
    assert aos.stack().between(0, 1).all()
    np.testing.assert_allclose(validation["score"], aos.mean(axis=1), atol=2e-6)
    # TensorBoard: every iteration's result, and the validations on the iterations that validate.
    from tests.experiments.train.test_training_loggers import tensorboard_scalars

    scalars = tensorboard_scalars(out / "training" / "tensorboard")
    assert [step for step, _ in scalars["ray/tune/trained_s"]] == [1, 2, 3, 4]
    assert [step for step, _ in scalars["ray/tune/score"]] == [2, 4]
    np.testing.assert_allclose([v for _, v in scalars["ray/tune/score"]], validation["score"], atol=1e-5)
    state = json.loads((out / "training" / "state.json").read_text())
    assert state["best_ao"] == pytest.approx(validation["score"].max(), abs=1e-6)
    assert state["best_iteration"] == int(validation.loc[validation["score"].idxmax(), "iteration"])
    assert json.loads((report / "config.json").read_text())["iterations"] == 4
    summary = (report / "summary.md").read_text()
    assert "## The bar" in summary and "TRAS AO >= identity AO + 0.15" in summary

    from tracking_by_trackers.policies.student_export import load_student

    assert load_student(report / "student.pt").config.backbone == "small"

    # Resume with a larger budget: training continues from iteration 4, the teachers do not run again.
    assert main(["train", "--quick", "--out", "run", "--resume", "--iterations", "6"]) == 0
    curves = pd.read_csv(out / "training" / "curves.csv")
    assert curves["iteration"].tolist() == [1, 2, 3, 4, 5, 6]
    state = json.loads((out / "training" / "state.json").read_text())
    assert state["iteration"] == 6


def test_an_earlier_runs_config_with_removed_settings_loads_only_where_they_were_off(tmp_path):
    old_default = {
        **TrainConfig().to_dict(),
        "value_loss_scale": None,
        "critic_from_every_student": False,
        "teacherless_on_all_videos": False,
        "handover_prob": 0.0,
        "separate_critic": None,
    }
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(old_default))
    assert TrainConfig().updated(**load_config_file(config_file)) == TrainConfig()
    config_file.write_text(json.dumps({**old_default, "handover_prob": 0.2}))
    with pytest.raises(ConfigError) as error:
        TrainConfig().updated(**load_config_file(config_file))
    assert str(error.value) == (
        "setting 'handover_prob' was removed (tried, did not help; no student is handed a teacher's box); "
        "this config sets it to 0.2"
    )
    with pytest.raises(
        ConfigError, match=r"'separate_critic' was removed \(.* the preset 'small-separate-critic'"
    ):
        TrainConfig().updated(separate_critic=True)


def test_scale_settings_reach_the_algorithm_config(tmp_path):
    from tracking_by_trackers.experiments.train.student_training import build_algorithm_config

    config = TrainConfig(
        num_env_runners=6,
        num_envs_per_env_runner=4,
        num_gpus_per_env_runner=0.25,
        num_learners=2,
        num_gpus_per_learner=1,
        num_aggregator_actors_per_learner=2,
        placement_strategy="SPREAD",
        custom_resources_per_env_runner={"env_runner_node": 0.001},
        custom_resources_per_learner={"learner_node": 0.001},
        t_max=7,
        lr=2e-3,
        train_batch_size=64,
        policy_lag_correction=False,
    ).validate()
    algo = build_algorithm_config(config, tmp_path)
    assert (algo.num_env_runners, algo.num_envs_per_env_runner, algo.num_gpus_per_env_runner) == (6, 4, 0.25)
    assert (algo.num_learners, algo.num_gpus_per_learner, algo.num_aggregator_actors_per_learner) == (2, 1, 2)
    assert algo.placement_strategy == "SPREAD"
    assert algo.custom_resources_per_env_runner == {"env_runner_node": 0.001}
    assert algo.custom_resources_per_learner == {"learner_node": 0.001}
    assert (algo.rollout_fragment_length, algo.model_config["max_seq_len"], algo.lr) == (7, 9, 2e-3)
    assert (algo.train_batch_size_per_learner, algo.policy_lag_correction) == (64, False)
    defaults = build_algorithm_config(TrainConfig(), tmp_path)
    assert defaults.policy_lag_correction
    with pytest.raises(ConfigError, match="placement_strategy must be"):
        TrainConfig(placement_strategy="RANDOM").validate()


def test_the_budget_and_the_learning_rate_schedule_are_the_algorithms(tmp_path):
    """The cosine and the budget run in the algorithm (``tracking_by_trackers.policies.kdrl.lr_schedule``), so ``tbt train`` and a
    Tune trial built from the same settings anneal the same way."""
    from tracking_by_trackers.experiments.train.student_training import build_algorithm_config

    config = TrainConfig(lr=1e-3, final_lr_fraction=0.05, iterations=100, train_minutes=10.0).validate()
    schedule = build_algorithm_config(config, tmp_path).budget_schedule()
    assert (schedule.lr, schedule.final_fraction, schedule.iterations, schedule.seconds) == (
        1e-3,
        0.05,
        100,
        600.0,
    )
    with pytest.raises(ConfigError, match=r"final_lr_fraction must be in \(0, 1\], got 0.0"):
        TrainConfig(final_lr_fraction=0.0).validate()


def test_a_validation_file_from_before_trast_and_trasfust_were_validated_gets_their_columns(tmp_path):
    from tracking_by_trackers.experiments.train.student_training import (
        VALIDATION_COLUMNS,
        _start_validation_file,
    )

    path = tmp_path / "validation.csv"
    path.write_text("iteration,validation_ao,train_s\n300,0.25,61.0\n")
    _start_validation_file(path)  # as a resumed run does before appending its rows
    table = pd.read_csv(path)
    assert tuple(table.columns) == VALIDATION_COLUMNS
    assert table.loc[0, ["iteration", "validation_ao", "train_s"]].tolist() == [300, 0.25, 61.0]
    assert table[["trast_ao", "trasfust_ao", "score"]].isna().all(axis=None)
    before = path.read_text()
    _start_validation_file(path)
    assert path.read_text() == before
    _start_validation_file(tmp_path / "new.csv")
    assert (tmp_path / "new.csv").read_text() == ",".join(VALIDATION_COLUMNS) + "\n"


def test_the_envs_of_one_runner_share_one_clip_source(tmp_path, monkeypatch):
    """Every env calls the config's clip-source partial; the transfer set is read once per process, not
    once per env (16 reads of the store cost the default run's env runner 40 s of setup)."""
    from tracking_by_trackers.experiments.train import student_training
    from tracking_by_trackers.teachers.transfer_set import TransferSetClipSource

    reads = []
    monkeypatch.setattr(
        TransferSetClipSource,
        "from_store",
        classmethod(lambda cls, root, **options: reads.append(root) or object()),
    )
    student_training.transfer_clip_source.cache_clear()
    make_source = student_training.build_algorithm_config(TrainConfig(), tmp_path).env_config["clip_source"]
    first, second = make_source(), make_source()
    assert first is second and reads == [str(tmp_path)]
    other = student_training.build_algorithm_config(TrainConfig(beta=0.6), tmp_path).env_config[
        "clip_source"
    ]()
    assert other is not first and len(reads) == 2
    student_training.transfer_clip_source.cache_clear()


def test_the_paper_preset_without_imagenet_weights_is_refused(tmp_path, capsys, monkeypatch):
    message = (
        r"preset 'paper' needs imagenet_weights \(--imagenet-weights FILE, torchvision's resnet18-f37072fd.pth "
        r"from https://download.pytorch.org/models/resnet18-f37072fd.pth\): its batch norm runs on stored "
        r"statistics, which a backbone trained from scratch would keep at their initial mean 0 and variance 1; "
        r"use preset 'small' to train from scratch"
    )
    with pytest.raises(ConfigError, match=f"^{message}$"):
        TrainConfig(preset="paper").validate()
    weights = tmp_path / "resnet18-f37072fd.pth"
    weights.write_bytes(b"")  # validate checks that the file exists; the module reads it
    TrainConfig(preset="paper", imagenet_weights=str(weights)).validate()
    TrainConfig(preset="small").validate()  # group norm: nothing to freeze
    assert main(["train", "--preset", "paper", "--out", str(tmp_path / "run")]) == 2
    assert "error: preset 'paper' needs imagenet_weights" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    monkeypatch.setenv("COLUMNS", "300")  # argparse wraps help to the terminal, even inside a word
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(ResNet-18; needs --imagenet-weights)" in help_text
    assert "required by --preset paper" in help_text


def test_shared_videos_between_two_datasets_are_named():
    from tests.conftest import make_moving_square_sequence
    from tracking_by_trackers.experiments.train.train_pipeline import shared_split_warnings

    square = [make_moving_square_sequence(num_frames=10, seed=seed) for seed in range(4)]
    config = TrainConfig(dataset="otb:a", validation_dataset="otb:b", test_dataset="otb:b")
    messages = shared_split_warnings(
        config, {"dataset": square[:2], "validation_dataset": square[1:3], "test_dataset": square[1:3]}
    )
    assert messages == [
        "dataset (otb:a) and validation_dataset (otb:b) share 1 videos: the best checkpoint would be chosen "
        "on videos the student trained on",
        "dataset (otb:a) and test_dataset (otb:b) share 1 videos: the test scores would be measured on videos "
        "the student trained on",
        "validation_dataset and test_dataset are the same dataset (otb:b): the checkpoint would be chosen on "
        "the test videos",
    ]
    # A video is known by its benchmark, name and ground truth: another spelling of a folder is caught, and
    # a video of the same name with another ground truth is another video.
    config = TrainConfig(dataset="otb:a", validation_dataset="otb:./a", test_dataset="otb:c")
    other = make_moving_square_sequence(num_frames=11, seed=0)
    messages = shared_split_warnings(
        config, {"dataset": square[:2], "validation_dataset": square[:2], "test_dataset": [other]}
    )
    assert messages == [
        "dataset (otb:a) and validation_dataset (otb:./a) are the same dataset: the best checkpoint would be "
        "chosen on videos the student trained on"
    ]
    assert (
        shared_split_warnings(
            TrainConfig(),
            {"dataset": square[:1], "validation_dataset": square[1:2], "test_dataset": square[2:3]},
        )
        == []
    )


def test_tbt_train_warns_when_validation_and_test_are_one_dataset(tmp_path, monkeypatch, caplog):
    import tracking_by_trackers.cluster.ray_runtime as ray_runtime
    import tracking_by_trackers.experiments.train.train_pipeline as train_pipeline
    from tracking_by_trackers.experiments.train.train_pipeline import run_training_pipeline

    class StopAfterTheVideos(Exception):
        pass

    def stop(*args, **kwargs):
        raise StopAfterTheVideos

    # Ray is not needed up to the videos: no cluster, no GPU check, threads for the evaluations.
    monkeypatch.setattr(ray_runtime, "init_ray", lambda *args, **kwargs: None)
    monkeypatch.setattr(train_pipeline, "check_run_gpus", lambda config: None)
    monkeypatch.setattr(train_pipeline, "evaluation_backend", lambda: "threads")
    monkeypatch.setattr(train_pipeline, "run_teachers", stop)
    spec = "synthetic:videos=2,frames=12,seed=7"
    config = TrainConfig.quick(validation_dataset=spec, test_dataset=spec)
    with (
        caplog.at_level("WARNING", logger="tracking_by_trackers.experiments.train.train_pipeline"),
        pytest.raises(StopAfterTheVideos),
    ):
        run_training_pipeline(config, tmp_path / "run")
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name == "tracking_by_trackers.experiments.train.train_pipeline"
    ] == [
        f"validation_dataset and test_dataset are the same dataset ({spec}): the checkpoint would be chosen on "
        "the test videos"
    ]
    caplog.clear()
    with (
        caplog.at_level("WARNING", logger="tracking_by_trackers.experiments.train.train_pipeline"),
        pytest.raises(StopAfterTheVideos),
    ):
        run_training_pipeline(TrainConfig.quick(), tmp_path / "default", resume=False)
    assert not [
        r for r in caplog.records if r.name == "tracking_by_trackers.experiments.train.train_pipeline"
    ]
