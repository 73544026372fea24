"""Multi-node training for real, on one machine: a Ray head and a second Ray node as separate processes,
KD-RL trained against them with one env runner on each node, and a clean shutdown (about 1 minute)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cluster.local_cluster import LocalRayCluster, NodeSpec
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _default_address_file():
    """Where a plain ``ray.init()`` looks for a running cluster to join."""
    from pathlib import Path

    from ray._common.utils import get_ray_address_file

    return Path(get_ray_address_file(None))


def test_env_runners_train_on_both_nodes_and_the_cluster_stops_clean(tmp_path):
    # One CPU per node, distinct custom resources to tell the nodes apart; no token auth on any process.
    cluster = LocalRayCluster(
        [
            NodeSpec(num_cpus=1, resources={"head_node": 1}),
            NodeSpec(num_cpus=1, resources={"worker_node": 1}),
        ],
        auth_mode="disabled",
    ).start()
    try:
        driver = subprocess.run(
            [sys.executable, "-m", "tests.cluster.two_node_driver", cluster.address, str(tmp_path)],
            cwd=REPO_ROOT,
            env=cluster.client_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert driver.returncode == 0, f"driver failed:\n{driver.stderr[-6000:]}\n{cluster.logs()[-3000:]}"
    finally:
        cluster.stop()  # raises if any of the cluster's processes outlived it

    report = json.loads(driver.stdout.strip().splitlines()[-1])
    node_by_role = {
        role: node_id
        for node_id, resources in report["nodes"].items()
        for role in resources
        if role.endswith("_node")
    }
    assert set(node_by_role) == {"head_node", "worker_node"}
    assert sorted(report["runner_nodes"]) == sorted(node_by_role.values()), report
    assert report["env_steps"][-1] > 0, report

    assert not cluster.root.exists(), f"session files left in {cluster.root}"
    address_file = _default_address_file()
    assert not (address_file.is_file() and str(cluster.gcs_port) in address_file.read_text()), (
        f"{address_file} points at the stopped test cluster: the next ray.init() would try to join it"
    )
