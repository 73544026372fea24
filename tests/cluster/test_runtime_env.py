"""The runtime_env that ships the checkout: what goes, what stays home, and which variables it sets."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml

from cluster.ray_runtime import SINGLE_THREAD_ENV
from cluster.runtime_env import JOB_ENV_VARS, WORKING_DIR_EXCLUDES, default_working_dir, project_runtime_env
from tests.conftest import REPO_ROOT

PACKAGES = ("envs", "teachers", "policies", "experiments", "cluster")


def shipped_files(runtime_env: dict, tmp_path: Path) -> set[str]:
    """The files Ray's own packaging puts in the job's working_dir package (.gitignore aside)."""
    from ray._private.runtime_env.packaging import create_package

    package = tmp_path / "package.zip"
    create_package(
        runtime_env["working_dir"], package, include_gitignore=False, excludes=runtime_env["excludes"]
    )
    with zipfile.ZipFile(package) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


def make_checkout(root: Path) -> Path:
    files = [
        "pyproject.toml",
        "envs/boxes.py",
        "policies/kdrl/torch/model.py",
        "cluster/runtime_env.yaml",
        "runs/train/checkpoint/state.pkl",
        ".git/HEAD",
        "envs/__pycache__/boxes.cpython-311.pyc",
        ".pytest_cache/v/cache",
        "weights/resnet18-f37072fd.pth",
        "transfer_set/kcf.parquet",
        "tracking_by_trackers.egg-info/PKG-INFO",
    ]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    return root


def test_default_working_dir_is_this_checkout():
    assert default_working_dir() == REPO_ROOT
    assert project_runtime_env()["working_dir"] == str(REPO_ROOT)


def test_the_project_packages_are_shipped(tmp_path):
    files = shipped_files(project_runtime_env(), tmp_path)
    for package in PACKAGES:
        assert f"{package}/__init__.py" in files
    assert "pyproject.toml" in files
    assert not any(name.startswith(("runs/", ".git/")) or "__pycache__" in name for name in files)


def test_runs_caches_and_large_files_stay_home(tmp_path):
    checkout = make_checkout(tmp_path / "checkout")
    files = shipped_files(project_runtime_env(working_dir=checkout), tmp_path)
    assert files == {
        "pyproject.toml",
        "envs/boxes.py",
        "policies/kdrl/torch/model.py",
        "cluster/runtime_env.yaml",
    }


def test_job_env_vars_leave_the_thread_settings_to_init_ray():
    env_vars = project_runtime_env()["env_vars"]
    assert env_vars == JOB_ENV_VARS
    assert not set(env_vars) & set(SINGLE_THREAD_ENV)


def test_extra_env_vars_are_added():
    env_vars = project_runtime_env(extra_env_vars={"TBT_DATA_ROOT": "/mnt/tbt/data"})["env_vars"]
    assert env_vars == {**JOB_ENV_VARS, "TBT_DATA_ROOT": "/mnt/tbt/data"}


def test_a_thread_variable_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="OMP_NUM_THREADS is set for every worker by cluster.ray_runtime"):
        project_runtime_env(extra_env_vars={"OMP_NUM_THREADS": "4"})


def test_a_non_string_variable_is_refused():
    with pytest.raises(ValueError, match="TBT_SEED must be a string"):
        project_runtime_env(extra_env_vars={"TBT_SEED": 1})


def test_a_missing_working_dir_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        project_runtime_env(working_dir=tmp_path / "absent")


def test_the_yaml_example_matches_the_function():
    example = yaml.safe_load((REPO_ROOT / "cluster" / "runtime_env.yaml").read_text())
    assert example == {
        "working_dir": ".",
        "excludes": list(WORKING_DIR_EXCLUDES),
        "env_vars": JOB_ENV_VARS,
    }
