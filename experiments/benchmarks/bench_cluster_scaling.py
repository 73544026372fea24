"""KD-RL env steps/s with 1, 2 and 4 env runners on a two-node local Ray cluster, and the scaling efficiency.

    python -m tracking_by_trackers.experiments.benchmarks.bench_cluster_scaling [--runners 1,2,4] [--node-cpus 2] [--measure-s 20]
        [--num-learners 0|1]

Starts a head and a worker node on this machine as separate ``ray start`` processes
(``tracking_by_trackers.cluster.local_cluster``), joins them as the driver, runs the teachers once into a transfer set, then for
each runner count trains the ``small`` student for a few warm-up iterations and measures for
``--measure-s`` seconds. The learner runs in the driver (``--num-learners 0``, ``tbt train``'s default) or
as a learner actor on the worker node (``--num-learners 1``, as on a cluster: the worker offers
``learner_node`` and one more CPU for it).

* env steps/s: env steps the runners sampled during the window / its wall time;
* learner samples/s: env steps the learner trained on / the same time;
* scaling efficiency: (env steps/s with N runners) / (N × env steps/s with 1 runner).

The runners are spread evenly over the two nodes: each node offers ``ceil(max(--runners) / 2)`` units of
``env_runner_node`` and each of N runners asks for ``ceil(max / 2) / ceil(N / 2)`` of them (and as many of
the node's CPUs), so at most ``ceil(N / 2)`` fit on a node. ``placement`` counts the runners on each node,
and ``learner`` names the learner's node, from their node ids. Node CPUs are logical: on a machine with
fewer cores than runners plus the learner, efficiency falls because they share cores, not because of Ray.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

__all__ = ["measure", "main"]

ROLES = ("head_node", "worker_node")


def _lifetime_steps(result: dict) -> tuple[float, float]:
    """(env steps sampled, env steps trained) since the start of training."""
    from tracking_by_trackers.policies.kdrl.kdrl_metrics import summarize

    trained = result.get("learners", {}).get("__all_modules__", {}).get("num_env_steps_trained_lifetime", 0)
    return summarize(result)["env_steps"], float(trained)


def _node_id(_=None) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


def measure(algo_config, warmup_iterations: int, measure_s: float) -> dict[str, float]:
    """Build the algorithm, train ``warmup_iterations``, then measure throughput over ``measure_s`` seconds."""
    algo = algo_config.build_algo()
    try:
        result = {}
        for _ in range(warmup_iterations):
            result = algo.train()
        sampled0, trained0 = _lifetime_steps(result) if result else (0.0, 0.0)
        started, iterations = time.perf_counter(), 0
        while time.perf_counter() - started < measure_s:
            result = algo.train()
            iterations += 1
        elapsed = time.perf_counter() - started
        sampled, trained = _lifetime_steps(result)
        runner_nodes = algo.env_runner_group.foreach_env_runner(_node_id, local_env_runner=False)
        learner_nodes = [result.get() for result in algo.learner_group.foreach_learner(_node_id)]
    finally:
        algo.stop()
    return {
        "env_steps_per_s": (sampled - sampled0) / elapsed,
        "learner_samples_per_s": (trained - trained0) / elapsed,
        "iterations": iterations,
        "seconds": elapsed,
        "runner_nodes": runner_nodes,
        "learner_nodes": learner_nodes,
    }


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runners", default="1,2,4", help="env-runner counts to measure (%(default)s)")
    parser.add_argument("--node-cpus", type=int, default=2, help="logical CPUs of each node (%(default)s)")
    parser.add_argument("--envs-per-runner", type=int, default=4)
    parser.add_argument("--train-batch-size", type=int, default=200)
    parser.add_argument("--warmup-iterations", type=int, default=2)
    parser.add_argument(
        "--measure-s", type=float, default=20.0, help="measuring window per count (%(default)s)"
    )
    parser.add_argument("--dataset", default="synthetic:videos=8,frames=60,difficulty=0.3,seed=1")
    parser.add_argument(
        "--num-learners",
        type=int,
        choices=[0, 1],
        default=0,
        help="0: the learner in the driver; 1: a learner actor on the worker node (%(default)s)",
    )
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.runners.split(",")]
    if max(counts) > 2 * args.node_cpus:
        parser.error(f"{max(counts)} runners do not fit on 2 nodes of {args.node_cpus} CPUs")
    slots = math.ceil(max(counts) / len(ROLES))

    import ray

    from tracking_by_trackers.cluster.local_cluster import LocalRayCluster, NodeSpec, wait_for_nodes
    from tracking_by_trackers.cluster.ray_runtime import init_ray
    from tracking_by_trackers.envs.datasets import load_dataset
    from tracking_by_trackers.experiments.train.student_training import build_algorithm_config
    from tracking_by_trackers.experiments.train.train_config import TrainConfig
    from tracking_by_trackers.experiments.train.train_pipeline import run_teachers

    load_before = os.getloadavg()[0]
    head = NodeSpec(args.node_cpus, {"head_node": 1, "env_runner_node": slots})
    worker_resources = {"worker_node": 1, "env_runner_node": slots, "learner_node": 1}
    nodes = [head, NodeSpec(args.node_cpus + args.num_learners, worker_resources)]
    rows = []
    with LocalRayCluster(nodes) as cluster, tempfile.TemporaryDirectory() as scratch:
        # This process is the driver: same auth mode as the nodes, and no RAY_ADDRESS pointing elsewhere.
        os.environ["RAY_AUTH_MODE"] = cluster.auth_mode
        os.environ.pop("RAY_ADDRESS", None)
        init_ray(address=cluster.address)
        try:
            role_of = {
                node["NodeID"]: next(role for role in ROLES if role in node["Resources"])
                for node in wait_for_nodes(len(nodes))
            }
            base = TrainConfig(
                dataset=args.dataset,
                teachers="kcf",
                beta=0.3,
                clip_length=16,
                preset="small",
                train_batch_size=args.train_batch_size,
                num_envs_per_env_runner=args.envs_per_runner,
                num_learners=args.num_learners,
                custom_resources_per_learner={"learner_node": 0.001} if args.num_learners else {},
            )
            root = Path(scratch) / "transfer_set"
            run_teachers(base, load_dataset(base.dataset), root)
            for count in counts:
                per_node = math.ceil(count / len(nodes))
                share = {"env_runner_node": slots / per_node}
                algo_config = build_algorithm_config(
                    base.updated(num_env_runners=count, custom_resources_per_env_runner=share), root
                )
                algo_config.env_runners(num_cpus_per_env_runner=args.node_cpus / per_node)
                figures = measure(algo_config, args.warmup_iterations, args.measure_s)
                placement = {role: 0 for role in ROLES}
                for node_id in figures.pop("runner_nodes"):
                    placement[role_of[node_id]] += 1
                where = f"{placement['head_node']} head + {placement['worker_node']} worker"
                learner = "+".join(
                    role_of[node_id].removesuffix("_node") for node_id in figures.pop("learner_nodes")
                )
                rows.append({"env_runners": count, **figures, "placement": where, "learner": learner})
                print(
                    f"{count} runners: {figures['env_steps_per_s']:.0f} env steps/s, "
                    f"{figures['learner_samples_per_s']:.0f} learner samples/s ({where}; learner on the {learner})",
                    flush=True,
                )
        finally:
            ray.shutdown()
    table = pd.DataFrame(rows).set_index("env_runners")
    single = table["env_steps_per_s"].get(1, math.nan)
    table["efficiency"] = table["env_steps_per_s"] / (table.index * single)
    print(
        f"\nKD-RL (small preset, {args.envs_per_runner} envs per runner, batch {args.train_batch_size}) on a "
        f"two-node local cluster ({args.node_cpus} logical CPUs per node) on a machine with {os.cpu_count()} "
        f"cores; learner {'in the driver' if args.num_learners == 0 else 'as an actor on the worker node'}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    shown = table[
        ["env_steps_per_s", "learner_samples_per_s", "efficiency", "iterations", "placement", "learner"]
    ]
    print(shown.to_string(float_format=lambda v: f"{v:.2f}"))
    return table


if __name__ == "__main__":
    main()
