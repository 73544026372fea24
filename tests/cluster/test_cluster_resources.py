"""What the cluster can give a run, and the one-line refusal of GPUs it cannot have (no GPU needed: the
check is tested on this CPU-only machine, with a Ray instance of 0 GPUs and hand-made capacities)."""

from __future__ import annotations

import math

import pytest
from ray.autoscaler._private.util import format_readonly_node_type

from tracking_by_trackers.cluster.cluster_resources import (
    ClusterCapacity,
    GPURequestError,
    check_gpu_request,
    cluster_capacity,
    status_has_autoscaler,
)


def _status(node_types: dict[str, str]) -> dict:
    """The monitor's status report as ``ray status`` reads it, reduced to what the check reads."""
    return {"autoscaler_report": {"active_nodes": {}, "node_type_mapping": node_types}}


def test_a_read_only_monitor_means_no_autoscaler_and_named_node_types_mean_one():
    node_id = "9a8d6228f485ae3c115abed8700b508dbe86a3eaa34b77b2bb130636"
    assert status_has_autoscaler(_status({node_id: format_readonly_node_type(node_id)})) is False
    assert status_has_autoscaler(_status({node_id: "head_cpu", "b1": "worker_gpu"})) is True
    assert status_has_autoscaler(None) is None  # no report yet
    assert status_has_autoscaler({"load_metrics_report": {}}) is None  # the monitor has not updated yet


def test_what_a_run_can_count_on():
    assert ClusterCapacity(cpus=4, gpus=0, autoscaling=False).reachable("GPU") == 0
    assert ClusterCapacity(cpus=4, gpus=0, autoscaling=False).reachable("CPU") == 4
    assert ClusterCapacity(cpus=0, gpus=0, autoscaling=True).reachable("GPU") == math.inf
    assert ClusterCapacity(cpus=0, gpus=0, autoscaling=None).reachable("CPU") == math.inf
    assert ClusterCapacity(cpus=0, gpus=0, autoscaling=True, max_gpus=2).reachable("GPU") == 2
    assert ClusterCapacity(cpus=8, gpus=1, autoscaling=False, max_cpus=4).reachable("CPU") == 8


NO_GPU_NO_AUTOSCALER = ClusterCapacity(cpus=2, gpus=0, autoscaling=False)


def test_gpus_on_a_cluster_without_any_are_refused_in_one_line():
    with pytest.raises(GPURequestError) as raised:
        check_gpu_request({"learners": 2, "env runners": 0}, capacity=NO_GPU_NO_AUTOSCALER)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        "the run asks the Ray cluster for 2 GPUs (learners 2) but the cluster has 0 and no autoscaler can "
        "add GPU nodes"
    )


def test_gpus_beyond_what_the_node_groups_reach_are_refused():
    capacity = ClusterCapacity(cpus=0, gpus=0, autoscaling=True, max_gpus=1)
    with pytest.raises(
        GPURequestError, match=r"for 2 GPUs \(learners 1, env runners 1\) .* node groups reach 1"
    ):
        check_gpu_request({"learners": 1, "env runners": 1}, capacity=capacity)


@pytest.mark.parametrize(
    "capacity",
    [
        ClusterCapacity(cpus=0, gpus=0, autoscaling=True),  # KubeRay's gpu group from 0 replicas
        ClusterCapacity(cpus=0, gpus=0, autoscaling=None),  # the autoscaler has not reported yet
        ClusterCapacity(cpus=8, gpus=2, autoscaling=False),
    ],
)
def test_gpus_the_cluster_has_or_can_add_pass(capacity):
    check_gpu_request({"learners": 2}, capacity=capacity)


def test_no_gpu_asked_needs_no_cluster():
    check_gpu_request({"learners": 0, "env runners": 0}, capacity=NO_GPU_NO_AUTOSCALER)


def test_a_gpu_learner_in_a_driver_without_cuda_is_refused_before_rllib_fails():
    with pytest.raises(GPURequestError) as raised:
        check_gpu_request({}, driver_gpus=1, driver_cuda_devices=0, capacity=NO_GPU_NO_AUTOSCALER)
    assert str(raised.value).startswith(
        "num_gpus_per_learner 1 with num_learners 0 puts the learner in this driver process, which sees no "
        "GPU: set num_learners 1"
    )
    check_gpu_request({}, driver_gpus=1, driver_cuda_devices=1, capacity=NO_GPU_NO_AUTOSCALER)


def test_the_local_ray_instance_has_no_gpu_and_no_autoscaler(settled_ray_session):
    capacity = cluster_capacity()
    assert (capacity.cpus, capacity.gpus, capacity.autoscaling) == (2, 0, False)
    with pytest.raises(GPURequestError, match="the cluster has 0 and no autoscaler can add GPU nodes"):
        check_gpu_request({"env runners": 0.5})
