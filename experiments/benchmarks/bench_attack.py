"""Speed of the attack's hot path: attack steps per second (one frame-by-frame TRAS pass without
gradients, one batched pass with them, one sign step) on a synthetic sequence, per preset and length.

python -m tracking_by_trackers.experiments.benchmarks.bench_attack [--presets small,nanotrack] [--frames 30,100]
    [--steps 3] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from tracking_by_trackers.envs.datasets import load_dataset
from tracking_by_trackers.experiments.attack.background_patch import PatchGeometry
from tracking_by_trackers.experiments.attack.patch_attack import PatchAttack
from tracking_by_trackers.policies.student_model import StudentNetwork
from tracking_by_trackers.policies.trackers.student_tracker import resolve_device


def steps_per_second(preset: str, frames: int, steps: int, device: torch.device) -> float:
    (sequence,) = load_dataset(f"synthetic:videos=1,frames={frames},difficulty=0.5,seed=0")
    torch.manual_seed(0)
    network = StudentNetwork.from_preset(preset).to(device).eval()
    # No padding: every crop sees the patch, the gradient reaches it on every frame.
    attack = PatchAttack(network, sequence, PatchGeometry.for_sequence(sequence, padding=0), device)
    list(attack.run(0.1, [1]))  # warm-up
    start = time.perf_counter()
    list(attack.run(0.1, [steps]))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="small", help="student presets, comma-separated")
    parser.add_argument("--frames", default="30,100", help="sequence lengths, comma-separated")
    parser.add_argument("--steps", type=int, default=3, help="attack steps timed per configuration")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: CUDA if any")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = []
    for preset in args.presets.split(","):
        for frames in map(int, args.frames.split(",")):
            rate = steps_per_second(preset, frames, args.steps, device)
            rows.append(
                {"preset": preset, "frames": frames, "device": device.type, "steps/s": round(rate, 3)}
            )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
