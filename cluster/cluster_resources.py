"""What the Ray cluster can give a run: its resources now, whether an autoscaler can add nodes, and the
check that refuses GPUs a cluster will never have.

A cluster started by Ray's cluster launcher or KubeRay often starts with its head alone (KubeRay's head
even with ``num-cpus: 0``) and grows as actors and tasks ask for resources: ``ray.cluster_resources()``
then says 0 CPUs and 0 GPUs although the run will get many. So a run asks the autoscaler's side too:

- Ray's own record of the cluster's node groups (``get_max_resources_from_cluster_config``, what Ray
  Train reads to refuse a worker group that can never be placed), where the platform reports it;
- else the autoscaler's status report, which the head's monitor writes every few seconds: a cluster
  without an autoscaler (``ray start`` alone, ``ray.init()``) runs the monitor with a read-only node
  provider, whose node types are named after the nodes themselves (``format_readonly_node_type``); a
  launcher or KubeRay cluster names its node types (``worker_gpu``, ``gpu``).

:func:`check_gpu_request` uses this to fail at once, in one line, when a run asks for GPUs and the
cluster has none and cannot get any, instead of RLlib's ``local_gpu_idx 0 is not a valid GPU ID`` deep in
the learner or actors that wait for a GPU forever.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ClusterCapacity",
    "GPURequestError",
    "autoscaler_can_add_nodes",
    "check_gpu_request",
    "cluster_capacity",
    "status_has_autoscaler",
]

logger = logging.getLogger(__name__)


class GPURequestError(ValueError):
    """GPUs were asked for where there are none; the message says which setting to change."""


@dataclass(frozen=True)
class ClusterCapacity:
    """The cluster's logical CPUs and GPUs now, and what its autoscaler could bring.

    Attributes:
        cpus: CPUs of the nodes alive now.
        gpus: GPUs of the nodes alive now.
        autoscaling: True when an autoscaler can add nodes, False when none can, None when it cannot be
            told yet (the autoscaler has not reported since the cluster started).
        max_cpus: The most CPUs the node groups can reach, where Ray knows it (else None).
        max_gpus: The most GPUs the node groups can reach, where Ray knows it (else None).
    """

    cpus: float
    gpus: float
    autoscaling: bool | None
    max_cpus: float | None = None
    max_gpus: float | None = None

    def reachable(self, resource: str) -> float:
        """The most of ``resource`` (``"CPU"`` or ``"GPU"``) the run can count on: what the node groups can
        reach where that is known, unbounded while an autoscaler may add nodes, else what is there now."""
        now, most = (self.cpus, self.max_cpus) if resource == "CPU" else (self.gpus, self.max_gpus)
        if most is not None:
            return max(now, most)
        return math.inf if self.autoscaling is not False else now


def status_has_autoscaler(status: Mapping | None) -> bool | None:
    """Whether the monitor's status report (``ray status``'s source) comes from an autoscaler that can add
    nodes: False for the read-only provider of a cluster without one, None when the report does not say
    yet (no report, or none with ``autoscaler_report`` since the start)."""
    from ray.autoscaler._private.util import format_readonly_node_type

    report = (status or {}).get("autoscaler_report")
    if not report:
        return None
    mapping = report.get("node_type_mapping") or {}
    if not mapping:
        return None
    readonly = all(node_type == format_readonly_node_type(node_id) for node_id, node_type in mapping.items())
    return not readonly


def autoscaler_can_add_nodes() -> bool | None:
    """Whether this Ray cluster runs an autoscaler that can add nodes (see :func:`status_has_autoscaler`);
    the autoscaler v2 (KubeRay's newer one) always can."""
    from ray._private import ray_constants
    from ray.autoscaler.v2.utils import is_autoscaler_v2
    from ray.experimental.internal_kv import _internal_kv_get

    if is_autoscaler_v2(fetch_from_server=True):
        return True
    raw = _internal_kv_get(ray_constants.DEBUG_AUTOSCALING_STATUS)
    return status_has_autoscaler(json.loads(raw) if raw else None)


def cluster_capacity() -> ClusterCapacity:
    """The connected Ray cluster's :class:`ClusterCapacity` (Ray must be initialised)."""
    import ray
    from ray._private.state import state

    resources = ray.cluster_resources()
    most = state.get_max_resources_from_cluster_config() or {}
    return ClusterCapacity(
        cpus=float(resources.get("CPU", 0)),
        gpus=float(resources.get("GPU", 0)),
        autoscaling=autoscaler_can_add_nodes(),
        max_cpus=float(most["CPU"]) if "CPU" in most else None,
        max_gpus=float(most["GPU"]) if "GPU" in most else None,
    )


def check_gpu_request(
    actor_gpus: Mapping[str, float],
    *,
    driver_gpus: float = 0,
    capacity: ClusterCapacity | None = None,
    driver_cuda_devices: int | None = None,
) -> None:
    """Refuse GPUs that can never be had, in one line naming the setting; pass otherwise.

    Args:
        actor_gpus: GPUs asked of the cluster by each role, in all (``{"learners": 2, "env runners": 0}``).
        driver_gpus: GPUs the driver process uses itself (the learner in the driver: RLlib gives it
            ``cuda:0`` of the machine the driver runs on, whatever the cluster has).
        capacity: The cluster's capacity (default: :func:`cluster_capacity`, needs Ray).
        driver_cuda_devices: CUDA devices the driver sees (default: ``torch.cuda.device_count()``).

    Raises:
        GPURequestError: the driver has no CUDA device for ``driver_gpus``, or the actors ask for more GPUs
            than the cluster has and its autoscaler can add.
    """
    if driver_gpus > 0:
        if driver_cuda_devices is None:
            import torch

            driver_cuda_devices = torch.cuda.device_count()
        if driver_cuda_devices == 0:
            raise GPURequestError(
                f"num_gpus_per_learner {driver_gpus:g} with num_learners 0 puts the learner in this driver "
                "process, which sees no GPU: set num_learners 1 (a learner actor that Ray places on a GPU "
                "node), run the driver on a GPU node (tbt submit --entrypoint-num-gpus 1), or set "
                "num_gpus_per_learner 0"
            )
    wanted = {role: gpus for role, gpus in actor_gpus.items() if gpus > 0}
    total = math.fsum(wanted.values())
    if total == 0:
        return
    capacity = capacity or cluster_capacity()
    reachable = capacity.reachable("GPU")
    if total <= capacity.gpus:
        return
    if total > reachable:
        asked = ", ".join(f"{role} {gpus:g}" for role, gpus in wanted.items())
        where = (
            f"its node groups reach {capacity.max_gpus:g}"
            if capacity.max_gpus is not None
            else "no autoscaler can add GPU nodes"
        )
        raise GPURequestError(
            f"the run asks the Ray cluster for {total:g} GPUs ({asked}) but the cluster has "
            f"{capacity.gpus:g} and {where}: ask for fewer (num_gpus_per_learner, num_gpus_per_env_runner "
            "0 on a CPU machine) or join a cluster with GPU nodes (--address)"
        )
    logger.info(
        "the run asks for %g GPUs; the cluster has %g now and its autoscaler may add GPU nodes",
        total,
        capacity.gpus,
    )
