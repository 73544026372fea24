"""Framework-agnostic part of the KD-RL Learner: metric names and the per-role batch convention.

The torch loss is in :class:`tracking_by_trackers.policies.kdrl.torch.kdrl_torch_learner.KDRLTorchLearner`. The Learner derives
from ``IMPALALearner`` (the background learner thread, queueing and weight-sync plumbing IMPALA's
algorithm expects) but not from V-trace: the loss is replaced entirely.
"""

from __future__ import annotations

from ray.rllib.algorithms.impala.impala_learner import IMPALALearner

__all__ = [
    "DISTILLATION_LOSS",
    "GT_L1",
    "GT_LOSS",
    "IMPORTANCE_WEIGHT",
    "KDRLLearner",
    "LOGP_GAP",
    "MASK_RATE",
    "NUM_AUTONOMOUS_STEPS",
    "NUM_DISTIL_STEPS",
    "NUM_GT_STEPS",
    "POLICY_LOSS",
    "TEACHER_L1",
    "TOTAL_LOSS",
    "VALUE_LOSS",
]

DISTILLATION_LOSS = "distillation_loss"
"""Masked L1 distillation loss (without the L2 penalty), per t_max chunk, averaged over distilling chunks."""
MASK_RATE = "mask_rate"
"""Fraction of distilling steps on which the teacher's reward beat the student's (m_t = 1)."""
POLICY_LOSS = "policy_loss"
"""Unscaled L_π per chunk, averaged over autonomous chunks."""
VALUE_LOSS = "value_loss"
"""Unscaled L_v per chunk, averaged over autonomous chunks."""
GT_LOSS = "gt_distillation_loss"
"""L1 loss to the ground-truth action per t_max chunk, averaged over ground-truth chunks (ablations)."""
GT_L1 = "gt_l1"
"""Mean per-step L1 distance |a_gt − μ| over ground-truth-distilling steps (diagnostic)."""
TEACHER_L1 = "teacher_l1"
"""Unmasked mean per-step L1 distance |a^(T) − μ| over distilling steps (diagnostic)."""
LOGP_GAP = "behaviour_logp_gap"
"""Mean |log π_learner(a) − log π_runner(a)| over autonomous steps (policy lag; 0 with frozen weights)."""
IMPORTANCE_WEIGHT = "importance_weight"
"""Mean truncated importance ratio ρ_t over autonomous steps (policy-lag correction; 1 with frozen weights)."""
TOTAL_LOSS = "kdrl_total_loss"
NUM_DISTIL_STEPS = "num_distil_steps"
NUM_AUTONOMOUS_STEPS = "num_autonomous_steps"
NUM_GT_STEPS = "num_gt_steps"


class KDRLLearner(IMPALALearner):
    """KD-RL Learner base (framework-agnostic); see the torch subclass for the loss."""
