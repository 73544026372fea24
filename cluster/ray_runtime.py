"""Starting or joining Ray with the project's defaults.

Every Ray worker gets one thread for OpenMP/BLAS (and so for torch and OpenCV's parallel loops): on a
small machine a second busy process with several threads cuts throughput many times over, and on
a cluster Ray already runs one worker per reserved CPU.
"""

from __future__ import annotations

import logging
import os

import ray

logger = logging.getLogger(__name__)

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

# Whether init_ray joined a running cluster (an address, or RAY_ADDRESS as inside a Ray job) rather than
# starting a private instance for this process.
_joined = False


def init_ray(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None) -> None:
    """Join the cluster at ``address`` (``"auto"`` for the local one) or start a local Ray instance.

    A no-op when Ray is already initialised in this process (tests start it once per session).
    """
    global _joined
    if ray.is_initialized():
        return
    _joined = bool(address or os.environ.get("RAY_ADDRESS"))
    kwargs = {"address": address} if address else {"num_cpus": num_cpus, "num_gpus": num_gpus}
    ray.init(
        **kwargs,
        include_dashboard=False,
        # Worker logs would interleave with the progress bars; failures are reported by the driver.
        log_to_driver=False,
        runtime_env={"env_vars": SINGLE_THREAD_ENV},
    )
    logger.info("Ray resources: %s", ray.cluster_resources())


def joined_cluster() -> bool:
    """Whether this process's Ray is a cluster that :func:`init_ray` joined (``--address``, or a Ray job's
    driver, which finds its cluster through ``RAY_ADDRESS``), not a private local instance.

    ``tbt train`` runs its evaluations as Ray tasks there, so that they spread over the cluster's nodes; on
    a private instance every task would share the driver's machine, where threads start faster.
    """
    return _joined and ray.is_initialized()
