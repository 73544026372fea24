"""The Ray ``runtime_env`` that ships this checkout to a cluster with a job.

The cluster's nodes already hold the project's dependencies (the project's image, ``cluster/Dockerfile``,
on the launcher's nodes and KubeRay's pods); what travels with each job is the code, so that a job runs the
submitter's working copy rather than whatever version a node was set up with. The checkout goes as the
``working_dir``: Ray unpacks it on every node, makes it the current folder of the job's driver and of every
worker, and puts it first on their ``sys.path``, so it shadows a node's installed copy. ``py_modules`` would
ship the same packages a second time, and ``pip`` would rebuild torch for every job.

Thread settings are deliberately absent: :func:`cluster.ray_runtime.init_ray` sets them for every worker
when the driver joins the cluster, and Ray refuses to start a driver whose ``ray.init`` sets an
environment variable that the job's ``runtime_env`` sets too, even to the same value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from cluster.ray_runtime import SINGLE_THREAD_ENV

__all__ = ["JOB_ENV_VARS", "WORKING_DIR_EXCLUDES", "default_working_dir", "project_runtime_env"]

# Ray matches these gitignore-style patterns against paths relative to the working_dir. Runs, caches and
# large binaries stay home: Ray refuses packages above 512 MiB and every job re-uploads what changed.
WORKING_DIR_EXCLUDES: tuple[str, ...] = (
    ".git/",
    "/runs/",
    "/outputs/",
    "/data/",
    "__pycache__/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".hypothesis/",
    ".benchmarks/",
    "*.egg-info/",
    "/build/",
    "/dist/",
    ".venv/",
    "*.pth",
    "*.pt",
    "*.ckpt",
    "*.onnx",
    "*.parquet",
    "*.npz",
    "*.mp4",
    "*.avi",
    "*.zip",
    "*.tar",
    "*.tar.gz",
)

# Python buffers a piped stdout by the block; unbuffered, `tbt submit` shows progress as it happens.
JOB_ENV_VARS: dict[str, str] = {"PYTHONUNBUFFERED": "1"}

_PACKAGE_MARKER = "pyproject.toml"


def default_working_dir() -> Path:
    """The checkout this module belongs to (the folder holding ``pyproject.toml``).

    Raises:
        FileNotFoundError: the project is installed as a wheel, so there is no checkout to ship.
    """
    root = Path(__file__).resolve().parents[1]
    if not (root / _PACKAGE_MARKER).is_file():
        raise FileNotFoundError(
            f"no checkout to ship: {root} holds no {_PACKAGE_MARKER} (the project is installed as a "
            "package, not editable); pass working_dir= (or --working-dir) pointing at a checkout"
        )
    return root


def project_runtime_env(
    extra_env_vars: Mapping[str, str] | None = None, working_dir: str | Path | None = None
) -> dict:
    """A ``runtime_env`` for ``JobSubmissionClient.submit_job`` that ships the project's code.

    Args:
        extra_env_vars: more environment variables for the job's driver and workers (dataset roots,
            ``TBT_DATA_ROOT``, ...). They may not set the thread variables, which ``init_ray`` owns.
        working_dir: the checkout to ship; default the one this module was imported from.

    Raises:
        ValueError: ``extra_env_vars`` sets a thread variable, or a value is not a string.
        FileNotFoundError: ``working_dir`` is not a folder (or there is no default checkout).
    """
    root = Path(working_dir) if working_dir is not None else default_working_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"working_dir {root} is not a folder")
    env_vars = dict(JOB_ENV_VARS)
    for key, value in (extra_env_vars or {}).items():
        if key in SINGLE_THREAD_ENV:
            raise ValueError(
                f"{key} is set for every worker by cluster.ray_runtime.init_ray when the job's driver "
                "joins the cluster; setting it in the job's runtime_env too makes Ray refuse to start "
                "the driver"
            )
        if not isinstance(value, str):
            raise ValueError(f"environment variable {key} must be a string, got {value!r}")
        env_vars[key] = value
    return {
        "working_dir": str(root.resolve()),
        "excludes": list(WORKING_DIR_EXCLUDES),
        "env_vars": env_vars,
    }
