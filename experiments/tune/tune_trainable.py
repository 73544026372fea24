"""The Ray Tune trainable of a KD-RL sweep: the KDRL algorithm, configured from a trial's training settings.

Tune samples a trial's config from a flat dict whose keys are :class:`~tracking_by_trackers.experiments.train.train_config.TrainConfig`
fields (``lr``, ``beta``, ``teachers``, ``curriculum``, ``seed``, …) plus the sweep's keys below (where
the transfer set and the teachers' validation tracks are, and TRAST's partner teacher of each pool).
Several of those settings cannot be RLlib config values that Tune samples directly: β, the teacher pool
and the clip settings live inside the clip source (a ``functools.partial`` in ``env_config`` that Tune
cannot look into), and ``t_max`` also sets the module's ``max_seq_len``. So :class:`SweepKDRL` turns the
sampled settings into a complete ``KDRLConfig`` with the same :func:`~tracking_by_trackers.experiments.train.student_training.
build_algorithm_config` that ``tbt train`` uses (the learning-rate schedule and the budget included: they
are the algorithm's), adds the validation that ``tbt train`` runs
(:class:`~tracking_by_trackers.experiments.tune.validation_callback.CheckpointValidationCallback`), and is otherwise RLlib's own
algorithm: Tune trains it (``train()``, until a result says ``done``), checkpoints it
(``save_checkpoint``), restores it (ASHA's resumes, PBT's exploits), and sizes each trial's placement group
from the algorithm config (``default_resource_request``), GPUs included.
"""

from __future__ import annotations

import functools
from dataclasses import fields
from pathlib import Path
from typing import Any

from tracking_by_trackers.experiments.train.checkpoint_validation import SCORE, VALIDATION_KEYS
from tracking_by_trackers.experiments.train.train_config import ConfigError, TrainConfig
from tracking_by_trackers.experiments.tune.validation_callback import (
    VALIDATION_ITERATION,
    CheckpointValidationCallback,
)
from tracking_by_trackers.policies.kdrl.kdrl import KDRL
from tracking_by_trackers.policies.kdrl.kdrl_metrics import (
    ENV_STEPS_PER_S,
    LEARNER_SAMPLES_PER_S,
    KDRLMetricsCallback,
)
from tracking_by_trackers.policies.kdrl.lr_schedule import BUDGET_PROGRESS

__all__ = [
    "PARTNERS_KEY",
    "PLACEMENT_STRATEGY_KEY",
    "TRANSFER_SET_ROOT_KEY",
    "VALIDATION_TEACHERS_KEY",
    "SweepKDRL",
    "algorithm_config_for_trial",
    "train_config_of_trial",
]

TRANSFER_SET_ROOT_KEY = "transfer_set_root"
"""The trial-config key naming the transfer set every trial cuts its clips from."""
VALIDATION_TEACHERS_KEY = "validation_teachers"
"""The trial-config key naming the teachers' stored tracks of the validation videos (``"modes"``)."""
PARTNERS_KEY = "trast_partners"
"""The trial-config key mapping each teacher pool (a ``TrainConfig.teachers`` string) to TRAST's partner:
its teacher with the best mean IoU on the training videos, as ``tbt train`` chooses it."""
PLACEMENT_STRATEGY_KEY = "placement_strategy"
"""The trial-config key of the trial's placement-group strategy (``PACK``, ``SPREAD``, …): the
``TrainConfig`` field of that name, which ``build_algorithm_config`` applies. Placement strategies act
only under Tune, where each trial gets one placement group."""
SWEEP_KEYS = frozenset({TRANSFER_SET_ROOT_KEY, VALIDATION_TEACHERS_KEY, PARTNERS_KEY})
"""Trial-config keys that are not training settings."""
_LEADING_METRICS = (
    SCORE,
    *(key for key in VALIDATION_KEYS if key != SCORE),
    VALIDATION_ITERATION,
    BUDGET_PROGRESS,
    ENV_STEPS_PER_S,
    LEARNER_SAMPLES_PER_S,
)
_TRAIN_CONFIG_FIELDS = frozenset(f.name for f in fields(TrainConfig))


def train_config_of_trial(trial_config: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` a trial's (sampled) config describes.

    Tune's own bookkeeping keys (``__trial_info__`` and the like) are ignored; any other key that is not a
    ``TrainConfig`` field is an error, so that a misspelt search-space key fails instead of doing nothing.
    """
    settings = {k: v for k, v in trial_config.items() if k not in SWEEP_KEYS and not k.startswith("__")}
    unknown = sorted(set(settings) - _TRAIN_CONFIG_FIELDS)
    if unknown:
        raise ConfigError(f"unknown training setting(s) {unknown} in the trial config")
    return TrainConfig.from_dict(settings).validate()


def algorithm_config_for_trial(trial_config: dict[str, Any], validation: bool = True):
    """The ``KDRLConfig`` of one trial: ``tbt train``'s algorithm config plus ``tbt train``'s validation
    (left out with ``validation=False``: what a trial's resources are sized from)."""
    from tracking_by_trackers.experiments.train.student_training import build_algorithm_config

    if TRANSFER_SET_ROOT_KEY not in trial_config:
        raise ConfigError(
            f"the trial config has no {TRANSFER_SET_ROOT_KEY!r}: which transfer set to train on?"
        )
    config = train_config_of_trial(trial_config)
    algo_config = build_algorithm_config(config, Path(trial_config[TRANSFER_SET_ROOT_KEY]))
    if not validation:
        return algo_config
    partner = None
    if config.checkpoint_metric == "modes":
        partners = trial_config.get(PARTNERS_KEY) or {}
        if config.teachers not in partners or not trial_config.get(VALIDATION_TEACHERS_KEY):
            raise ConfigError(
                f"the 'modes' checkpoint metric needs TRAST's partner for teacher pool {config.teachers!r} "
                f"({PARTNERS_KEY}) and the teachers' tracks of the validation videos "
                f"({VALIDATION_TEACHERS_KEY}) in the trial config"
            )
        partner = partners[config.teachers]
    validator = functools.partial(
        CheckpointValidationCallback,
        settings=config.to_dict(),
        partner=partner,
        teacher_results=trial_config.get(VALIDATION_TEACHERS_KEY),
    )
    return algo_config.callbacks([KDRLMetricsCallback, validator])


class SweepKDRL(KDRL):
    """KDRL that also accepts a sweep trial's config (see the module docstring).

    Given a ``KDRLConfig`` (as ``KDRL.from_checkpoint`` gives it), it behaves exactly like :class:`KDRL`.
    """

    def __init__(self, config=None, **kwargs):
        self._trial_config = None
        if isinstance(config, dict) and TRANSFER_SET_ROOT_KEY in config:
            self._trial_config = dict(config)
            config = algorithm_config_for_trial(config)
        super().__init__(config=config, **kwargs)

    def get_auto_filled_metrics(self, *args, **kwargs) -> dict:
        """Results carry the trial's training settings as their ``config`` (what ``ResultGrid`` and its
        dataframe show as ``config/<setting>``), not the several hundred keys of the algorithm config."""
        filled = super().get_auto_filled_metrics(*args, **kwargs)
        if self._trial_config is not None:
            filled["config"] = {k: v for k, v in self._trial_config.items() if k not in SWEEP_KEYS}
        return filled

    def log_result(self, result: dict) -> None:
        """After the callbacks have added them, put the sweep's metrics first in the result: Tune's progress
        table shows the first few metrics of a result, which would otherwise be RLlib's bookkeeping."""
        super().log_result(result)
        leading = {key: result[key] for key in _LEADING_METRICS if key in result}
        rest = {key: value for key, value in result.items() if key not in leading}
        result.clear()
        result.update(leading)
        result.update(rest)

    @classmethod
    def default_resource_request(cls, config):
        """One trial's resources, from its algorithm config: the driver (and local learner's GPUs), the env
        runners, the learners and aggregators, as RLlib reserves them for any algorithm under Tune."""
        if isinstance(config, dict) and TRANSFER_SET_ROOT_KEY in config:
            config = algorithm_config_for_trial(config, validation=False).to_dict()
        return super().default_resource_request(config)
