"""The driver of the two-node test, run as its own process: ``python -m tests.cluster.two_node_driver ADDRESS OUT``.

Joins the cluster at ADDRESS, runs the teachers on tiny synthetic videos (Ray actors, on both nodes) into a
transfer set under OUT, trains KD-RL for a few iterations with two env runners, and prints one JSON line:
the cluster's nodes (id → custom resources), the node of each env runner, and each iteration's env steps.
A separate process because the test session may already hold its own ``ray.init`` (``ray_session``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ITERATIONS = 3


def main(address: str, out: Path) -> dict:
    import ray

    from cluster.local_cluster import wait_for_nodes
    from cluster.ray_runtime import init_ray
    from envs.datasets import load_dataset
    from experiments.student_training import build_algorithm_config
    from experiments.train_config import TrainConfig
    from experiments.train_pipeline import run_teachers
    from policies.kdrl_metrics import summarize

    init_ray(address=address)
    nodes = {node["NodeID"]: sorted(node["Resources"]) for node in wait_for_nodes(2)}
    config = TrainConfig.quick(
        dataset="synthetic:videos=4,frames=30,difficulty=0.3,seed=1",
        teachers="kcf",
        clip_length=16,
        train_batch_size=40,
        # Each node offers 1 CPU and a runner takes 1, so the two runners must land on different nodes.
        num_env_runners=2,
        num_envs_per_env_runner=1,
    )
    run_teachers(config, load_dataset(config.dataset), out / "transfer_set")
    algo = build_algorithm_config(config, out / "transfer_set").build_algo()
    try:
        steps = [summarize(algo.train())["env_steps"] for _ in range(ITERATIONS)]
        runner_nodes = algo.env_runner_group.foreach_env_runner(
            lambda runner: ray.get_runtime_context().get_node_id(), local_env_runner=False
        )
    finally:
        algo.stop()
    ray.shutdown()
    return {"nodes": nodes, "runner_nodes": runner_nodes, "env_steps": steps}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]))), flush=True)
