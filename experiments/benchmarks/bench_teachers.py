"""Teacher throughput: the Ray pool with 1 and with 2 actors (same run), and each teacher's FPS at two sizes.

    python -m tracking_by_trackers.experiments.benchmarks.bench_teachers [--videos 4] [--frames 100]

Pool figures are frames/s over all (video, teacher) pairs, from submitting the first job to storing the last
(actors already started). Per-teacher FPS is frames / time spent in ``update``, in-process, one thread.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import cv2
import pandas as pd

from tracking_by_trackers.cluster.ray_runtime import init_ray
from tracking_by_trackers.envs.synthetic import SyntheticConfig, generate_dataset
from tracking_by_trackers.teachers.one_pass import track_sequence
from tracking_by_trackers.teachers.registry import parse_tracker_specs
from tracking_by_trackers.teachers.teacher_pool import TeacherPool
from tracking_by_trackers.teachers.transfer_store import TransferSetStore


def pool_frames_per_second(sequences, teachers, num_actors: int) -> float:
    pool = TeacherPool(num_actors=num_actors)
    with tempfile.TemporaryDirectory() as root:
        started = time.perf_counter()
        report = pool.build(sequences, teachers, TransferSetStore(root), show_progress=False)
        elapsed = time.perf_counter() - started
    pool.shutdown()
    return report.ran * len(sequences[0]) / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--pool-teachers", default="kcf,csrt,mosse,medianflow")
    parser.add_argument("--fps-teachers", default="kcf,csrt,mosse,medianflow,mil,tld,boosting")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)

    sequences = generate_dataset(args.videos, seed=0, config=SyntheticConfig(num_frames=args.frames))
    teachers = parse_tracker_specs(args.pool_teachers)
    init_ray(num_cpus=2)
    rates = {n: pool_frames_per_second(sequences, teachers, n) for n in (1, 2)}
    print(f"teacher pool, {args.videos} videos x {args.frames} frames x teachers {args.pool_teachers}:")
    for actors, rate in rates.items():
        print(f"  {actors} actor(s): {rate:8.0f} frames/s")
    print(f"  speed-up 1 -> 2 actors: {rates[2] / rates[1]:.2f}x\n")

    rows = []
    for height, width in [(240, 320), (480, 640)]:
        videos = generate_dataset(
            2, seed=1, config=SyntheticConfig(num_frames=args.frames, height=height, width=width)
        )
        for name, factory in parse_tracker_specs(args.fps_teachers).items():
            results = [track_sequence(factory(), video) for video in videos]
            update_seconds = sum(result.times[1:].sum() for result in results)
            frames = sum(len(result.times) - 1 for result in results)
            rows.append({"teacher": name, "size": f"{width}x{height}", "FPS": frames / update_seconds})
    table = pd.DataFrame(rows).pivot(index="teacher", columns="size", values="FPS").round(0)
    print("per-teacher update FPS (one thread):")
    print(table.sort_values("320x240", ascending=False).to_string())


if __name__ == "__main__":
    main()
