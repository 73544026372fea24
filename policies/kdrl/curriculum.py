"""Episode-length curriculum of one student (docs/method.md, *Curriculum*; the paper's §3.3).

The paper grows each student's interaction length "as s performs better than T"; the appendix with the
exact rule is not in our copy, so this is the rule we chose:

1. Every student starts with clips of ``initial_length`` frames (an episode has one step fewer).
2. After each episode it records whether it *won*: its mean per-step reward was at least the mean
   reward its teachers' actions earned on the same steps (``info["teacher_reward"]``), minus
   ``tolerance``. An episode without any teacher step (GT-only training, or frames no teacher could
   handle) is won when the student's mean reward is above 0, i.e. its mean IoU was about 0.5 or more.
3. Once ``window`` episodes have been played at the current length, the length grows to
   ``min(ceil(length · growth), max_length)`` if at least ``success_rate`` of them were won. The
   window then starts afresh (a failed window too, so a student is judged on its recent episodes).

The default ``tolerance`` of 0.2 reward units (one ω step is 0.1 per 0.05 IoU, so about 0.1 IoU) lets a
student that is nearly as good as its teachers move on: teachers kept by the β filter track almost
perfectly, and a strict "beat them" test stalls a small student on 4-frame clips for good (we measured
that with a near-perfect scripted teacher).

Why this shape: short clips are what an untrained student can handle, since drift compounds over
frames. Comparing with the teachers on the *same* frames makes the test independent of how hard a clip
is. A geometric growth reaches the full 32-frame chunks in a few steps (4 → 8 → 16 → 32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["DEFAULT_SCHEDULE", "EpisodeLengthCurriculum"]

DEFAULT_SCHEDULE = {"initial_length": 4, "growth": 2.0, "window": 10, "success_rate": 0.5, "tolerance": 0.2}
"""Keys and defaults of ``KDRLConfig.curriculum_schedule``."""


@dataclass
class EpisodeLengthCurriculum:
    """The clip length of one student, grown by the rule of the module docstring."""

    max_length: int
    initial_length: int = 4
    growth: float = 2.0
    window: int = 10
    success_rate: float = 0.5
    tolerance: float = 0.2
    length: int = field(init=False)
    _wins: list[bool] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if not 2 <= self.initial_length:
            raise ValueError(f"curriculum initial_length must be >= 2 frames, got {self.initial_length}")
        if self.growth <= 1.0 or self.window < 1 or not 0.0 <= self.success_rate <= 1.0:
            raise ValueError(
                "curriculum needs growth > 1, window >= 1 and success_rate in [0, 1]; got "
                f"growth={self.growth}, window={self.window}, success_rate={self.success_rate}"
            )
        self.length = min(self.initial_length, self.max_length)

    @classmethod
    def from_schedule(cls, schedule: dict | None, max_length: int) -> EpisodeLengthCurriculum:
        """Build from a ``curriculum_schedule`` dict (unknown keys are an error, not ignored)."""
        schedule = {**DEFAULT_SCHEDULE, **(schedule or {})}
        unknown = set(schedule) - set(DEFAULT_SCHEDULE)
        if unknown:
            raise ValueError(
                f"unknown curriculum_schedule keys {sorted(unknown)}; valid: {sorted(DEFAULT_SCHEDULE)}"
            )
        return cls(max_length=max_length, **schedule)

    def get_state(self) -> dict:
        """The clip length and the wins of the open window: what a restored student goes on from
        (``tracking_by_trackers.policies.kdrl.student_states``)."""
        return {"length": self.length, "wins": list(self._wins)}

    def set_state(self, state: dict) -> None:
        """Go on from :meth:`get_state`'s ``state`` (a length past this curriculum's ``max_length``, from a
        run with longer clips, is capped)."""
        self.length = min(int(state["length"]), self.max_length)
        self._wins = [bool(won) for won in state["wins"]]

    def record(self, student_rewards, teacher_rewards, has_teacher) -> bool:
        """Record one finished episode (per-step arrays); returns True if the length grew."""
        student = [float(r) for r in student_rewards]
        if not student:
            return False
        paired = [(s, float(t)) for s, t, h in zip(student, teacher_rewards, has_teacher, strict=True) if h]
        if paired:
            mean_student = sum(s for s, _ in paired) / len(paired)
            won = mean_student >= sum(t for _, t in paired) / len(paired) - self.tolerance
        else:
            won = sum(student) / len(student) > 0.0
        self._wins.append(won)
        if len(self._wins) < self.window:
            return False
        passed = sum(self._wins) >= self.success_rate * len(self._wins)
        self._wins.clear()
        if passed and self.length < self.max_length:
            self.length = min(math.ceil(self.length * self.growth), self.max_length)
            return True
        return False
