"""TRAS's validation AO as a metric of every KD-RL training result (what Ray Tune's ASHA compares).

:class:`ValidationAOCallback` is an RLlib callback. On the driver, after an iteration, it takes the
student's weights from the learner (``algorithm.learner_group.get_weights()``: the local env runner's
copy lags behind), loads them into a :class:`~policies.student_model.StudentNetwork`, tracks the
validation videos once with TRAS, and writes the AO into ``result["validation_ao"]``.

It validates on the first iteration it sees (so the metric exists from the start, also after a restore
from a checkpoint) and then every ``validate_every`` iterations; in between it repeats the last value, so
that every result carries the metric (Tune refuses a result that lacks the metric its scheduler uses).
``result["validation_iteration"]`` says which iteration the value was measured at.
"""

from __future__ import annotations

import math
import time

from ray.rllib.callbacks.callbacks import RLlibCallback

__all__ = ["VALIDATION_AO", "VALIDATION_ITERATION", "ValidationAOCallback", "student_from_learner"]

VALIDATION_AO = "validation_ao"
VALIDATION_ITERATION = "validation_iteration"
VALIDATION_SECONDS = "validation_s"

_MODULE_ID = "default_policy"
_NETWORK_PREFIX = "net."
"""The student module keeps its :class:`StudentNetwork` as ``self.net``: its weights are ``net.*``."""


def student_from_learner(algorithm):
    """The learner's current student as a CPU :class:`~policies.student_model.StudentNetwork` in eval mode."""
    import torch

    from policies.student_model import StudentNetwork
    from policies.torch.student_torch_rl_module import student_config

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


class ValidationAOCallback(RLlibCallback):
    """Adds TRAS's AO on ``validation_dataset`` to the training results (see the module docstring).

    RLlib instantiates callbacks with no arguments: give it to ``config.callbacks`` as
    ``functools.partial(ValidationAOCallback, validation_dataset=..., validate_every=...)``.

    Args:
        validation_dataset: A dataset spec for :func:`envs.datasets.load_dataset` (read lazily, once, on the
            driver: env runners create the callback too but never validate).
        validate_every: Iterations between validations.
    """

    def __init__(self, validation_dataset: str, validate_every: int = 1):
        super().__init__()
        if validate_every < 1:
            raise ValueError(f"validate_every must be >= 1, got {validate_every}")
        self.validation_dataset = validation_dataset
        self.validate_every = int(validate_every)
        self._videos = None
        self._last_ao = math.nan
        self._last_iteration = 0

    def _validation_videos(self):
        if self._videos is None:
            from envs.datasets import load_dataset

            self._videos = load_dataset(self.validation_dataset)
        return self._videos

    def on_train_result(self, *, algorithm, metrics_logger=None, result: dict, **kwargs) -> None:
        from experiments.checkpoint_validation import validate_tras

        iteration = int(result.get("training_iteration", algorithm.iteration))
        due = iteration % self.validate_every == 0 or math.isnan(self._last_ao)
        seconds = 0.0
        if due:
            started = time.perf_counter()
            self._last_ao = validate_tras(student_from_learner(algorithm), self._validation_videos())
            self._last_iteration = iteration
            seconds = time.perf_counter() - started
        result[VALIDATION_AO] = self._last_ao
        result[VALIDATION_ITERATION] = self._last_iteration
        result[VALIDATION_SECONDS] = seconds
