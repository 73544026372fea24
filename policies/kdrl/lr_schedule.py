"""KD-RL's learning-rate schedule and training budget: a cosine over whichever budget runs out first.

The paper trains with a constant RAdam rate (1e-6, for days on four GPUs). The small preset needs a rate
near 1e-3, at which a constant rate keeps the student swinging from one validation to the next, so the
rate follows a cosine from ``lr`` down to ``lr · final_lr_fraction`` over the training budget (see
docs/method.md, *Training*). The budget is an iteration count, a training time, or both; progress is the
larger of the two fractions spent, so the curve ends with whichever runs out first.

:class:`~tracking_by_trackers.policies.kdrl.kdrl.KDRL` owns the schedule, not a driver loop: ``tbt train``, a Ray Tune trial and a
job sent with ``tbt submit`` all build the algorithm from its config and so train on the same curve. The
training time spent is part of the algorithm's checkpoint state, so a restored algorithm carries on
where it stopped. RLlib's own ``lr`` schedule cannot do this: it is piecewise over env steps sampled,
and a time budget cannot name its step count in advance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["BUDGET_PROGRESS", "TRAINED_SECONDS", "CosineBudgetSchedule"]

TRAINED_SECONDS = "trained_s"
"""Result key: seconds spent in training iterations so far (validation and checkpoints not counted)."""
BUDGET_PROGRESS = "budget_progress"
"""Result key: the fraction of the budget spent, in [0, 1]; the run is done at 1."""


@dataclass(frozen=True)
class CosineBudgetSchedule:
    """A cosine from ``lr`` to ``lr · final_fraction`` over ``iterations`` or ``seconds``.

    Args:
        lr: The rate at the start.
        final_fraction: The rate at the end, as a fraction of ``lr``, in (0, 1]; 1 keeps it constant.
        iterations: The iteration budget (None: no iteration budget).
        seconds: The training-time budget (None: no time budget).
    """

    lr: float
    final_fraction: float = 1.0
    iterations: int | None = None
    seconds: float | None = None

    def __post_init__(self):
        if not 0.0 < self.final_fraction <= 1.0:
            raise ValueError(f"final_lr_fraction must be in (0, 1], got {self.final_fraction}")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"budget_iterations must be >= 1 or None, got {self.iterations}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"the time budget must be > 0 or None, got {self.seconds} s")

    @property
    def has_budget(self) -> bool:
        return self.iterations is not None or self.seconds is not None

    @property
    def anneals(self) -> bool:
        """Whether the rate moves at all (a budget to anneal over and a final rate below ``lr``)."""
        return self.has_budget and self.final_fraction < 1.0

    def progress(self, iterations: int, seconds: float) -> float:
        """The fraction of the budget spent after ``iterations`` iterations and ``seconds`` of training."""
        spent = [0.0]
        if self.iterations is not None:
            spent.append(iterations / self.iterations)
        if self.seconds is not None:
            spent.append(seconds / self.seconds)
        return min(1.0, max(spent))

    def lr_at(self, progress: float) -> float:
        """The rate at ``progress`` (0: ``lr``; 1 and past it: ``lr · final_fraction``)."""
        final = self.lr * self.final_fraction
        return final + (self.lr - final) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
