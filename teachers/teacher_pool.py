"""The teacher pool: Ray actors that run every teacher over every video and fill the transfer-set store.

Each (video, teacher) pair is one job. The driver keeps one job in flight per started actor, writes each
finished trajectory to the store at once (atomically), and shows a progress bar. Because finished pairs
are on disk as soon as they finish, a build that is killed resumes by skipping them.

Jobs go only to actors that have started. On a cluster that grows on demand (the Ray autoscaler of the
cluster launcher or KubeRay), the actors that do not fit yet wait for the nodes the autoscaler adds for
them and join the build when they start; actors that never fit never hold a job, so a pool sized for more
than the cluster can hold finishes on the actors that did start.

Failures, from mildest to worst:

- a frame on which the teacher raises, reports failure, or returns a NaN or zero-size box is recorded as
  failed (``ok = False``, the last good box kept) by :func:`tracking_by_trackers.teachers.one_pass.track_sequence`, and the
  run goes on;
- a video with bad input (a missing or unreadable frame) is skipped with a logged error naming the file,
  and nothing is stored for it, so that a re-run after the data is fixed picks it up;
- an actor process that dies while it tracks (a segfault inside OpenCV, an out-of-memory kill, a kill
  from outside) is restarted by Ray, which runs the pair again on it (the actors' ``max_restarts`` and
  ``max_task_retries``, Ray's own fault tolerance); a teacher that kills its actor on that retry too is
  recorded as failed for that video (every frame after the first ``ok = False``, boxes frozen at the
  initial box) and the build goes on, on the restarted actor;
- an actor that is gone for good (``ray.kill``, restarts exhausted) is replaced by a fresh one, and its
  pair is tried there.

Either way the pairs already stored are not run again: only the pair the actor held is redone.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass

import numpy as np
import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError
from tqdm import tqdm

from tracking_by_trackers.envs.sequence import DatasetError, Sequence
from tracking_by_trackers.teachers.one_pass import TrackingResult, track_sequence
from tracking_by_trackers.teachers.transfer_store import TransferSetStore, trajectory_frame

logger = logging.getLogger(__name__)

TeacherFactory = Callable[[], object]
# A job whose actor died is run again this many times (Ray restarts the actor and retries the job itself)
# before the pair is recorded as failed.
MAX_CRASH_RETRIES = 1


@ray.remote
class TeacherActor:
    """Runs teachers on sequences; one actor per CPU, single-threaded."""

    def __init__(self):
        import cv2

        # One core per actor: OpenCV's own threads would oversubscribe the node (see DEVELOPERS' notes).
        cv2.setNumThreads(1)

    def ready(self) -> bool:
        """Answers once the actor runs: the pool gives it jobs from then on."""
        return True

    def run(self, factory: TeacherFactory, sequence: Sequence) -> TrackingResult:
        return track_sequence(factory(), sequence)


@dataclass(frozen=True)
class PoolReport:
    """What a build did, counted in (video, teacher) pairs.

    Attributes:
        ran: Pairs tracked and stored now (failed ones included).
        skipped: Pairs already stored, not run again.
        failed: ``(video, teacher)`` pairs stored as failed because the teacher crashed its actor on
            every try (``1 + MAX_CRASH_RETRIES``).
        bad_input: ``(video, teacher, message)`` for pairs not stored because the video could not be read.
    """

    ran: int
    skipped: int
    failed: list[tuple[str, str]]
    bad_input: list[tuple[str, str, str]]


def default_pool_size(num_cpus_per_actor: float = 1, cpus_wanted: float = 0) -> int:
    """One actor per CPU the Ray cluster has, or ``cpus_wanted`` if more (the CPUs a later stage of the run
    will ask the cluster for anyway, which an autoscaling cluster adds for the pool as well), divided by
    ``num_cpus_per_actor``; at least 1."""
    cpus = max(float(ray.cluster_resources().get("CPU", 0)), float(cpus_wanted))
    return max(1, int(cpus // max(num_cpus_per_actor, 1e-9)))


def failed_video_result(sequence: Sequence) -> TrackingResult:
    """The record of a teacher that crashed on every try: frozen at the initial box, failed after frame 0."""
    count = len(sequence)
    boxes = np.repeat(sequence.init_box[None], count, axis=0)
    ok = np.zeros(count, dtype=bool)
    ok[0] = True
    return TrackingResult(boxes, np.full(count, np.nan), ok)


class TeacherPool:
    """Ray actors that track videos with teachers.

    Args:
        num_actors: Actors to start; ``None`` means :func:`default_pool_size`.
        num_cpus_per_actor: CPUs each actor reserves.
        num_gpus_per_actor: GPUs each actor reserves (for DNN teachers).
        resources_per_actor: Custom resources each actor asks for, e.g. ``{"env_runner_node": 0.001}`` to
            keep the actors on a cluster's CPU workers (docs/cluster.md).
    """

    def __init__(
        self,
        num_actors: int | None = None,
        num_cpus_per_actor: float = 1,
        num_gpus_per_actor: float = 0,
        resources_per_actor: Mapping[str, float] | None = None,
    ):
        if not ray.is_initialized():
            raise RuntimeError("start Ray first (ray.init or `tbt` does it) before building a TeacherPool")
        if num_actors is None:
            num_actors = default_pool_size(num_cpus_per_actor)
        if num_actors < 1:
            raise ValueError(f"num_actors must be at least 1, got {num_actors}")
        self._actor_options = {
            "num_cpus": num_cpus_per_actor,
            "num_gpus": num_gpus_per_actor,
            "resources": dict(resources_per_actor or {}),
        }
        self.actors = [self._new_actor() for _ in range(num_actors)]

    def _new_actor(self):
        # Ray restarts an actor whose process dies and runs its job again (docs/cluster.md, *Resuming
        # teacher builds, evaluations and sweeps*).
        return TeacherActor.options(
            **self._actor_options, max_restarts=-1, max_task_retries=MAX_CRASH_RETRIES
        ).remote()

    def build(
        self,
        sequences: SequenceABC[Sequence],
        teachers: Mapping[str, TeacherFactory],
        store: TransferSetStore,
        show_progress: bool = True,
    ) -> PoolReport:
        """Run every teacher on every sequence not yet in ``store``, writing each trajectory as it finishes."""
        pending = deque(
            (sequence, name)
            for sequence in sequences
            for name in teachers
            if not store.has(sequence.benchmark, sequence.name, name)
        )
        skipped = len(sequences) * len(teachers) - len(pending)
        if skipped:
            logger.info(
                "resuming: %d of %d (video, teacher) pairs already stored", skipped, skipped + len(pending)
            )
        total = len(pending)
        # Each video goes into the object store once, shared by its teachers' jobs, and is released when
        # its last job is done (jobs are ordered by video, so only a few videos are held at a time).
        sequence_refs: dict[int, ray.ObjectRef] = {}
        jobs_left = {id(s): sum(1 for p, _ in pending if p is s) for s in sequences}
        crashes: dict[tuple[str, str], int] = {}
        failed: list[tuple[str, str]] = []
        bad_input: list[tuple[str, str, str]] = []
        in_flight: dict[ray.ObjectRef, tuple[int, Sequence, str]] = {}
        idle: list[int] = []
        # An actor gets jobs once it answers ``ready``: one that waits for a node holds none.
        starting = {actor.ready.remote(): index for index, actor in enumerate(self.actors)}

        def submit(actor_index: int) -> None:
            sequence, name = pending.popleft()
            if id(sequence) not in sequence_refs:
                sequence_refs[id(sequence)] = ray.put(sequence)
            ref = sequence_refs[id(sequence)]
            future = self.actors[actor_index].run.remote(teachers[name], ref)
            in_flight[future] = (actor_index, sequence, name)

        with tqdm(total=total, desc="teachers", unit="video", disable=not show_progress) as progress:
            while pending or in_flight:
                while pending and idle:
                    submit(idle.pop())
                [done], _ = ray.wait([*in_flight, *starting], num_returns=1)
                if done in starting:
                    actor_index = starting.pop(done)
                    try:
                        ray.get(done)
                    except (RayActorError, ActorDiedError) as error:  # no teacher ran: the setup is at fault
                        raise RuntimeError(
                            f"teacher actor {actor_index} died while starting: {error}"
                        ) from None
                    idle.append(actor_index)
                    continue
                actor_index, sequence, name = in_flight.pop(done)
                key = (sequence.name, name)
                try:
                    result = ray.get(done)
                except RayTaskError as error:
                    idle.append(actor_index)
                    if not isinstance(error.cause, DatasetError):
                        raise error.cause from None  # a bug, not bad data: surface it as itself
                    logger.error("skipping %s for teacher %s: %s", sequence.name, name, error.cause)
                    bad_input.append((sequence.name, name, str(error.cause)))
                    self._release(jobs_left, sequence_refs, sequence)
                    progress.update()
                    continue
                except RayActorError as error:
                    if isinstance(error, ActorUnavailableError):
                        # Ray restarted the actor and retried the job, and the actor died every time.
                        crashes[key] = crashes.get(key, 0) + 1 + MAX_CRASH_RETRIES
                        idle.append(actor_index)  # restarting: it takes the next job once it is back
                    else:  # gone for good: a fresh actor, and the pair tried on it
                        crashes[key] = crashes.get(key, 0) + 1
                        logger.warning(
                            "teacher actor %d died for good while %s tracked %s (try %d): %s",
                            actor_index,
                            name,
                            sequence.name,
                            crashes[key],
                            error,
                        )
                        self._restart(actor_index, starting)
                        if crashes[key] <= MAX_CRASH_RETRIES:
                            pending.appendleft((sequence, name))
                            continue
                    logger.error(
                        "teacher %s recorded as failed on %s: it crashed its actor %d times",
                        name,
                        sequence.name,
                        crashes[key],
                    )
                    failed.append(key)
                    result = failed_video_result(sequence)
                else:
                    idle.append(actor_index)
                store.write(trajectory_frame(sequence, name, result))
                self._release(jobs_left, sequence_refs, sequence)
                progress.set_postfix_str(f"{name}/{sequence.name}", refresh=False)
                progress.update()
        return PoolReport(ran=total - len(bad_input), skipped=skipped, failed=failed, bad_input=bad_input)

    def _restart(self, actor_index: int, starting: dict) -> None:
        """Replace a dead actor; the new one gets jobs once it has started."""
        self.actors[actor_index] = self._new_actor()
        starting[self.actors[actor_index].ready.remote()] = actor_index

    @staticmethod
    def _release(
        jobs_left: dict[int, int], sequence_refs: dict[int, ray.ObjectRef], sequence: Sequence
    ) -> None:
        """Count a video's job as done, dropping the video from the object store after its last job."""
        jobs_left[id(sequence)] -= 1
        if jobs_left[id(sequence)] == 0:
            del sequence_refs[id(sequence)]

    def shutdown(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
