"""KD-RL training throughput: env steps/s and learner samples/s per student preset and number of runners.

    python -m tracking_by_trackers.experiments.benchmarks.bench_training [--presets small,paper] [--runners 1,2] [--batch 80] [--envs-per-runner 8] [--seconds 60]

Each setting builds the algorithm on synthetic videos with a scripted teacher (the ground truth plus
1-pixel noise, so no teacher time is measured), trains for ``--seconds`` after two warm-up iterations,
and prints the mean of ``env_steps_per_s`` and ``learner_samples_per_s`` (``tracking_by_trackers.policies.kdrl.kdrl_metrics``)
over the timed iterations. The learner runs in the driver with one torch thread, as in ``tbt train``.
Learner samples count the bootstrap step RLlib appends to every t_max chunk, so they exceed env steps.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _clip_source():
    from tracking_by_trackers.envs.clip_sources import SequenceClipSource, synthetic_clip_source

    base = synthetic_clip_source(num_videos=4, num_frames=64)
    rng = np.random.default_rng(0)
    teachers = [{"noisy": s.gt_boxes + rng.normal(0.0, 1.0, s.gt_boxes.shape)} for s in base.sequences]
    return SequenceClipSource(base.sequences, teacher_boxes=teachers)


def measure(
    preset_name: str, runners: int, envs_per_runner: int, batch: int, seconds: float
) -> dict[str, float]:
    from tracking_by_trackers.policies.kdrl.kdrl import KDRLConfig
    from tracking_by_trackers.policies.kdrl.kdrl_metrics import summarize
    from tracking_by_trackers.policies.kdrl.student_env import ENV_NAME
    from tracking_by_trackers.policies.student_model import preset

    config = (
        KDRLConfig()
        .environment(
            ENV_NAME,
            env_config={
                "clip_source": _clip_source,
                "crop_size": preset(preset_name).crop_size,
                "clip_length": 32,
            },
        )
        .env_runners(num_env_runners=runners, num_envs_per_env_runner=envs_per_runner)
        .learners(num_learners=0)
        .rl_module(model_config={"preset": preset_name})
        .training(lr=1e-3, train_batch_size_per_learner=batch, curriculum=False)
        .reporting(min_train_timesteps_per_iteration=batch)
    )
    algo = config.build_algo()
    try:
        for _ in range(2):
            algo.train()
        rows, started = [], time.perf_counter()
        while time.perf_counter() - started < seconds:
            rows.append(summarize(algo.train()))
    finally:
        algo.stop()
    wall = time.perf_counter() - started
    return {
        "iterations": len(rows),
        "env_steps_per_s": float(np.nanmean([r["env_steps_per_s"] for r in rows])),
        "learner_samples_per_s": float(np.nanmean([r["learner_samples_per_s"] for r in rows])),
        "env_steps_wall": (rows[-1]["env_steps"] - rows[0]["env_steps"]) / wall
        if len(rows) > 1
        else float("nan"),
    }


def main() -> None:
    import torch

    from tracking_by_trackers.cluster.ray_runtime import init_ray

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--presets", default="small,paper")
    parser.add_argument("--runners", default="1,2")
    # 80 is tbt train's default (more updates per second); ResNet-18 at 128x128 is slow on one CPU thread
    # and needs a small batch anyway to keep iterations short.
    parser.add_argument("--batch", type=int, default=80, help="samples per learner update")
    parser.add_argument("--envs-per-runner", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    init_ray()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; torch 1 thread in the learner"
    )
    print(
        f"{'preset':8s} {'runners':>7s} {'envs/runner':>11s} {'batch':>6s} {'iters':>6s} "
        f"{'env steps/s':>12s} {'learner samples/s':>18s}"
    )
    for preset_name in args.presets.split(","):
        for runners in (int(r) for r in args.runners.split(",")):
            figures = measure(preset_name, runners, args.envs_per_runner, args.batch, args.seconds)
            print(
                f"{preset_name:8s} {runners:7d} {args.envs_per_runner:11d} {args.batch:6d} {figures['iterations']:6d} "
                f"{figures['env_steps_per_s']:12.1f} {figures['learner_samples_per_s']:18.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
