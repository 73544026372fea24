"""The validation that chooses a training run's best checkpoint: the student's trackers on held-out videos.

Two metrics (``TrainConfig.checkpoint_metric``):

- ``"tras"``: TRAS's AO, the student alone (step 5's selector);
- ``"modes"`` (the default): the mean AO of the three trackers the run delivers, TRAS, TRAST with the
  partner teacher and TRASFUST with the pool. TRAS's AO alone is blind to the critic, which TRAST and
  TRASFUST rest on, and on 10 videos it is noisy: it can keep an early checkpoint whose TRASFUST is far
  below the last one's (docs/experiments.md, 2026-11-21-checkpoint-modes).

``tbt train`` validates its checkpoints with this validator, and a ``tbt tune`` trial validates with the
same one, built from the same settings by :func:`validator_for_run`
(:mod:`tracking_by_trackers.experiments.tune.validation_callback`); both record :func:`validation_row`, under the same names.

TRAST and TRASFUST replay the teachers' tracks on the validation videos, stored once before training
(:class:`~tracking_by_trackers.teachers.results_teacher.ResultsTeacher`). Neither tracker ever re-initialises a teacher on its
output, so a teacher's boxes do not depend on the student and the replay is the same tracker as a live
one (replayed and live scores agree to within a few thousandths; docs/experiments.md,
2026-11-21-checkpoint-modes). A validation then costs the student's forward passes only.

A validation video whose frames cannot be read is left out, with a logged line, of that validation and
every later one (docs/bad_input.md): one bad video must not stop a training run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracking_by_trackers.envs.sequence import Sequence
from tracking_by_trackers.experiments.evaluation.ope_metrics import pool_frames, score_sequence

if TYPE_CHECKING:
    from tracking_by_trackers.experiments.train.train_config import TrainConfig

__all__ = [
    "AO_KEYS",
    "CHECKPOINT_METRICS",
    "METRIC_DESCRIPTIONS",
    "SCORE",
    "VALIDATION_KEYS",
    "CheckpointValidator",
    "ValidationScores",
    "validate_tras",
    "validation_row",
    "validator_for_run",
]

logger = logging.getLogger(__name__)

METRIC_DESCRIPTIONS = {"modes": "mean AO of TRAS, TRAST and TRASFUST", "tras": "TRAS AO"}
"""Each checkpoint metric, in words, for logs and the report."""
CHECKPOINT_METRICS = tuple(METRIC_DESCRIPTIONS)
AO_KEYS = {"tras": "validation_ao", "trast": "trast_ao", "trasfust": "trasfust_ao"}
"""The name of each tracker's validation AO, in ``validation.csv`` and in a Tune trial's results."""
SCORE = "score"
"""The name of the score that chooses checkpoints (``TrainConfig.checkpoint_metric``), likewise."""
VALIDATION_KEYS = (*AO_KEYS.values(), SCORE)


@dataclass(frozen=True)
class ValidationScores:
    """One validation: the AO of each tracker (``tras``, ``trast``, ``trasfust``) and the score compared."""

    aos: dict[str, float]
    score: float


def validation_row(scores: ValidationScores) -> dict[str, float]:
    """The AO of each tracker and the score under :data:`VALIDATION_KEYS` (NaN for a tracker the metric
    does not run: TRAST and TRASFUST with ``"tras"``)."""
    return {
        **{key: scores.aos.get(mode, math.nan) for mode, key in AO_KEYS.items()},
        SCORE: scores.score,
    }


def validator_for_run(
    config: TrainConfig,
    sequences: SequenceABC[Sequence],
    *,
    partner: str | None,
    teacher_results: str | Path | None,
    workers: int = 2,
    backend: str = "threads",
) -> CheckpointValidator:
    """The validator of a run with these settings (``checkpoint_metric`` and the teacher pool), whichever
    driver runs it: ``partner`` is TRAST's teacher, ``teacher_results`` the teachers' stored tracks of
    ``sequences`` (both unused with the ``"tras"`` metric), ``backend`` where its jobs run (threads of
    this process, or Ray tasks on a joined cluster)."""
    return CheckpointValidator(
        sequences,
        metric=config.checkpoint_metric,
        partner=partner,
        pool=config.teachers_list(),
        teacher_results=teacher_results,
        workers=workers,
        backend=backend,
    )


def validate_tras(student, sequences: SequenceABC[Sequence]) -> float:
    """AO of TRAS (one pass, frames pooled) on ``sequences``."""
    return CheckpointValidator(sequences, metric="tras", workers=1)(student).score


class CheckpointValidator:
    """Tracks the validation videos with the student's trackers and scores them (see the module docstring).

    Args:
        sequences: The validation videos.
        metric: One of :data:`CHECKPOINT_METRICS`.
        partner: TRAST's teacher (``"modes"`` only).
        pool: TRASFUST's teachers (``"modes"`` only).
        teacher_results: The results root (GOT-10k layout) holding every teacher's track of ``sequences``
            (``"modes"`` only): see :func:`tracking_by_trackers.experiments.train.train_pipeline.run_validation_teachers`.
        workers: Tracking jobs run at once in threads (OpenCV and torch release the GIL).
        backend: ``"threads"`` in this process, or ``"ray"``: one Ray task per job, spread over the
            cluster (:func:`tracking_by_trackers.experiments.evaluation.evaluate.track_jobs`).

    Raises:
        ValueError: An unknown metric, no videos, or ``"modes"`` without a partner, a pool or a stored track
            of every teacher on every video.
    """

    def __init__(
        self,
        sequences: SequenceABC[Sequence],
        *,
        metric: str = "modes",
        partner: str | None = None,
        pool: SequenceABC[str] = (),
        teacher_results: str | Path | None = None,
        workers: int = 2,
        backend: str = "threads",
    ):
        from tracking_by_trackers.experiments.evaluation.evaluate import BACKENDS

        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
        if metric not in CHECKPOINT_METRICS:
            raise ValueError(
                f"unknown checkpoint metric {metric!r}; valid metrics: {', '.join(CHECKPOINT_METRICS)}"
            )
        if metric == "modes" and not (partner and pool and teacher_results):
            raise ValueError(
                "the 'modes' checkpoint metric runs TRAST and TRASFUST on stored teacher tracks: give partner, "
                f"pool and teacher_results (got {partner!r}, {list(pool)!r}, {teacher_results!r})"
            )
        if not sequences:
            raise ValueError("no validation videos to choose checkpoints on")
        if metric == "modes":
            # A missing track would make TRAST silently track without its teacher: fail before training.
            from tracking_by_trackers.teachers.results_store import has_result

            for teacher in dict.fromkeys([partner, *pool]):
                for sequence in sequences:
                    if not has_result(teacher_results, sequence.benchmark, teacher, sequence.name):
                        raise ValueError(
                            f"no stored track of teacher {teacher!r} on {sequence.benchmark}/{sequence.name} "
                            f"under {teacher_results}: run the teachers over the validation videos first "
                            "(tracking_by_trackers.experiments.train.train_pipeline.run_validation_teachers)"
                        )
        self.sequences = list(sequences)
        # Videos whose frames could not be read: left out of this validation and every later one, so that
        # the checkpoints stay compared on the same videos.
        self.skipped: set[str] = set()
        self.metric = metric
        self.teacher_results = None if teacher_results is None else Path(teacher_results)
        self.workers = max(1, int(workers))
        self.backend = backend
        self.specs = {"tras": "tras"}
        if metric == "modes":
            from tracking_by_trackers.policies.trackers.factory import replaying_teachers

            self.specs["trast"] = replaying_teachers(f"trast:{partner}")
            self.specs["trasfust"] = replaying_teachers(f"trasfust:{'+'.join(pool)}")

    def describe(self) -> str:
        """What the score is, for logs."""
        return METRIC_DESCRIPTIONS[self.metric]

    def __call__(self, student) -> ValidationScores:
        """Track every validation video with every tracker of the metric; the pooled AOs and the score."""
        from tracking_by_trackers.experiments.evaluation.evaluate import track_jobs
        from tracking_by_trackers.policies.trackers.factory import student_tracker_factory
        from tracking_by_trackers.policies.trackers.student_tracker import as_network

        network = as_network(student)  # loaded once, shared by every tracker
        factories = {
            mode: student_tracker_factory(
                spec, network, results_root=self.teacher_results, device="cpu", runner="inline"
            )[1]
            for mode, spec in self.specs.items()
        }
        jobs = [(mode, sequence) for mode in factories for sequence in self.sequences]
        # In the videos' order whatever order the jobs finish in, so that the pooled AOs are the same sums.
        per_mode = {mode: dict.fromkeys(sequence.name for sequence in self.sequences) for mode in factories}
        bad: dict[str, str] = {}
        for mode, sequence, result, record in track_jobs(
            jobs, factories, backend=self.backend, workers=self.workers, skip_bad_input=True
        ):
            if result is None:  # one bad video must not stop a training run: it leaves every mode's score
                bad.setdefault(sequence.name, record)
                continue
            per_mode[mode][sequence.name] = score_sequence(result.boxes, sequence.gt_boxes, sequence.absent)
        for name, message in bad.items():
            if name not in self.skipped:
                logger.error("validation skips video %s from now on: %s", name, message)
            self.skipped.add(name)
        if len(self.skipped) == len(self.sequences):
            raise ValueError(f"every validation video has bad input: {'; '.join(bad.values())}")
        per_mode = {
            mode: {name: score for name, score in scores.items() if name not in self.skipped}
            for mode, scores in per_mode.items()
        }
        aos = {mode: float(pool_frames(scores).ao) for mode, scores in per_mode.items()}
        score = aos["tras"] if self.metric == "tras" else math.fsum(aos.values()) / len(aos)
        return ValidationScores(aos=aos, score=score)
