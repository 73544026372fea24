"""Forward-pass throughput of the student's backbones on one CPU thread, at their preset crop sizes.

Eval mode under ``torch.inference_mode``, batch 1 and 32, input already normalised (float NCHW in
channels_last, as ImageNetNormalize hands it over). One thread because every Ray worker gets one
(several busy threads per process oversubscribe a small machine; see ``tracking_by_trackers.cluster.ray_runtime``).

python -m tracking_by_trackers.experiments.benchmarks.bench_backbones [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from tracking_by_trackers.policies.backbones import make_backbone

# (backbone, crop side) as in tracking_by_trackers.policies.student_model.PRESETS: the paper's 128×128 for
# ResNet-18 and NanoTrack v2's backbone, 64×64 for the small CPU preset.
PRESETS = (("resnet18", 128), ("nanotrack_v2", 128), ("small", 64))
BATCHES = (1, 32)


def seconds_per_batch(model: torch.nn.Module, batch: torch.Tensor, seconds: float) -> float:
    with torch.inference_mode():
        model(batch)  # warm-up: first call pays for allocator and kernel selection
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            model(batch)
            calls += 1
    return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="time spent on each configuration")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    rows = []
    for name, side in PRESETS:
        model = make_backbone(name).eval()
        for batch_size in BATCHES:
            batch = torch.randn(batch_size, 3, side, side).contiguous(memory_format=torch.channels_last)
            per_batch = seconds_per_batch(model, batch, args.seconds)
            rows.append(
                {
                    "backbone": name,
                    "crop": side,
                    "batch": batch_size,
                    "ms_per_batch": 1e3 * per_batch,
                    "crops_per_s": batch_size / per_batch,
                }
            )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return table


if __name__ == "__main__":
    main()
