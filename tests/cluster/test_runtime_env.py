"""The runtime_env that ships the checkout: what goes, what stays home, and which variables it sets."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tracking_by_trackers.cluster.ray_runtime import SINGLE_THREAD_ENV
from tracking_by_trackers.cluster.runtime_env import (
    JOB_ENV_VARS,
    WORKING_DIR_EXCLUDES,
    default_working_dir,
    project_runtime_env,
    stage_code_package,
)

PACKAGES = ("envs", "teachers", "policies", "experiments", "cluster")


def packed_files(
    folder: str, excludes: list[str], tmp_path: Path, include_parent_dir: bool = False
) -> set[str]:
    """The files Ray's own packaging puts in the package of ``folder`` (.gitignore aside)."""
    from ray._private.runtime_env.packaging import create_package

    package = tmp_path / f"{Path(folder).name}.zip"
    create_package(
        folder, package, include_parent_dir=include_parent_dir, include_gitignore=False, excludes=excludes
    )
    with zipfile.ZipFile(package) as archive:
        return {name for name in archive.namelist() if not name.endswith("/")}


def shipped_files(runtime_env: dict, tmp_path: Path) -> set[str]:
    """The files of the job's working_dir package."""
    return packed_files(runtime_env["working_dir"], runtime_env["excludes"], tmp_path)


def shipped_code(runtime_env: dict, tmp_path: Path) -> set[str]:
    """The files of the job's py_modules package, as Ray packs it (under the package's own name)."""
    [code] = runtime_env["py_modules"]
    return packed_files(code, runtime_env["excludes"], tmp_path, include_parent_dir=True)


def make_checkout(root: Path) -> Path:
    files = [
        "pyproject.toml",
        "envs/boxes.py",
        "policies/kdrl/torch/model.py",
        "cluster/train_paper_got10k.yaml",
        "envs/__init__.py",
        "policies/__init__.py",
        "teachers/__init__.py",
        "cluster/__init__.py",
        "experiments/__init__.py",
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


def test_the_project_packages_are_shipped_under_their_installed_name(tmp_path):
    runtime_env = project_runtime_env(staging_dir=tmp_path / "staged")
    code = shipped_code(runtime_env, tmp_path)
    for package in PACKAGES:
        assert f"tracking_by_trackers/{package}/__init__.py" in code
    assert "tracking_by_trackers/experiments/cli.py" in code
    assert not any("__pycache__" in name for name in code)
    files = shipped_files(runtime_env, tmp_path)
    assert {"pyproject.toml", "cluster/train_paper_got10k.yaml"} <= files  # configs named by relative path
    assert not any(name.startswith(("runs/", ".git/")) or "__pycache__" in name for name in files)


def test_the_staged_package_links_to_the_checkout(tmp_path):
    package = stage_code_package(REPO_ROOT, tmp_path)
    assert package == tmp_path / "tracking_by_trackers"
    assert sorted(p.name for p in package.iterdir()) == sorted(PACKAGES)
    assert (package / "envs" / "boxes.py").resolve() == REPO_ROOT / "envs" / "boxes.py"
    assert stage_code_package(REPO_ROOT, tmp_path) == package  # staging again replaces the links


def test_a_folder_that_is_no_checkout_is_refused(tmp_path):
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("")
    with pytest.raises(FileNotFoundError, match="not a checkout of this project: no package folder policies"):
        stage_code_package(tmp_path)


def test_runs_caches_and_large_files_stay_home(tmp_path):
    checkout = make_checkout(tmp_path / "checkout")
    runtime_env = project_runtime_env(working_dir=checkout, staging_dir=tmp_path / "staged")
    assert shipped_files(runtime_env, tmp_path) == {
        "pyproject.toml",
        "envs/__init__.py",
        "envs/boxes.py",
        "policies/__init__.py",
        "policies/kdrl/torch/model.py",
        "teachers/__init__.py",
        "cluster/__init__.py",
        "cluster/train_paper_got10k.yaml",
        "experiments/__init__.py",
    }
    assert shipped_code(runtime_env, tmp_path) == {
        "tracking_by_trackers/envs/__init__.py",
        "tracking_by_trackers/envs/boxes.py",
        "tracking_by_trackers/policies/__init__.py",
        "tracking_by_trackers/policies/kdrl/torch/model.py",
        "tracking_by_trackers/teachers/__init__.py",
        "tracking_by_trackers/cluster/__init__.py",
        "tracking_by_trackers/cluster/train_paper_got10k.yaml",
        "tracking_by_trackers/experiments/__init__.py",
    }


def test_job_env_vars_leave_the_thread_settings_to_init_ray():
    env_vars = project_runtime_env()["env_vars"]
    assert env_vars == JOB_ENV_VARS
    assert not set(env_vars) & set(SINGLE_THREAD_ENV)


def test_extra_env_vars_are_added():
    env_vars = project_runtime_env(extra_env_vars={"TBT_DATA_ROOT": "/mnt/tbt/data"})["env_vars"]
    assert env_vars == {**JOB_ENV_VARS, "TBT_DATA_ROOT": "/mnt/tbt/data"}


def test_a_thread_variable_is_refused_with_the_reason():
    with pytest.raises(
        ValueError,
        match="OMP_NUM_THREADS is set for every worker by tracking_by_trackers.cluster.ray_runtime",
    ):
        project_runtime_env(extra_env_vars={"OMP_NUM_THREADS": "4"})


def test_a_non_string_variable_is_refused():
    with pytest.raises(ValueError, match="TBT_SEED must be a string"):
        project_runtime_env(extra_env_vars={"TBT_SEED": 1})


def test_a_missing_working_dir_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        project_runtime_env(working_dir=tmp_path / "absent")


def test_tbt_submit_prints_the_runtime_env_for_rays_own_tools(capsys):
    import json

    from tracking_by_trackers.experiments.cli import main

    assert main(["submit", "--print-runtime-env"]) == 0
    runtime_env = json.loads(capsys.readouterr().out)
    assert runtime_env["working_dir"] == str(REPO_ROOT)
    assert runtime_env["excludes"] == list(WORKING_DIR_EXCLUDES) and runtime_env["env_vars"] == JOB_ENV_VARS
    [code] = runtime_env["py_modules"]
    assert Path(code).name == "tracking_by_trackers" and (Path(code) / "envs").resolve() == REPO_ROOT / "envs"
