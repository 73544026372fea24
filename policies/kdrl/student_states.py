"""The students' own state (episode count and curriculum) across env-runner restarts and driver resumes.

RLlib's checkpoint and its restore of a restarted env runner carry the module and the connectors, not the
envs; but a KD-RL student's curriculum (``tracking_by_trackers.policies.kdrl.curriculum``) and, on a runner
without peers, the alternation of its roles (``tracking_by_trackers.policies.kdrl.student_roles``) live in its
envs (``tracking_by_trackers.policies.kdrl.student_env.StudentEnv``). :class:`~tracking_by_trackers.policies.kdrl.kdrl.KDRL`
collects them from every runner whenever the algorithm's state is taken (every checkpoint), keeps them
under the runner's ``worker_index``, and gives them back:

* to every runner when a checkpoint is restored (``tbt train --resume``): the students go on with the
  curriculum they had at that checkpoint;
* to a runner that RLlib restarted after its process died (same ``worker_index``, so the same role): its
  students go on from the last checkpoint's state, the episodes they played since then are lost with the
  process (docs/rllib.md, *Faults*). A runner lost before the first checkpoint starts afresh.

The functions here run inside the env runners (``EnvRunnerGroup.foreach_env_runner``). They never raise:
with ``restart_failed_env_runners`` an exception in such a call ends the runner's process.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["RunnerStudents", "restore_students", "runner_students"]

logger = logging.getLogger(__name__)

RunnerStudents = dict[str, Any]
"""One runner's report: ``worker_index``, ``pid``, ``node`` (Ray's node id), ``roles`` (each sub-env's
upcoming role, ``tracking_by_trackers.policies.kdrl.student_roles.ROLE_NAMES`` keys), ``states`` (each sub-env's
``StudentEnv.get_student_state``; empty for a runner without envs, as RLlib's local runner beside remote
ones)."""


def _student_envs(env_runner) -> list:
    vector_env = getattr(env_runner, "env", None)
    if vector_env is None:
        return []
    return list(getattr(vector_env.unwrapped, "envs", []))


def runner_students(env_runner) -> RunnerStudents:
    """What :data:`RunnerStudents` describes, for ``env_runner``."""
    import ray

    report: RunnerStudents = {
        "worker_index": int(env_runner.worker_index),
        "pid": os.getpid(),
        "node": ray.get_runtime_context().get_node_id(),
        "roles": [],
        "states": [],
    }
    try:
        for env in _student_envs(env_runner):
            report["roles"].append(int(env.get_wrapper_attr("upcoming_role")()))
            report["states"].append(env.get_wrapper_attr("get_student_state")())
    except Exception as error:  # noqa: BLE001 - must not end the runner; the driver logs the gap
        report["error"] = f"{type(error).__name__}: {error}"
    return report


def restore_students(env_runner, states_by_index: dict[int, list[dict]]) -> RunnerStudents:
    """Give ``env_runner``'s sub-envs their states from ``states_by_index`` (by the runner's
    ``worker_index``; a runner with no entry, or with another number of sub-envs, keeps its own), then
    report as :func:`runner_students` does."""
    states = states_by_index.get(int(env_runner.worker_index))
    envs = _student_envs(env_runner)
    restored = False
    if states and len(states) == len(envs):
        try:
            for env, state in zip(envs, states, strict=True):
                env.get_wrapper_attr("set_student_state")(state)
            restored = True
        except Exception as error:  # noqa: BLE001 - see the module docstring
            logger.warning("env runner %d kept fresh students: %s", env_runner.worker_index, error)
    report = runner_students(env_runner)
    report["restored"] = restored
    return report
