"""The driver of the node-loss test, run as its own process: ``python -m tests.cluster.node_loss_driver ADDRESS OUT``.

Joins the cluster at ADDRESS, runs the teacher on tiny synthetic videos into a transfer set under OUT, and
trains KD-RL with one env runner on each of the two nodes (each asks for a whole ``env_runner_node``) and
the learner in this driver. It prints one JSON line per event, and keeps training while the test stops a
node:

* ``{"event": "training", "runners": {worker_index: node id}, "nodes": {node id: resource names}}`` after 2
  iterations;
* ``{"event": "done", ...}`` once RLlib has restarted a runner and 2 more iterations have trained, with the
  restarted runner's report (``tracking_by_trackers.policies.kdrl.student_states``), the nodes, every runner's node,
  the per-iteration summaries' restart counts and env steps; or after :data:`MAX_TRAINING_S` without one.

The bound is wall-clock time, not iterations: how many iterations pass before the replacement node has
joined and RLlib's probe has restarted the runner depends on the machine's load (on a busy CI machine, 60
iterations once passed first).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

MAX_TRAINING_S = 240.0
AFTER_RESTART = 2


def _nodes() -> dict[str, list[str]]:
    """The live nodes: id → the names of their resources."""
    import ray

    return {node["NodeID"]: sorted(node["Resources"]) for node in ray.nodes() if node["Alive"]}


def _emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def main(address: str, out: Path) -> None:
    import ray

    from tracking_by_trackers.cluster.local_cluster import wait_for_nodes
    from tracking_by_trackers.cluster.ray_runtime import init_ray
    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.experiments.train.student_training import build_algorithm_config
    from tracking_by_trackers.experiments.train.train_config import TrainConfig
    from tracking_by_trackers.experiments.train.train_pipeline import run_teachers
    from tracking_by_trackers.policies.kdrl.kdrl_metrics import summarize

    init_ray(address=address)
    wait_for_nodes(2)
    config = TrainConfig.quick(
        dataset="synthetic:videos=4,frames=30,difficulty=0.3,seed=1",
        teachers="kcf",
        train_batch_size=40,
        iterations=1_000_000,  # the loop below stops the run
        num_env_runners=2,
        num_envs_per_env_runner=1,
        custom_resources_per_env_runner={"env_runner_node": 1},
    )
    run_teachers(config, load_dataset(config.dataset), out / "transfer_set")
    algo = build_algorithm_config(config, out / "transfer_set").build_algo()
    rows, restarted_at = [], None
    deadline = time.monotonic() + MAX_TRAINING_S
    try:
        iteration = 0
        while time.monotonic() < deadline:
            iteration += 1
            rows.append(summarize(algo.train()))
            if iteration == 2:
                runners = {r["worker_index"]: r["node"] for r in algo.students_report() if r["states"]}
                _emit("training", runners=runners, nodes=_nodes())
            if restarted_at is None and algo.recreated_runners:
                restarted_at = iteration
            if restarted_at is not None and iteration >= restarted_at + AFTER_RESTART:
                break
        runners = {r["worker_index"]: r["node"] for r in algo.students_report() if r["states"]}
        nodes = _nodes()
    finally:
        algo.stop()
    ray.shutdown()
    _emit(
        "done",
        nodes=nodes,
        restarted=algo.recreated_runners,
        runners=runners,
        restarted_at=restarted_at,
        iterations=len(rows),
        env_runner_restarts=[row["env_runner_restarts"] for row in rows],
        env_steps=[row["env_steps"] for row in rows],
    )


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
