"""Where training metrics go besides ``curves.csv``: TensorBoard always, MLflow and W&B when asked for.

``tbt train`` (:class:`TrainingLoggers`) writes every iteration's result, flattened as Ray Tune's
``TBXLoggerCallback`` flattens it (``learners/default_policy/distillation_loss``, …, under the same
``ray/tune/`` prefix, so a run and a sweep's trials line up in one TensorBoard), with the validation AOs
and score added on the iterations that validate, to::

    <out>/training/tensorboard/events.out.tfevents.*     tensorboard --logdir <out>/training/tensorboard

Ray 2.60 ships TensorBoard, MLflow and W&B logging as Tune callbacks, which need a Tune trial; outside
Tune, Ray ships ``setup_mlflow`` and ``setup_wandb`` (``ray.air.integrations``), used here, and TensorBoard
files are written with tensorboardX's ``SummaryWriter``, the writer Tune's callback uses.

``tbt tune`` (:func:`tune_logger_callbacks`) gets TensorBoard files in every trial's folder from Tune's
default loggers, and Ray's ``MLflowLoggerCallback`` and ``WandbLoggerCallback`` for the same settings:
``TrainConfig.mlflow_tracking_uri`` / ``mlflow_experiment`` and ``wandb_project`` (the ``mlflow`` and
``wandb`` extras of the package).
"""

from __future__ import annotations

import importlib
import math
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracking_by_trackers.experiments.train.train_config import TrainConfig

__all__ = [
    "TENSORBOARD",
    "TrainingLoggers",
    "add_logger_arguments",
    "check_logger_packages",
    "scalar_metrics",
    "tune_logger_callbacks",
]

TENSORBOARD = "tensorboard"
"""The folder of ``tbt train``'s TensorBoard event files, under ``<out>/training``."""
TAG_PREFIX = "ray/tune/"
"""TensorBoard tags start as Tune's ``TBXLoggerCallback`` starts them."""
# Setting → (the package it needs, the extra that installs it).
_LOGGER_PACKAGES = {"mlflow_tracking_uri": ("mlflow", "mlflow"), "wandb_project": ("wandb", "wandb")}
# Bookkeeping that Tune's callback does not log either.
_NOT_LOGGED = {"config", "pid", "timestamp", "time_total_s", "training_iteration", "done"}


def check_logger_packages(config: TrainConfig) -> None:
    """Raise ``ConfigError`` naming the extra to install when a logger is asked for without its package."""
    from tracking_by_trackers.experiments.train.train_config import ConfigError

    for setting, (package, extra) in _LOGGER_PACKAGES.items():
        if getattr(config, setting) is None:
            continue
        try:
            importlib.import_module(package)
        except ImportError:
            raise ConfigError(
                f"{setting} needs the {package} package, which is not installed: pip install -e '.[{extra}]'"
            ) from None


def scalar_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a training result, nested keys joined by ``/`` (as Tune's loggers do)."""
    from ray.tune.utils import flatten_dict

    flat = flatten_dict({k: v for k, v in result.items() if k not in _NOT_LOGGED}, delimiter="/")
    return {
        key: float(value)
        for key, value in flat.items()
        if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    }


class TrainingLoggers:
    """``tbt train``'s loggers (see the module docstring); call :meth:`close` at the end.

    Args:
        config: The run's settings (which loggers, and the config each logger records).
        folder: ``<out>/training``; TensorBoard writes to its :data:`TENSORBOARD` folder.
        run_name: The run's name in MLflow and W&B.
    """

    def __init__(self, config: TrainConfig, folder: Path, run_name: str):
        from tensorboardX import SummaryWriter

        check_logger_packages(config)
        self.tensorboard_dir = Path(folder) / TENSORBOARD
        self._tensorboard = SummaryWriter(str(self.tensorboard_dir), flush_secs=30)
        self._mlflow = None
        self._wandb = None
        settings = config.to_dict()
        if config.mlflow_tracking_uri is not None:
            from ray.air.integrations.mlflow import setup_mlflow

            self._mlflow = setup_mlflow(
                settings,
                tracking_uri=config.mlflow_tracking_uri,
                experiment_name=config.mlflow_experiment,
                create_experiment_if_not_exists=True,
                run_name=run_name,
            )
        if config.wandb_project is not None:
            from ray.air.integrations.wandb import setup_wandb

            self._wandb = setup_wandb(settings, project=config.wandb_project, name=run_name, dir=str(folder))

    def log(self, result: dict[str, Any], step: int) -> None:
        """Log the numbers of ``result`` at iteration ``step``."""
        metrics = scalar_metrics(result)
        for key, value in metrics.items():
            self._tensorboard.add_scalar(TAG_PREFIX + key, value, global_step=step)
        if self._mlflow is not None:
            self._mlflow.log_metrics(metrics, step=step)
        if self._wandb is not None:
            self._wandb.log(metrics, step=step)

    def close(self) -> None:
        self._tensorboard.close()
        if self._mlflow is not None:
            self._mlflow.end_run()
        if self._wandb is not None:
            self._wandb.finish()


def tune_logger_callbacks(config: TrainConfig, experiment_name: str) -> list:
    """Ray's MLflow and W&B Tune callbacks for ``config``'s logger settings (TensorBoard is Tune's own
    default); W&B groups the sweep's trials under ``experiment_name``."""
    check_logger_packages(config)
    callbacks = []
    if config.mlflow_tracking_uri is not None:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        callbacks.append(
            MLflowLoggerCallback(
                tracking_uri=config.mlflow_tracking_uri, experiment_name=config.mlflow_experiment
            )
        )
    if config.wandb_project is not None:
        from ray.air.integrations.wandb import WandbLoggerCallback

        callbacks.append(WandbLoggerCallback(project=config.wandb_project, group=experiment_name))
    return callbacks


def add_logger_arguments(parser) -> None:
    """The logger flags of ``tbt train`` and ``tbt tune`` (the ``TrainConfig`` settings of the same names)."""
    group = parser.add_argument_group("metrics loggers (TensorBoard files are always written)")
    group.add_argument(
        "--mlflow-tracking-uri", help="log to MLflow at this tracking URI (needs the mlflow extra)"
    )
    group.add_argument("--mlflow-experiment", help="the MLflow experiment (default tracking-by-trackers)")
    group.add_argument("--wandb-project", help="log to this W&B project (needs the wandb extra)")
