"""The names of what a training sample carries from the env to the learner, and the values both ends share.

A step's data travels env → connectors → RL module → learner. The env (``tracking_by_trackers.envs.tracking_env.TrackingEnv``,
wrapped in the student's ``tracking_by_trackers.policies.kdrl.student_env.StudentEnv``) writes it into the step's ``info``; the
env-to-module connector copies :data:`MODULE_BATCH_COLUMNS` into the batch the module acts on (the σ rule
needs them before the action is sampled); the learner connector copies :data:`TRAIN_BATCH_COLUMNS` into
the train batch the loss reads. Every name on that path, and every value that must agree at both ends
(what "no teacher" reads as, the σ floor, the role codes), is defined here once. The module sits in
``envs/``, the lowest layer, so that the env uses it without importing ``policies``.

What each info key holds is documented in ``TrackingEnv``'s "Info" section.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BEST_TEACHER",
    "BOX",
    "CLIP_LENGTH_OPTION",
    "CURRICULUM_LENGTH",
    "FRAME",
    "GT_ACTION",
    "GT_BOX",
    "HAS_TEACHER",
    "IOU",
    "MIN_SIGMA",
    "MODULE_BATCH_COLUMNS",
    "NO_ACTION",
    "NO_TEACHER_REWARD",
    "ROLE",
    "ROLE_AUTONOMOUS",
    "ROLE_DISTIL",
    "ROLE_DISTIL_GT",
    "STUDENT_INFO_KEYS",
    "TARGET_PRESENT",
    "TEACHER_ACTION",
    "TEACHER_BOXES",
    "TEACHER_REWARD",
    "TRACKING_INFO_KEYS",
    "TRAIN_BATCH_COLUMNS",
]

# --- the info of every TrackingEnv step ----------------------------------------------------------
BOX = "box"
IOU = "iou"
FRAME = "frame"
GT_BOX = "gt_box"
TARGET_PRESENT = "target_present"
GT_ACTION = "gt_action"
"""Also a batch column: it sets the autonomous students' σ, in the module and in the learner."""
HAS_TEACHER = "has_teacher"
BEST_TEACHER = "best_teacher"
TEACHER_ACTION = "teacher_action"
"""Also a train-batch column: the distillation target."""
TEACHER_REWARD = "teacher_reward"
"""Also a train-batch column: the distillation mask is ``teacher_reward > reward``."""
TEACHER_BOXES = "teacher_boxes"
"""Only in the infos of clips that teachers tracked."""

TRACKING_INFO_KEYS = (
    BOX,
    IOU,
    FRAME,
    GT_BOX,
    TARGET_PRESENT,
    GT_ACTION,
    HAS_TEACHER,
    BEST_TEACHER,
    TEACHER_ACTION,
    TEACHER_REWARD,
)
"""The keys of every ``TrackingEnv`` info; :data:`TEACHER_BOXES` joins them on clips with teachers."""

# --- what StudentEnv adds to every info ----------------------------------------------------------
ROLE = "role"
"""Also a batch column: which loss a step gets, and whether the module samples around μ."""
CURRICULUM_LENGTH = "curriculum_length"
"""The clip length (frames) the episode was drawn with."""

STUDENT_INFO_KEYS = (ROLE, CURRICULUM_LENGTH)
"""The keys ``StudentEnv`` adds to every info of the env it wraps."""

# The values of the ROLE column (their losses and the ablations that set them: tracking_by_trackers.policies.kdrl.student_roles).
ROLE_AUTONOMOUS = 0
ROLE_DISTIL = 1
ROLE_DISTIL_GT = 2

# --- values both ends must agree on --------------------------------------------------------------
NO_ACTION = np.zeros(4, np.float32)
"""The action recorded where there is none to learn: the ground-truth action of an absent target, the
teacher action of a frame without a usable teacher box (read-only: copy it to change it)."""
NO_ACTION.flags.writeable = False
NO_TEACHER_REWARD = -1.0
"""The teacher reward of a frame without a usable teacher box: the lowest reward there is (the paper's
eq. 2), so the distillation mask ``teacher_reward > reward`` is never set there."""
MIN_SIGMA = 1e-3
"""The floor of the exploration σ = |μ − a_gt|, and σ itself for distilling students and wherever no
ground-truth action is given, so that sampling returns μ to within 1e-3 and log-probabilities stay finite."""

MODULE_BATCH_COLUMNS = {GT_ACTION: NO_ACTION, ROLE: ROLE_AUTONOMOUS}
"""Info key → its value where an info lacks it: the columns the env-to-module connector adds before the
module acts (a sample without a role is an autonomous student's)."""
TRAIN_BATCH_COLUMNS = {
    GT_ACTION: NO_ACTION,
    TEACHER_ACTION: NO_ACTION,
    TEACHER_REWARD: NO_TEACHER_REWARD,
    ROLE: ROLE_AUTONOMOUS,
}
"""Info key → its value where an info lacks it: the columns the learner connector adds to the train
batch, one item per step."""

# --- TrackingEnv.reset options -------------------------------------------------------------------
CLIP_LENGTH_OPTION = "clip_length"
"""``reset(options={CLIP_LENGTH_OPTION: n})``: a clip of n frames for this episode (the curriculum)."""
