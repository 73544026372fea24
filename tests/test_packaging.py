"""The install layout: the repository's package folders install under ``tracking_by_trackers`` only."""

from __future__ import annotations

import ast

import tomllib

from tests.conftest import REPO_ROOT
from tracking_by_trackers.cluster.runtime_env import CODE_FOLDERS, CODE_PACKAGE


def _setuptools() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_installed_under_the_distribution_name():
    folders = sorted(
        ".".join(path.parent.relative_to(REPO_ROOT).parts)
        for top in CODE_FOLDERS
        for path in (REPO_ROOT / top).rglob("__init__.py")
    )
    assert sorted(_setuptools()["packages"]) == [f"{CODE_PACKAGE}.{folder}" for folder in folders]
    assert _setuptools()["package-dir"] == {f"{CODE_PACKAGE}.{top}": top for top in CODE_FOLDERS}


def test_no_module_imports_a_folder_by_its_bare_name():
    offenders = []
    for path in sorted(REPO_ROOT.rglob("*.py")):
        if any(
            part.startswith(".") or part in {"build", "runs"} for part in path.relative_to(REPO_ROOT).parts
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(REPO_ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in CODE_FOLDERS
            ]
    assert offenders == []


def test_the_installed_names_resolve_to_this_checkout():
    import tracking_by_trackers.envs.boxes as boxes
    import tracking_by_trackers.experiments.cli as cli

    assert boxes.__file__ == str(REPO_ROOT / "envs" / "boxes.py")
    assert cli.__file__ == str(REPO_ROOT / "experiments" / "cli.py")
