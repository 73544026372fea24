"""The driver of the two-node test, run as its own process:
``python -m tests.cluster.two_node_driver ADDRESS OUT NUM_LEARNERS [NUM_GPUS_PER_LEARNER]``.

Joins the cluster at ADDRESS, runs the teachers on tiny synthetic videos (Ray actors, on both nodes) into a
transfer set under OUT, trains KD-RL for a few iterations with one env runner on each node (each asks for
a whole ``env_runner_node``, which each node offers once) and NUM_LEARNERS learner actors on the node that
offers ``learner_node`` (0: the learner in this driver), and prints one JSON line: the cluster's nodes
(id → custom resources), the driver's node, the node of each env runner and of the learner (the driver's
with 0 learner actors) and the device of the learner's module, each iteration's env steps and the env
steps the learner trained on. A separate process because the test session may already hold its own
``ray.init`` (``ray_session``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ITERATIONS = 3


def _node_id(_=None) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def _module_device(learner) -> str:
    return str(next(learner.module["default_policy"].parameters()).device)


def main(address: str, out: Path, num_learners: int, num_gpus_per_learner: float = 0) -> dict:
    import ray

    from tracking_by_trackers.cluster.local_cluster import wait_for_nodes
    from tracking_by_trackers.cluster.ray_runtime import init_ray
    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.experiments.train.student_training import build_algorithm_config
    from tracking_by_trackers.experiments.train.train_config import TrainConfig
    from tracking_by_trackers.experiments.train.train_pipeline import run_teachers
    from tracking_by_trackers.policies.kdrl.kdrl_metrics import summarize

    init_ray(address=address)
    nodes = {node["NodeID"]: sorted(node["Resources"]) for node in wait_for_nodes(2)}
    config = TrainConfig.quick(
        dataset="synthetic:videos=4,frames=30,difficulty=0.3,seed=1",
        teachers="kcf",
        clip_length=16,
        train_batch_size=40,
        num_env_runners=2,
        num_envs_per_env_runner=1,
        custom_resources_per_env_runner={"env_runner_node": 1},
        num_learners=num_learners,
        num_gpus_per_learner=num_gpus_per_learner,
        custom_resources_per_learner={"learner_node": 0.001} if num_learners else {},
    )
    run_teachers(config, load_dataset(config.dataset), out / "transfer_set")
    algo = build_algorithm_config(config, out / "transfer_set").build_algo()
    try:
        results = [algo.train() for _ in range(ITERATIONS)]
        runner_nodes = algo.env_runner_group.foreach_env_runner(_node_id, local_env_runner=False)
        learner_nodes = [result.get() for result in algo.learner_group.foreach_learner(_node_id)]
        learner_devices = [result.get() for result in algo.learner_group.foreach_learner(_module_device)]
    finally:
        algo.stop()
    driver_node = _node_id()
    ray.shutdown()
    trained = results[-1].get("learners", {}).get("__all_modules__", {})
    return {
        "nodes": nodes,
        "driver_node": driver_node,
        "runner_nodes": runner_nodes,
        "learner_nodes": learner_nodes,
        "learner_devices": learner_devices,
        "env_steps": [summarize(result)["env_steps"] for result in results],
        "env_steps_trained": trained.get("num_env_steps_trained_lifetime", 0),
    }


if __name__ == "__main__":
    gpus = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    print(json.dumps(main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), gpus)), flush=True)
