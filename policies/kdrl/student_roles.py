"""What each student (env runner) learns from: its role, and how the ablations of the paper's Table 2 set it.

A role is fixed for a whole episode and travels with every step (the info key and train-batch column
``tracking_by_trackers.envs.sample_keys.ROLE``, whose codes are defined there too), so the learner picks each row's loss from
the data alone:

======================  =======================================================  =====================
role                    loss on its steps                                        how the student acts
======================  =======================================================  =====================
:data:`ROLE_AUTONOMOUS`  n-step advantage actor-critic, scaled by 1e-3            a ~ N(μ, |μ − a_gt|)
:data:`ROLE_DISTIL`      masked L1 to the best teacher's action (+ weight decay)  a = μ
:data:`ROLE_DISTIL_GT`   L1 to the ground-truth action, mask 1 (+ weight decay)   a = μ
======================  =======================================================  =====================

Distilling students act with their own μ (σ at its floor): the paper's distilling students move their
own box, and the teacher's action is defined relative to it (``a^(T) = φ(b^(T)_t, b_{t-1})``).

Ablations (the paper's Table 2, docs/method.md, *Student roles*; "no curriculum" is the separate
``curriculum=False`` switch):

* ``kd_rl`` (TRAS): a ``distil_fraction`` share of students distil from teachers, the others are
  autonomous;
* ``kd_gt`` (TRAS-KD-GT): teacher-distilling students as in ``kd_rl``; the others learn the ground-truth
  action by L1 instead of by RL;
* ``kd_only`` (TRAS-KD): every student distils from teachers; no RL;
* ``gt_only`` (TRAS-GT): no teachers at all; every student learns the ground-truth action by L1.
"""

from __future__ import annotations

import math

from tracking_by_trackers.envs.sample_keys import ROLE_AUTONOMOUS, ROLE_DISTIL, ROLE_DISTIL_GT

__all__ = ["ABLATIONS", "ROLE_NAMES", "ablation_roles", "runner_distils"]

ROLE_NAMES = {ROLE_AUTONOMOUS: "autonomous", ROLE_DISTIL: "distil", ROLE_DISTIL_GT: "distil_gt"}

ABLATIONS = ("kd_rl", "gt_only", "kd_gt", "kd_only")

# ablation → (role of the distilling share, role of the others, whether every student distils)
_ABLATION_ROLES = {
    "kd_rl": (ROLE_DISTIL, ROLE_AUTONOMOUS, False),
    "kd_gt": (ROLE_DISTIL, ROLE_DISTIL_GT, False),
    "kd_only": (ROLE_DISTIL, ROLE_AUTONOMOUS, True),
    "gt_only": (ROLE_DISTIL_GT, ROLE_DISTIL_GT, True),
}


def ablation_roles(ablation: str) -> tuple[int, int, bool]:
    """``(distilling role, other role, all_distil)`` of an ablation (see the module docstring)."""
    try:
        return _ABLATION_ROLES[ablation]
    except KeyError:
        raise ValueError(f"ablation must be one of {ABLATIONS}, got {ablation!r}") from None


def runner_distils(worker_index: int, num_workers: int, distil_fraction: float, episode: int) -> bool:
    """Whether a student (env runner) is in the distilling share for one episode.

    With two or more remote runners (``worker_index`` in ``1..num_workers``) the first
    ``round(distil_fraction · num_workers)`` (half up) runners distil, for every episode. A runner
    without peers (the local runner, ``worker_index == 0``, used when ``num_workers == 0``, or the only
    remote runner) alternates per episode, distilling on a ``distil_fraction`` share of its episodes
    (episodes 0, 2, 4… for ½).
    """
    if not 0.0 <= distil_fraction <= 1.0:
        raise ValueError(f"distil_fraction must be in [0, 1], got {distil_fraction}")
    if worker_index >= 1 and num_workers >= 2:
        num_distil = int(math.floor(distil_fraction * num_workers + 0.5))  # round half up
        return worker_index <= num_distil
    # Distil first: episode k distils when the running count ceil(k · fraction) steps up.
    return math.ceil((episode + 1) * distil_fraction - 1e-9) > math.ceil(episode * distil_fraction - 1e-9)
