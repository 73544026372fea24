"""The Ray ``runtime_env`` that ships this checkout to a cluster with a job.

The cluster's nodes already hold the project's dependencies (the project's image, ``cluster/Dockerfile``,
on the launcher's nodes and KubeRay's pods); what travels with each job is the code, so that a job runs the
submitter's working copy rather than whatever version a node was set up with. Two parts travel:

- the code, as ``py_modules``: the checkout's package folders under the one name they are installed as,
  ``tracking_by_trackers/<folder>``. The repository keeps the folders at its top level, so this name is
  staged as a folder of symbolic links (Ray's packaging follows them). Ray puts the unpacked package first
  on the ``sys.path`` of the job's driver and of every worker, where it shadows a node's installed copy.
- the checkout, as the ``working_dir``: the configs, docs and examples that commands name by relative
  path (``tbt train --config configs/...``). Ray makes it the current folder of the driver and workers.

Thread settings are deliberately absent: :func:`tracking_by_trackers.cluster.ray_runtime.init_ray` sets them
for every worker when the driver joins the cluster, and Ray refuses to start a driver whose ``ray.init``
sets an environment variable that the job's ``runtime_env`` sets too, even to the same value.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from tracking_by_trackers.cluster.ray_runtime import SINGLE_THREAD_ENV

__all__ = [
    "CODE_PACKAGE",
    "CODE_FOLDERS",
    "JOB_ENV_VARS",
    "WORKING_DIR_EXCLUDES",
    "default_working_dir",
    "project_runtime_env",
    "stage_code_package",
]

# The name the package folders install under (pyproject.toml's package-dir) and the folders themselves.
CODE_PACKAGE = "tracking_by_trackers"
CODE_FOLDERS: tuple[str, ...] = ("envs", "policies", "teachers", "cluster", "experiments")

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


def stage_code_package(checkout: str | Path, staging_dir: str | Path | None = None) -> Path:
    """A folder ``<staging_dir>/tracking_by_trackers`` whose entries link to ``checkout``'s package folders.

    The folder is what ``py_modules`` ships: Ray packs the linked files (it follows the links), so the job
    imports ``tracking_by_trackers.envs`` from the submitter's checkout. ``staging_dir`` defaults to a new
    temporary folder; it must outlive the submission (Ray packs it when the job is submitted).

    Raises:
        FileNotFoundError: ``checkout`` lacks one of the package folders.
    """
    checkout = Path(checkout).resolve()
    missing = [name for name in CODE_FOLDERS if not (checkout / name / "__init__.py").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{checkout} is not a checkout of this project: no package folder {', '.join(missing)}"
        )
    root = Path(staging_dir) if staging_dir is not None else Path(tempfile.mkdtemp(prefix="tbt-code-"))
    package = root / CODE_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    for name in CODE_FOLDERS:
        link = package / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(checkout / name, target_is_directory=True)
    return package


def project_runtime_env(
    extra_env_vars: Mapping[str, str] | None = None,
    working_dir: str | Path | None = None,
    staging_dir: str | Path | None = None,
) -> dict:
    """A ``runtime_env`` for ``JobSubmissionClient.submit_job`` that ships the project's code.

    Args:
        extra_env_vars: more environment variables for the job's driver and workers (dataset roots,
            ``TBT_DATA_ROOT``, ...). They may not set the thread variables, which ``init_ray`` owns.
        working_dir: the checkout to ship; default the one this module was imported from.
        staging_dir: where :func:`stage_code_package` stages the code (default a new temporary folder).

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
                f"{key} is set for every worker by tracking_by_trackers.cluster.ray_runtime.init_ray when the job's driver "
                "joins the cluster; setting it in the job's runtime_env too makes Ray refuse to start "
                "the driver"
            )
        if not isinstance(value, str):
            raise ValueError(f"environment variable {key} must be a string, got {value!r}")
        env_vars[key] = value
    return {
        "working_dir": str(root.resolve()),
        "py_modules": [str(stage_code_package(root, staging_dir))],
        "excludes": list(WORKING_DIR_EXCLUDES),
        "env_vars": env_vars,
    }
