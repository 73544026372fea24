"""Benchmark the synthetic video generator: its speed, and how the OpenCV teachers score on its videos.

One-pass evaluation: every tracker starts from frame 0's ground truth and is never re-initialised.
AO is the mean IoU over frames 1..N-1 of all videos pooled (GOT-10k style), leaving out absent frames;
SR@0.5 is the fraction of those frames with IoU > 0.5. ``identity`` never moves its box; ``oracle`` takes,
on every frame, the best of the OpenCV trackers in ``--oracle-of`` (an upper bound on what fusing them could
reach).

Usage::

    python experiments/benchmarks/bench_synthetic.py --videos 40 --frames 100 --difficulty 0.5
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from tracking_by_trackers.envs.synthetic import SyntheticConfig, dataset_seeds, generate_sequence
from tracking_by_trackers.experiments.evaluation.ope_metrics import (
    SequenceScores,
    score_sequence,
    scores_table,
)
from tracking_by_trackers.experiments.evaluation.report import oracle_boxes
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.opencv_trackers import OPENCV_TRACKER_KINDS
from tracking_by_trackers.teachers.registry import make_tracker

IDENTITY = "identity"
ORACLE = "oracle"


@dataclass
class VideoResult:
    """Every tracker's scores on one video (the oracle's included), and the time spent generating it."""

    name: str
    scores: dict[str, SequenceScores]
    absent_frames: int
    generate_seconds: float
    num_frames: int


def _init_worker() -> None:
    # Two processes on two cores: OpenCV's own thread pool would oversubscribe them.
    cv2.setNumThreads(1)


def evaluate_video(args: tuple[int, str, SyntheticConfig, tuple[str, ...], tuple[str, ...]]) -> VideoResult:
    """Generate one video and run every tracker on it (one task of the process pool)."""
    seed, name, config, kinds, oracle_of = args
    start = time.perf_counter()
    sequence = generate_sequence(seed, config, name=name)
    generate_seconds = time.perf_counter() - start
    boxes = {kind: track_sequence(make_tracker(kind), sequence).boxes for kind in kinds}
    members = [kind for kind in oracle_of if kind in boxes]
    if members:
        fused = oracle_boxes(np.stack([boxes[kind] for kind in members]), sequence.gt_boxes)
        boxes[f"{ORACLE}({','.join(members)})"] = fused
    scores = {kind: score_sequence(b, sequence.gt_boxes, sequence.absent) for kind, b in boxes.items()}
    return VideoResult(name, scores, int(sequence.absent[1:].sum()), generate_seconds, len(sequence))


def summarise(results: list[VideoResult]) -> pd.DataFrame:
    """AO and SR@0.5 per tracker (and the per-frame oracle), frames pooled over videos, best first."""
    per_tracker = {kind: {r.name: r.scores[kind] for r in results} for kind in results[0].scores}
    return scores_table(per_tracker)[["AO", "SR@0.50"]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=40, help="number of synthetic videos")
    parser.add_argument("--frames", type=int, default=100, help="frames per video")
    parser.add_argument("--difficulty", type=float, default=SyntheticConfig.difficulty, help="in [0, 1]")
    parser.add_argument("--seed", type=int, default=1000, help="dataset seed (video i uses (seed, i))")
    parser.add_argument(
        "--trackers",
        default="identity,mosse,kcf,csrt,medianflow",
        help=f"comma-separated, from {IDENTITY},{','.join(OPENCV_TRACKER_KINDS)}",
    )
    parser.add_argument(
        "--oracle-of", default="kcf,csrt,mosse,medianflow", help="trackers the oracle picks from"
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes (one OpenCV thread each)")
    parser.add_argument("--per-video", action="store_true", help="also print each video's AO per tracker")
    args = parser.parse_args(argv)
    args.trackers = tuple(kind.strip() for kind in args.trackers.split(",") if kind.strip())
    args.oracle_of = tuple(kind.strip() for kind in args.oracle_of.split(",") if kind.strip())
    for kind in args.trackers:
        if kind != IDENTITY and kind not in OPENCV_TRACKER_KINDS:
            parser.error(f"unknown tracker {kind!r}; valid: {IDENTITY}, {', '.join(OPENCV_TRACKER_KINDS)}")
    return args


def measure_generator_speed(config: SyntheticConfig, seeds: list[int]) -> float:
    """Frames per second of :func:`generate_sequence` alone, in this process, one OpenCV thread."""
    _init_worker()
    start, frames = time.perf_counter(), 0
    for seed in seeds:
        frames += len(generate_sequence(seed, config))
    return frames / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = SyntheticConfig(num_frames=args.frames, difficulty=args.difficulty)
    seeds = dataset_seeds(args.videos, args.seed)
    tasks = [
        (seed, f"synthetic_{args.seed}_{i:04d}", config, args.trackers, args.oracle_of)
        for i, seed in enumerate(seeds)
    ]

    fps = measure_generator_speed(config, seeds[: min(3, len(seeds))])
    print(
        f"generator: {fps:.0f} frames/s ({1000 / fps:.2f} ms/frame) at {config.width}x{config.height}, one thread"
    )

    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.processes, initializer=_init_worker) as pool:
        results = pool.map(evaluate_video, tasks, chunksize=1)
    elapsed = time.perf_counter() - start

    absent = sum(r.absent_frames for r in results)
    total = sum(r.num_frames - 1 for r in results)
    print(
        f"{args.videos} videos x {args.frames} frames, difficulty {args.difficulty}, seed {args.seed}: "
        f"{absent}/{total} frames absent, evaluated in {elapsed:.1f} s with {args.processes} processes"
    )
    if args.per_video:
        per_video = pd.DataFrame({r.name: {kind: s.ao for kind, s in r.scores.items()} for r in results}).T
        print(per_video.round(3).to_string())
    print(summarise(results).round(3).to_string())


if __name__ == "__main__":
    main()
