"""Throughput of the tracking MDP (env steps/s) with random actions, on synthetic and real videos.

    python -m tracking_by_trackers.experiments.benchmarks.bench_env [--steps 2000] [--crop-sizes 64,128]

Synthetic videos are generated before timing (training pre-generates them too); real sequences are read
from disk lazily, frame by frame, as training would read them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from tracking_by_trackers.envs.clip_sources import SequenceClipSource
from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.envs.synthetic import SyntheticConfig, generate_dataset
from tracking_by_trackers.envs.tracking_env import TrackingEnv

DEFAULT_REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "otb"


def steps_per_second(env: TrackingEnv, steps: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, _, _ = env.step(rng.uniform(-0.2, 0.2, 4).astype(np.float32))
        if terminated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--crop-sizes", default="64,128")
    parser.add_argument(
        "--real", default=f"otb:{DEFAULT_REAL}", help="a <reader>:<path> dataset, or '' to skip"
    )
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # one core per env runner is how training runs them
    sources = {
        "synthetic 320x240": SequenceClipSource(
            generate_dataset(8, seed=0, config=SyntheticConfig(num_frames=64))
        )
    }
    if args.real:
        sources[f"real ({args.real.split(':')[0]}, jpg from disk)"] = SequenceClipSource(
            load_dataset(args.real)
        )
    rows = []
    for name, source in sources.items():
        for crop_size in map(int, args.crop_sizes.split(",")):
            rate = steps_per_second(TrackingEnv(source, crop_size=crop_size), args.steps)
            rows.append({"videos": name, "crop": crop_size, "env steps/s": round(rate)})
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
