"""KD-RL's hyperparameters, declared once: each one's default and the values it may take.

:class:`~tracking_by_trackers.policies.kdrl.kdrl.KDRLConfig` (the RLlib config) takes its defaults from here and checks its values
against these rules in ``validate()``; :class:`~tracking_by_trackers.experiments.train.train_config.TrainConfig` (``tbt train``'s
settings, and so its flags) declares the same defaults and checks through the same rules. The defaults are
the project's recipe for the ``small`` student, not the paper's values where they differ (its RAdam rate
1e-6 served ten days on four GPUs; docs/method.md, *Departures from the paper*).

The module imports nothing heavy: ``tbt --help`` and the config checks read it without Ray or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["HYPERPARAMETERS", "Hyperparameter", "check_hyperparameters"]


@dataclass(frozen=True)
class Hyperparameter:
    """A default and the closed range ``[low, high]`` (``low_open``: ``(low, high]``) a number may take."""

    default: Any
    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def problem(self, name: str, value: Any) -> str | None:
        """Why ``value`` is not valid for ``name``, or None when it is."""
        if isinstance(self.default, bool):
            return None if isinstance(value, bool) else f"{name} must be true or false, got {value!r}"
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{name} must be a number, got {value!r}"
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and value > self.high
        if not (too_low or too_high):
            return None
        low = "" if self.low is None else f"{'(' if self.low_open else '['}{self.low:g}, "
        high = "∞)" if self.high is None else f"{self.high:g}]"
        return f"{name} must be in {low or '(-∞, '}{high}, got {value}"


HYPERPARAMETERS: dict[str, Hyperparameter] = {
    "lr": Hyperparameter(1e-3, low=0.0),
    "final_lr_fraction": Hyperparameter(0.05, low=0.0, high=1.0, low_open=True),
    "t_max": Hyperparameter(5, low=1),
    "gamma": Hyperparameter(1.0, low=0.0, high=1.0),
    "distil_fraction": Hyperparameter(0.5, low=0.0, high=1.0),
    "rl_loss_scale": Hyperparameter(1e-3, low=0.0),
    "distil_weight_decay": Hyperparameter(1e-4, low=0.0),
    # The backbone's rate as a multiple of lr: 0 freezes it (a pretrained backbone), 1 trains it alike.
    "backbone_lr_scale": Hyperparameter(1.0, low=0.0, high=1.0),
    "train_batch_size": Hyperparameter(80, low=1),
    "policy_lag_correction": Hyperparameter(True),
    "curriculum": Hyperparameter(True),
}
"""Name → its default and range (docs/method.md gives each one's meaning)."""


def check_hyperparameters(values: dict[str, Any]) -> str | None:
    """The first problem among ``values`` (names of :data:`HYPERPARAMETERS`), or None."""
    for name, value in values.items():
        problem = HYPERPARAMETERS[name].problem(name, value)
        if problem:
            return problem
    return None
