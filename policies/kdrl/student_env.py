"""The env one KD-RL student plays in: a ``TrackingEnv`` plus the student's role and curriculum.

RLlib builds envs through :func:`make_kdrl_env` (registered as :data:`ENV_NAME` in ``tracking_by_trackers.policies.kdrl.kdrl``) and
hands it an ``EnvContext`` holding the runner's ``worker_index`` and ``num_workers``. Every sub-env of one
runner gets the same context, so a role is per runner (docs/rllib.md, *Env runners and roles*); each sub-env
keeps its own curriculum.

:class:`StudentEnv` adds to every info (``tracking_by_trackers.envs.sample_keys.STUDENT_INFO_KEYS``):

* ``role``: the student's role for this episode (``tracking_by_trackers.policies.kdrl.student_roles``), which decides its loss;
* ``curriculum_length``: the clip length (frames) this episode was drawn with.

With the curriculum on, each ``reset`` asks the clip source for a clip of the curriculum's current length
(``TrackingEnv.reset(options={"clip_length": n})``); the env's own ``clip_length`` is the ceiling.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from tracking_by_trackers.envs.sample_keys import (
    CLIP_LENGTH_OPTION,
    CURRICULUM_LENGTH,
    HAS_TEACHER,
    NO_TEACHER_REWARD,
    ROLE,
    TEACHER_REWARD,
)
from tracking_by_trackers.policies.kdrl.curriculum import EpisodeLengthCurriculum
from tracking_by_trackers.policies.kdrl.student_roles import ablation_roles, runner_distils

__all__ = [
    "ABLATION_KEY",
    "CURRICULUM_KEY",
    "DISTIL_FRACTION_KEY",
    "ENV_NAME",
    "StudentEnv",
    "make_kdrl_env",
]

ENV_NAME = "KDRL-TrackingMDP"
"""Name under which :func:`make_kdrl_env` is registered with Tune (see ``tracking_by_trackers.policies.kdrl.kdrl``)."""
DISTIL_FRACTION_KEY = "kdrl_distil_fraction"
ABLATION_KEY = "kdrl_ablation"
CURRICULUM_KEY = "kdrl_curriculum"
"""``env_config`` keys set by ``KDRLConfig``: the distilling share, the ablation, and the curriculum
schedule (``None`` when the curriculum is off)."""


class StudentEnv(gym.Wrapper):
    """A tracking env with a fixed-per-episode student role and an episode-length curriculum."""

    def __init__(
        self,
        env: gym.Env,
        worker_index: int = 0,
        num_workers: int = 0,
        distil_fraction: float = 0.5,
        ablation: str = "kd_rl",
        curriculum: dict | None = None,
    ):
        super().__init__(env)
        self.worker_index = int(worker_index)
        self.num_workers = int(num_workers)
        self.distil_role, self.other_role, all_distil = ablation_roles(ablation)
        self.distil_fraction = 1.0 if all_distil else float(distil_fraction)
        runner_distils(self.worker_index, self.num_workers, self.distil_fraction, 0)  # validates the fraction
        max_length = int(env.unwrapped.clip_length)
        self.curriculum = (
            EpisodeLengthCurriculum.from_schedule(curriculum, max_length) if curriculum is not None else None
        )
        self._episode = -1
        self.role = self.distil_role
        self.length = max_length
        self._episode_rewards: list[float] = []
        self._teacher_rewards: list[float] = []
        self._has_teacher: list[bool] = []
        self._pending: tuple[float, bool] = (NO_TEACHER_REWARD, False)

    def upcoming_role(self) -> int:
        """The role of the next episode (:meth:`reset` draws it)."""
        distils = runner_distils(self.worker_index, self.num_workers, self.distil_fraction, self._episode + 1)
        return self.distil_role if distils else self.other_role

    def get_student_state(self) -> dict:
        """What a restarted or resumed student goes on from: its episode count (which the role of a runner
        without peers alternates on) and its curriculum (``tracking_by_trackers.policies.kdrl.student_states``)."""
        return {
            "episode": self._episode,
            "curriculum": None if self.curriculum is None else self.curriculum.get_state(),
        }

    def set_student_state(self, state: dict) -> None:
        """Go on from :meth:`get_student_state`'s ``state``; the next episode starts afresh with it."""
        self._episode = int(state["episode"])
        if self.curriculum is not None and state.get("curriculum") is not None:
            self.curriculum.set_state(state["curriculum"])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._episode += 1
        distils = runner_distils(self.worker_index, self.num_workers, self.distil_fraction, self._episode)
        self.role = self.distil_role if distils else self.other_role
        options = dict(options or {})
        if self.curriculum is not None and CLIP_LENGTH_OPTION not in options:
            options[CLIP_LENGTH_OPTION] = self.curriculum.length
        self.length = int(options.get(CLIP_LENGTH_OPTION, self.env.unwrapped.clip_length))
        self._episode_rewards, self._teacher_rewards, self._has_teacher = [], [], []
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, self._tag(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        # The teacher fields of the previous info describe the state this action was taken in.
        teacher_reward, has_teacher = self._pending
        self._episode_rewards.append(float(reward))
        self._teacher_rewards.append(teacher_reward)
        self._has_teacher.append(has_teacher)
        if (terminated or truncated) and self.curriculum is not None:
            self.curriculum.record(self._episode_rewards, self._teacher_rewards, self._has_teacher)
        return obs, reward, terminated, truncated, self._tag(info)

    def _tag(self, info: dict[str, Any]) -> dict[str, Any]:
        self._pending = (
            float(info.get(TEACHER_REWARD, NO_TEACHER_REWARD)),
            bool(info.get(HAS_TEACHER, False)),
        )
        return {**info, ROLE: self.role, CURRICULUM_LENGTH: self.length}


def make_kdrl_env(env_config: Any) -> gym.Env:
    """Env creator: a :class:`~tracking_by_trackers.envs.tracking_env.TrackingEnv` wrapped in a :class:`StudentEnv`.

    ``env_config`` (an RLlib ``EnvContext``, or a plain dict) keys: ``clip_source`` (a ``ClipSource`` or a
    zero-argument callable returning one, which keeps checkpoints small; default the synthetic source),
    ``clip_length``, ``crop_size``, ``context`` (TrackingEnv's arguments), and the ``KDRLConfig`` keys
    :data:`DISTIL_FRACTION_KEY` (default ½), :data:`ABLATION_KEY` (default ``kd_rl``),
    and :data:`CURRICULUM_KEY` (default off). Any other key is an error.
    """
    from tracking_by_trackers.envs.tracking_env import TrackingEnv

    config = dict(env_config or {})
    source = _built(config.pop("clip_source", None))
    fraction = float(config.pop(DISTIL_FRACTION_KEY, 0.5))
    ablation = config.pop(ABLATION_KEY, "kd_rl")
    curriculum = config.pop(CURRICULUM_KEY, None)
    # Every other key goes to TrackingEnv, so that a misspelt setting is an error, not silently ignored.
    env = TrackingEnv(clip_source=source, **config)
    return StudentEnv(
        env,
        worker_index=getattr(env_config, "worker_index", 0),
        num_workers=getattr(env_config, "num_workers", 0) or 0,
        distil_fraction=fraction,
        ablation=ablation,
        curriculum=curriculum,
    )


def _built(source: Any) -> Any:
    """A clip source given as a zero-argument callable, called (in the env runner's process)."""
    if source is not None and not hasattr(source, "sample") and callable(source):
        return source()
    return source
