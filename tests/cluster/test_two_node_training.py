"""Multi-node training for real, on one machine: a Ray head and a second Ray node as separate processes,
KD-RL trained against them with one env runner on each node, the learner in the driver or as a Ray actor
on the other node (on its GPU where there is one), and a clean shutdown."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT
from tracking_by_trackers.cluster.local_cluster import LocalRayCluster, NodeSpec

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _default_address_file():
    """Where a plain ``ray.init()`` looks for a running cluster to join."""
    from pathlib import Path

    from ray._common.utils import get_ray_address_file

    return Path(get_ray_address_file(None))


def _train_on_two_nodes(tmp_path, num_learners: int, worker_gpus: int = 0, num_gpus_per_learner: float = 0):
    """Start the two nodes, run the driver against them, stop them; the driver's report."""
    # Each node offers one env_runner_node, so the two runners land one per node; only the worker offers
    # learner_node, and its second CPU (or its GPU) is the learner actor's. No token auth on any process.
    cluster = LocalRayCluster(
        [
            NodeSpec(num_cpus=1, resources={"head_node": 1, "env_runner_node": 1}),
            NodeSpec(
                num_cpus=2,
                resources={"worker_node": 1, "env_runner_node": 1, "learner_node": 1},
                num_gpus=worker_gpus,
            ),
        ],
        auth_mode="disabled",
    ).start()
    command = [sys.executable, "-m", "tests.cluster.two_node_driver", cluster.address, str(tmp_path)]
    command += [str(num_learners), str(num_gpus_per_learner)]
    try:
        driver = subprocess.run(
            command, cwd=REPO_ROOT, env=cluster.client_env(), capture_output=True, text=True, timeout=300
        )
        assert driver.returncode == 0, f"driver failed:\n{driver.stderr[-6000:]}\n{cluster.logs()[-3000:]}"
    finally:
        cluster.stop()  # raises if any of the cluster's processes outlived it
    assert not cluster.root.exists(), f"session files left in {cluster.root}"
    address_file = _default_address_file()
    assert not (address_file.is_file() and str(cluster.gcs_port) in address_file.read_text()), (
        f"{address_file} points at the stopped test cluster: the next ray.init() would try to join it"
    )
    report = json.loads(driver.stdout.strip().splitlines()[-1])
    report["node_by_role"] = {
        role: node_id
        for node_id, resources in report["nodes"].items()
        for role in resources
        if role in ("head_node", "worker_node")
    }
    return report


@pytest.mark.parametrize("num_learners", [0, 1], ids=["learner_in_the_driver", "learner_actor"])
def test_env_runners_and_the_learner_train_on_their_nodes_and_the_cluster_stops_clean(tmp_path, num_learners):
    report = _train_on_two_nodes(tmp_path, num_learners)
    node_by_role = report["node_by_role"]
    assert set(node_by_role) == {"head_node", "worker_node"}
    assert report["driver_node"] == node_by_role["head_node"]
    assert sorted(report["runner_nodes"]) == sorted(node_by_role.values()), report
    # The learner: inside the driver (on the head), or an actor on the node that offers learner_node.
    expected_learner_nodes = [node_by_role["worker_node"]] if num_learners else [report["driver_node"]]
    assert report["learner_nodes"] == expected_learner_nodes, report
    assert report["learner_devices"] == ["cpu"]
    assert report["env_steps"][-1] > 0 and report["env_steps_trained"] > 0, report


@pytest.mark.gpu
def test_a_gpu_learner_actor_trains_on_the_gpu_of_the_other_node(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    report = _train_on_two_nodes(tmp_path, num_learners=1, worker_gpus=1, num_gpus_per_learner=1)
    assert report["learner_nodes"] == [report["node_by_role"]["worker_node"]], report
    assert report["learner_devices"] == ["cuda:0"], report
    assert report["env_steps_trained"] > 0, report


def _node_with(nodes: dict[str, list[str]], resource: str) -> str:
    [node] = [node for node, resources in nodes.items() if resource in resources]
    return node


def test_a_stopped_nodes_env_runner_is_restarted_on_another_node_and_the_run_finishes(tmp_path):
    """The worker node is stopped mid-training, as a preempted machine goes; a replacement node joins (as an
    autoscaler adds one), RLlib restarts the lost runner there with its role, and training goes on."""
    from tracking_by_trackers.envs.sample_keys import ROLE_AUTONOMOUS, ROLE_DISTIL
    from tracking_by_trackers.policies.kdrl.student_roles import runner_distils

    cluster = LocalRayCluster(
        [
            NodeSpec(num_cpus=1, resources={"head_node": 1, "env_runner_node": 1}),
            NodeSpec(num_cpus=1, resources={"worker_node": 1, "env_runner_node": 1}),
        ],
        auth_mode="disabled",
    ).start()
    command = [sys.executable, "-m", "tests.cluster.node_loss_driver", cluster.address, str(tmp_path)]
    stderr = (tmp_path / "driver.err").open("w")
    events, driver = {}, None
    try:
        driver = subprocess.Popen(
            command, cwd=REPO_ROOT, env=cluster.client_env(), stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        for line in driver.stdout:
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            events[event["event"]] = event
            if event["event"] == "training":
                cluster.stop_node(1)  # the worker node, with one of the two runners
                cluster.add_node(
                    NodeSpec(num_cpus=1, resources={"replacement_node": 1, "env_runner_node": 1})
                )
        assert driver.wait(300) == 0, f"driver failed:\n{(tmp_path / 'driver.err').read_text()[-6000:]}"
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
        stderr.close()
        cluster.stop()  # raises if any of the cluster's processes outlived it
    training, done = events["training"], events["done"]
    worker, head = _node_with(training["nodes"], "worker_node"), _node_with(training["nodes"], "head_node")
    replacement = _node_with(done["nodes"], "replacement_node")
    assert sorted(training["runners"].values()) == sorted([worker, head]), training
    [lost] = [int(index) for index, node in training["runners"].items() if node == worker]
    [restarted] = done["restarted"]
    assert restarted["worker_index"] == lost and restarted["node"] == replacement, done
    assert done["runners"] == {**training["runners"], str(lost): replacement}
    # Same worker_index, same role: runner 1 distils and runner 2 is autonomous, on every episode.
    expected_role = ROLE_DISTIL if runner_distils(lost, 2, 0.5, episode=0) else ROLE_AUTONOMOUS
    assert restarted["roles"] == [expected_role]
    # RLlib's fault-tolerance stats in every iteration's summary, and training went on after the restart.
    assert done["env_runner_restarts"][0] == 0 and done["env_runner_restarts"][-1] == 1, done
    assert done["env_steps"][-1] > done["env_steps"][done["restarted_at"] - 1] > 0, done
