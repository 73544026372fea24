"""Check a Ray cluster-launcher config before ``ray up`` spends money on it.

Three layers: the file as written against Ray's own schema (``ray/autoscaler/ray-schema.json``); the config
as ``ray up`` sees it after filling in the provider's defaults, through Ray's own ``validate_config``; and
what neither catches but a launched cluster trips over: a node type whose ``min_workers`` exceeds its
``max_workers``, nodes that disagree on the token-authentication mode or never receive the token, and an
AWS node type without an ``ImageId``, which Ray fills with its default Deep Learning AMI (Ubuntu 18.04),
whose NVIDIA driver cannot run the CUDA 13 that torch 2.13's wheels bring.

Usage: ``python -m tracking_by_trackers.cluster.launcher_checks cluster/launcher/aws.yaml``.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

__all__ = ["LauncherConfigError", "check_launcher_config", "launcher_schema", "main"]

# `RAY_AUTH_MODE=token ray start ...` or `export RAY_AUTH_MODE=token`.
_AUTH_MODE_SETTING = re.compile(r"\bRAY_AUTH_MODE=['\"]?(\w+)")
_TOKEN_FILE = "~/.ray/auth_token"
_TOKEN_VARIABLES = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
_UNSET = "unset (Ray's default)"


class LauncherConfigError(ValueError):
    """The config would be refused by ``ray up``, or would start a cluster that cannot work."""


def launcher_schema() -> dict:
    """Ray's JSON schema for cluster-launcher configs, from the installed Ray."""
    import ray.autoscaler

    return json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())


def check_launcher_config(config: dict | str | Path) -> dict:
    """Check a launcher config (a mapping, or the path of its YAML file) the way ``ray up`` would.

    Returns:
        The config with the provider's defaults filled in, as ``ray up`` would use it.

    Raises:
        LauncherConfigError: what is wrong, with the path of the offending field.
    """
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    if not isinstance(config, dict):
        config = _load_yaml(Path(config))
    try:
        jsonschema.validate(config, launcher_schema())
    except jsonschema.ValidationError as error:
        where = ".".join(str(part) for part in error.absolute_path) or "the top level"
        raise LauncherConfigError(f"not a valid Ray launcher config at {where}: {error.message}") from None
    try:
        prepared = prepare_config(copy.deepcopy(config))
        validate_config(prepared)
    except (ValueError, RuntimeError, KeyError) as error:
        raise LauncherConfigError(f"Ray refuses the config: {error}") from None
    problems = _node_type_range_problems(prepared) + _auth_problems(prepared) + _ami_problems(config)
    if problems:
        raise LauncherConfigError("; ".join(problems))
    return prepared


def _load_yaml(path: Path) -> dict:
    if not path.is_file():
        raise LauncherConfigError(f"launcher config {path} not found")
    config = yaml.safe_load(path.read_text())
    if not isinstance(config, dict):
        raise LauncherConfigError(f"launcher config {path} must hold a mapping")
    return config


def _node_type_range_problems(config: dict) -> list[str]:
    problems = []
    for name, node_type in config.get("available_node_types", {}).items():
        low, high = node_type.get("min_workers", 0), node_type.get("max_workers", config["max_workers"])
        if low > high:
            problems.append(f"available_node_types.{name}: min_workers ({low}) exceeds max_workers ({high})")
    return problems


def _ami_problems(config: dict) -> list[str]:
    """Every AWS node type names its AMI (``ray up`` would give a type without one Ray's old default)."""
    if config.get("provider", {}).get("type") != "aws":
        return []
    missing = [
        name
        for name, node_type in config.get("available_node_types", {}).items()
        if str(node_type.get("node_config", {}).get("ImageId", "")).lower() in ("", "latest_dlami")
    ]
    if not missing:
        return []
    return [
        f"available_node_types {', '.join(missing)}: no node_config.ImageId, so Ray would launch its default "
        "Deep Learning AMI (Ubuntu 18.04), whose NVIDIA driver predates the CUDA 13 of torch 2.13's wheels; "
        "name an AMI with a 580-series driver (see cluster/launcher/aws.yaml)"
    ]


def _auth_problems(config: dict) -> list[str]:
    """Every ``ray start`` must set the same RAY_AUTH_MODE, and token mode needs the token on every node."""
    modes = {}
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        found = _auth_modes(config.get(key, []))
        if len(found) > 1:
            return [f"{key} sets RAY_AUTH_MODE to {' and '.join(sorted(found))}; set it once"]
        modes[key] = found.pop() if found else _UNSET
    head, workers = modes["head_start_ray_commands"], modes["worker_start_ray_commands"]
    if head != workers:
        return [
            f"RAY_AUTH_MODE differs between the head ({head}) and the workers ({workers}): nodes with "
            "different auth modes cannot form one cluster; set the same value in head_start_ray_commands "
            "and worker_start_ray_commands"
        ]
    if head == "token" and not _ships_token(config):
        return [
            "token authentication is on but no token reaches the nodes: add "
            f'"{_TOKEN_FILE}": "{_TOKEN_FILE}" to file_mounts (after `ray get-auth-token --generate`), '
            f"or set {' or '.join(_TOKEN_VARIABLES)} in the start commands"
        ]
    return []


def _auth_modes(commands: Sequence[str]) -> set[str]:
    """The values ``commands`` give RAY_AUTH_MODE."""
    return {match.group(1) for command in commands for match in _AUTH_MODE_SETTING.finditer(command)}


def _ships_token(config: dict) -> bool:
    if _TOKEN_FILE in config.get("file_mounts", {}):
        return True
    commands = config.get("head_start_ray_commands", []) + config.get("worker_start_ray_commands", [])
    return any(variable in command for variable in _TOKEN_VARIABLES for command in commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Check each config named on the command line; 0 when all pass, 1 otherwise."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print(
            "usage: python -m tracking_by_trackers.cluster.launcher_checks CONFIG.yaml [...]", file=sys.stderr
        )
        return 2
    failed = 0
    for path in paths:
        try:
            check_launcher_config(path)
        except LauncherConfigError as error:
            failed += 1
            print(f"{path}: {error}", file=sys.stderr)
        else:
            print(f"{path}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
