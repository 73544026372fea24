"""A Ray Tune trial's validation: ``tbt train``'s validator and checkpoint metric, as an RLlib callback.

:class:`CheckpointValidationCallback` runs on the trial's driver. After an iteration it takes the
student's weights from the learner (``algorithm.learner_group.get_weights()``: the local env runner's
copy lags behind), loads them into a :class:`~tracking_by_trackers.policies.student_model.StudentNetwork`, and validates it
with the validator ``tbt train`` builds from the same settings
(:func:`~tracking_by_trackers.experiments.train.checkpoint_validation.validator_for_run`: ``TrainConfig.checkpoint_metric``, TRAST's
partner teacher, the pool, the teachers' stored tracks of the validation videos). It writes
:func:`~tracking_by_trackers.experiments.train.checkpoint_validation.validation_row` into the result: each tracker's AO and the
``score`` that Tune's schedulers and checkpoint ranking compare, under the names of ``validation.csv``.

It validates on the first iteration it sees (so the metrics exist from the start, also after a restore
from a checkpoint), every ``validate_every`` iterations, and on the iteration that ends the budget
(``result["done"]``); in between it repeats the last values, so that every result carries them (Tune
refuses a result that lacks the metric its scheduler uses). ``result["validation_iteration"]`` says which
iteration they were measured at.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from ray.rllib.callbacks.callbacks import RLlibCallback

from tracking_by_trackers.experiments.train.checkpoint_validation import (
    SCORE,
    VALIDATION_KEYS,
    validation_row,
)

__all__ = ["VALIDATION_ITERATION", "CheckpointValidationCallback", "student_from_learner"]

VALIDATION_ITERATION = "validation_iteration"
VALIDATION_SECONDS = "validation_s"

_MODULE_ID = "default_policy"
_NETWORK_PREFIX = "net."
"""The student module keeps its :class:`StudentNetwork` as ``self.net``: its weights are ``net.*``."""


def student_from_learner(algorithm):
    """The learner's current student as a CPU :class:`~tracking_by_trackers.policies.student_model.StudentNetwork` in eval mode."""
    import torch

    from tracking_by_trackers.policies.kdrl.torch.student_torch_rl_module import student_config
    from tracking_by_trackers.policies.student_model import StudentNetwork

    state = algorithm.learner_group.get_weights()[_MODULE_ID]
    network_state = {
        key.removeprefix(_NETWORK_PREFIX): torch.as_tensor(value)
        for key, value in state.items()
        if key.startswith(_NETWORK_PREFIX)
    }
    if not network_state:
        raise ValueError(
            f"the learner's module holds no '{_NETWORK_PREFIX}*' weights (keys: {sorted(state)[:5]}...): "
            "is it the KD-RL student module?"
        )
    network = StudentNetwork.from_config(student_config(algorithm.config.model_config))
    network.load_state_dict(network_state)
    return network.cpu().eval()


class CheckpointValidationCallback(RLlibCallback):
    """Adds the run's validation to the training results (see the module docstring).

    RLlib instantiates callbacks with no arguments: give it to ``config.callbacks`` as a
    ``functools.partial`` with the arguments below.

    Args:
        settings: The run's ``TrainConfig`` as a dict (its ``validation_dataset``, ``validate_every``,
            ``checkpoint_metric`` and ``teachers``).
        partner: TRAST's teacher (``"modes"`` metric).
        teacher_results: The teachers' stored tracks of the validation videos (``"modes"`` metric).
        workers: Tracking jobs run at once.
    """

    def __init__(
        self,
        settings: dict,
        partner: str | None = None,
        teacher_results: str | Path | None = None,
        workers: int = 1,
    ):
        super().__init__()
        from tracking_by_trackers.experiments.train.train_config import TrainConfig

        self.config = TrainConfig.from_dict(settings)
        self.partner = partner
        self.teacher_results = teacher_results
        self.workers = workers
        self._validator = None
        self._last = dict.fromkeys(VALIDATION_KEYS, math.nan)
        self._last_iteration = 0

    def validator(self):
        """The run's validator (built once, on the driver: env runners create the callback too but never
        validate)."""
        if self._validator is None:
            from tracking_by_trackers.envs.datasets import load_dataset
            from tracking_by_trackers.experiments.train.checkpoint_validation import validator_for_run

            self._validator = validator_for_run(
                self.config,
                load_dataset(self.config.validation_dataset),
                partner=self.partner,
                teacher_results=self.teacher_results,
                workers=self.workers,
            )
        return self._validator

    def on_train_result(self, *, algorithm, metrics_logger=None, result: dict, **kwargs) -> None:
        iteration = int(result.get("training_iteration", algorithm.iteration))
        due = (
            iteration % self.config.validate_every == 0
            or bool(result.get("done"))
            or math.isnan(self._last[SCORE])
        )
        seconds = 0.0
        if due:
            started = time.perf_counter()
            self._last = validation_row(self.validator()(student_from_learner(algorithm)))
            self._last_iteration = iteration
            seconds = time.perf_counter() - started
        result.update(self._last)
        result[VALIDATION_ITERATION] = self._last_iteration
        result[VALIDATION_SECONDS] = seconds
