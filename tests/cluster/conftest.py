"""Fixtures for the cluster tests: a throwaway Ray head that serves the Jobs API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.local_ray_head import LocalRayHead


def _default_address_file() -> Path:
    """Where a plain ``ray.init()`` looks for a running cluster to join."""
    from ray._common.utils import get_ray_address_file

    return Path(get_ray_address_file(None))


@pytest.fixture(scope="module")
def local_job_server():
    """A two-CPU Ray head with the dashboard, without token auth; stopped and checked for leftovers after.

    Two CPUs: a shortened ``tbt train`` job holds one with its env runner and validates on the other.
    """
    head = LocalRayHead(num_cpus=2, auth_mode="disabled").start()
    gcs_port = str(head.ports["--port"])
    yield head
    head.stop()  # raises if any of its processes survived
    assert not head.temp_dir.exists(), f"session files left in {head.temp_dir}"
    address_file = _default_address_file()
    assert not (address_file.is_file() and gcs_port in address_file.read_text()), (
        f"{address_file} points at the stopped test cluster: the next ray.init() would try to join it"
    )


@pytest.fixture
def settled_ray_session(ray_session):
    """The session's Ray instance once its monitor has reported, so that whether an autoscaler runs (none
    does here) is known rather than still undecided, as it is in the first seconds after Ray starts."""
    import time

    from tracking_by_trackers.cluster.cluster_resources import cluster_capacity

    deadline = time.monotonic() + 30
    while cluster_capacity().autoscaling is None:
        if time.monotonic() > deadline:
            raise TimeoutError("Ray's monitor wrote no status report within 30 s")
        time.sleep(0.5)
    return ray_session
