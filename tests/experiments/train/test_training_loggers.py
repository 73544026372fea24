"""tbt train's loggers: TensorBoard event files with the result's scalars, MLflow at a local ``file:`` URI,
W&B offline, the Tune callbacks for the same settings, and the message when an extra is missing (the dev
install brings both extras)."""

from __future__ import annotations

import struct
import sys

import pytest

from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig
from tracking_by_trackers.experiments.train.training_loggers import (
    TAG_PREFIX,
    TENSORBOARD,
    TrainingLoggers,
    scalar_metrics,
    tune_logger_callbacks,
)

RESULT = {
    "training_iteration": 3,
    "learners": {"default_policy": {"distillation_loss": 0.5, "policy_loss": float("nan")}},
    "score": 0.25,
    "done": False,
    "config": {"lr": 1e-3},
    "date": "today",
}


def tensorboard_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files in ``folder``: tag → [(step, value)] (TFRecord framing: length,
    its CRC, the serialised ``Event``, its CRC)."""
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_only_finite_numbers_are_logged_under_their_nested_names():
    assert scalar_metrics(RESULT) == {"learners/default_policy/distillation_loss": 0.5, "score": 0.25}


def test_tensorboard_event_files_hold_the_results_scalars(tmp_path):
    loggers = TrainingLoggers(TrainConfig(), tmp_path, run_name="run")
    loggers.log(RESULT, step=3)
    loggers.log({**RESULT, "score": 0.5}, step=4)
    loggers.close()
    scalars = tensorboard_scalars(tmp_path / TENSORBOARD)
    assert scalars[TAG_PREFIX + "score"] == [(3, 0.25), (4, 0.5)]
    assert scalars[TAG_PREFIX + "learners/default_policy/distillation_loss"] == [(3, 0.5), (4, 0.5)]


def test_mlflow_logs_the_config_and_every_iteration_at_a_file_uri(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    # MLflow 3 keeps its file store for local use behind this switch (a server or a database otherwise).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    config = TrainConfig(mlflow_tracking_uri=uri, mlflow_experiment="tests").validate()
    loggers = TrainingLoggers(config, tmp_path / "training", run_name="run")
    loggers.log(RESULT, step=3)
    loggers.log({**RESULT, "score": 0.5}, step=4)
    loggers.close()
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
    assert run.info.run_name == "run" and float(run.data.params["lr"]) == config.lr
    history = client.get_metric_history(run.info.run_id, "score")
    assert [(m.step, m.value) for m in history] == [(3, 0.25), (4, 0.5)]


def test_wandb_logs_offline_into_the_training_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    loggers = TrainingLoggers(TrainConfig(wandb_project="tests"), tmp_path, run_name="run")
    loggers.log(RESULT, step=3)
    loggers.close()
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list(run.glob("run-*.wandb"))


def test_tune_gets_rays_mlflow_and_wandb_callbacks_for_the_same_settings():
    from ray.air.integrations.mlflow import MLflowLoggerCallback
    from ray.air.integrations.wandb import WandbLoggerCallback

    assert tune_logger_callbacks(TrainConfig(), "sweep") == []
    mlflow, wandb = tune_logger_callbacks(
        TrainConfig(mlflow_tracking_uri="file:/m", wandb_project="p"), "sweep"
    )
    assert isinstance(mlflow, MLflowLoggerCallback) and mlflow.tracking_uri == "file:/m"
    assert isinstance(wandb, WandbLoggerCallback) and wandb.project == "p"


@pytest.mark.parametrize(
    ("setting", "package"), [("mlflow_tracking_uri", "mlflow"), ("wandb_project", "wandb")]
)
def test_a_logger_without_its_package_names_the_extra_to_install(setting, package, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)  # what `import` sees when the package is missing
    with pytest.raises(
        ConfigError,
        match=rf"{setting} needs the {package} package, which is not installed: pip install -e '\.\[{package}\]'",
    ):
        TrainConfig(**{setting: "x"}).validate()
