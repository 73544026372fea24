"""Procedurally generated tracking videos: the embedded default dataset.

``generate_sequence(seed)`` gives one :class:`~tracking_by_trackers.envs.sequence.Sequence` (benchmark ``"synthetic"``);
``generate_dataset(num_videos, seed)`` gives many, each independent and reproducible. One knob,
``SyntheticConfig.difficulty``, scales every effect (see :mod:`tracking_by_trackers.envs.synthetic.generator`).
"""

from tracking_by_trackers.envs.synthetic.generator import (
    ABSENT_VISIBILITY,
    BENCHMARK,
    SyntheticConfig,
    dataset_seeds,
    generate_dataset,
    generate_sequence,
)

__all__ = [
    "ABSENT_VISIBILITY",
    "BENCHMARK",
    "SyntheticConfig",
    "dataset_seeds",
    "generate_dataset",
    "generate_sequence",
]
