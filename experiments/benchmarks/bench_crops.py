"""Throughput of the state crop ρ (crops/s), single and batched, at two frame and two crop sizes.

python -m tracking_by_trackers.experiments.benchmarks.bench_crops [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import pandas as pd

from tracking_by_trackers.envs.crops import crop_regions


def crops_per_second(
    image: np.ndarray, batch: int, crop_size: int, seconds: float, rng: np.random.Generator
) -> float:
    height, width = image.shape[:2]
    sizes = rng.uniform(0.05, 0.3, (batch, 2)) * [width, height]
    corners = rng.uniform(0, 1, (batch, 2)) * ([width, height] - sizes)
    boxes = np.concatenate([corners, sizes], axis=1)
    images = [image] * batch
    out = np.empty((batch, crop_size, crop_size, 3), np.uint8)
    crop_regions(images, boxes, size=crop_size, out=out)  # warm-up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        crop_regions(images, boxes, size=crop_size, out=out)
        calls += 1
    return calls * batch / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent on each configuration")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)  # one core per worker is how training runs them
    rng = np.random.default_rng(0)
    rows = []
    for height, width in [(240, 320), (720, 1280)]:
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        for crop_size in (64, 128):
            for batch in (1, 64):
                rate = crops_per_second(image, batch, crop_size, args.seconds, rng)
                rows.append(
                    {"frame": f"{width}x{height}", "crop": crop_size, "batch": batch, "crops/s": round(rate)}
                )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
