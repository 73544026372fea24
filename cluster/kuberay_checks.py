"""Check KubeRay manifests (RayCluster, RayJob) for what the operator needs, before ``kubectl apply``.

The CRDs' OpenAPI schema lives in the cluster, not here, so this checks by hand the fields KubeRay cannot
do without and the mistakes that only show once pods are scheduled: ``rayStartParams`` values that are not
strings, custom resources that are not KubeRay's quoted JSON, GPUs asked for without an ``nvidia.com/gpu``
limit, replica ranges upside down, Ray containers that disagree on the auth mode, a RayJob without an
entrypoint or with a ``runtimeEnvYAML`` that is no mapping.

Usage: ``python -m tracking_by_trackers.cluster.kuberay_checks cluster/kuberay/*.yaml``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "API_VERSION",
    "GPU_RESOURCE",
    "ManifestError",
    "check_manifest",
    "check_manifest_file",
    "custom_resources",
    "main",
    "manifest_problems",
]

API_VERSION = "ray.io/v1"
GPU_RESOURCE = "nvidia.com/gpu"
_KINDS = ("RayCluster", "RayJob")
# Kubernetes object names (RFC 1123 subdomain); KubeRay derives service and pod names from it.
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_UNSET = "unset"


class ManifestError(ValueError):
    """A manifest KubeRay would refuse or run wrongly; ``problems`` lists every finding."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{source}:\n" + "\n".join(f"  - {problem}" for problem in self.problems))


def check_manifest_file(path: str | Path) -> list[dict]:
    """Check every RayCluster and RayJob in a YAML file (other documents, e.g. a Secret, are skipped).

    Returns:
        The Ray documents of the file.

    Raises:
        ManifestError: the file is missing, holds no Ray document, or a Ray document has problems.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(str(path), ["file not found"])
    documents = [document for document in yaml.safe_load_all(path.read_text()) if document is not None]
    ray_documents = [document for document in documents if _is_ray_document(document)]
    if not ray_documents:
        raise ManifestError(str(path), [f"no {' or '.join(_KINDS)} with apiVersion ray.io/... in the file"])
    problems = []
    for document in ray_documents:
        name = document.get("metadata", {}).get("name", "?") if isinstance(document, dict) else "?"
        problems += [f"{document.get('kind')} {name}: {problem}" for problem in manifest_problems(document)]
    if problems:
        raise ManifestError(str(path), problems)
    return ray_documents


def check_manifest(manifest: dict) -> None:
    """Raise :class:`ManifestError` if :func:`manifest_problems` finds anything."""
    problems = manifest_problems(manifest)
    if problems:
        raise ManifestError(
            f"{manifest.get('kind')} {manifest.get('metadata', {}).get('name', '?')}", problems
        )


def manifest_problems(manifest: Any) -> list[str]:
    """Everything wrong with one RayCluster or RayJob manifest, each with the path of its field."""
    if not isinstance(manifest, dict):
        return ["a manifest must be a mapping"]
    problems = []
    if manifest.get("apiVersion") != API_VERSION:
        problems.append(f"apiVersion must be {API_VERSION}, got {manifest.get('apiVersion')!r}")
    name = _get(manifest, "metadata", "name") or _get(manifest, "metadata", "generateName")
    if not isinstance(name, str) or not _NAME.match(name.rstrip("-")):
        problems.append(f"metadata.name must be a lowercase DNS name (a-z, 0-9, '-'), got {name!r}")
    spec = manifest.get("spec")
    kind = manifest.get("kind")
    if not isinstance(spec, dict):
        return problems + ["spec is missing"]
    if kind == "RayCluster":
        problems += _ray_cluster_spec_problems(spec, "spec")
    elif kind == "RayJob":
        problems += _ray_job_spec_problems(spec)
    else:
        problems.append(f"kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    return problems


def _is_ray_document(document: Any) -> bool:
    return isinstance(document, dict) and (
        str(document.get("apiVersion", "")).startswith("ray.io/") or document.get("kind") in _KINDS
    )


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _ray_job_spec_problems(spec: dict) -> list[str]:
    problems = []
    if spec.get("submissionMode") != "InteractiveMode" and not str(spec.get("entrypoint") or "").strip():
        problems.append("spec.entrypoint is missing: the command the job runs, e.g. tbt train ...")
    for flag in ("shutdownAfterJobFinishes", "suspend"):
        if flag in spec and not isinstance(spec[flag], bool):
            problems.append(f"spec.{flag} must be true or false, got {spec[flag]!r}")
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is not None and (not isinstance(ttl, int) or ttl < 0):
        problems.append(f"spec.ttlSecondsAfterFinished must be a non-negative integer, got {ttl!r}")
    if "runtimeEnvYAML" in spec:
        problems += _runtime_env_yaml_problems(spec["runtimeEnvYAML"])
    has_cluster, has_selector = "rayClusterSpec" in spec, "clusterSelector" in spec
    if has_cluster == has_selector:
        problems.append(
            "spec needs exactly one of rayClusterSpec (a cluster for this job) and clusterSelector "
            "(an existing cluster)"
        )
    elif has_cluster:
        if isinstance(spec["rayClusterSpec"], dict):
            problems += _ray_cluster_spec_problems(spec["rayClusterSpec"], "spec.rayClusterSpec")
        else:
            problems.append("spec.rayClusterSpec must be a mapping")
    return problems


def _runtime_env_yaml_problems(text: Any) -> list[str]:
    # KubeRay passes the string on to `ray job submit`; a mapping here would be rejected by the CRD.
    if not isinstance(text, str):
        return ["spec.runtimeEnvYAML must be a string holding YAML (use `runtimeEnvYAML: |`)"]
    try:
        runtime_env = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [f"spec.runtimeEnvYAML is not valid YAML: {error}"]
    if not isinstance(runtime_env, dict):
        return ["spec.runtimeEnvYAML must hold a mapping (working_dir:, env_vars:, ...)"]
    return []


def _ray_cluster_spec_problems(spec: dict, where: str) -> list[str]:
    problems = []
    head = spec.get("headGroupSpec")
    if not isinstance(head, dict):
        return problems + [f"{where}.headGroupSpec is missing"]
    problems += _group_problems(head, f"{where}.headGroupSpec")
    workers = spec.get("workerGroupSpecs", [])
    if not isinstance(workers, list):
        return problems + [f"{where}.workerGroupSpecs must be a list"]
    names = [group.get("groupName") for group in workers if isinstance(group, dict)]
    for duplicate in sorted({name for name in names if names.count(name) > 1 and name}):
        problems.append(f"{where}.workerGroupSpecs: groupName {duplicate!r} is used twice")
    for index, group in enumerate(workers):
        label = f"{where}.workerGroupSpecs[{index}]"
        if not isinstance(group, dict):
            problems.append(f"{label} must be a mapping")
            continue
        if not group.get("groupName"):
            problems.append(f"{label}.groupName is missing")
        problems += _replica_problems(group, label)
        problems += _group_problems(group, label)
    problems += _auth_mode_problems(
        spec, [head, *[group for group in workers if isinstance(group, dict)]], where
    )
    return problems


def _replica_problems(group: dict, label: str) -> list[str]:
    counts = {key: group.get(key) for key in ("replicas", "minReplicas", "maxReplicas")}
    bad = [key for key, value in counts.items() if not isinstance(value, int) or value < 0]
    if bad:
        return [f"{label}.{key} must be a non-negative integer, got {counts[key]!r}" for key in bad]
    if not counts["minReplicas"] <= counts["replicas"] <= counts["maxReplicas"]:
        return [
            f"{label}: need minReplicas <= replicas <= maxReplicas, got {counts['minReplicas']}, "
            f"{counts['replicas']}, {counts['maxReplicas']}"
        ]
    return []


def _group_problems(group: dict, label: str) -> list[str]:
    problems = _ray_start_params_problems(group.get("rayStartParams"), f"{label}.rayStartParams")
    containers = _get(group, "template", "spec", "containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        return problems + [f"{label}.template.spec.containers is missing: KubeRay runs Ray in the first one"]
    ray_container = containers[0]
    for field in ("name", "image"):
        if not ray_container.get(field):
            problems.append(f"{label}.template.spec.containers[0].{field} is missing")
    problems += _gpu_problems(group, ray_container, label)
    return problems


def _ray_start_params_problems(params: Any, label: str) -> list[str]:
    if not isinstance(params, dict):
        return [f"{label} is missing (it may be empty: {{}})"]
    problems = [
        f"{label}.{key} must be a string (quote it: '{value}'), got {type(value).__name__}"
        for key, value in params.items()
        if not isinstance(value, str)
    ]
    if isinstance(params.get("resources"), str):
        try:
            custom_resources(params)
        except ValueError as error:
            problems.append(f"{label}.resources: {error}")
    return problems


def custom_resources(params: dict) -> dict[str, float]:
    """The custom resources in ``rayStartParams``, given in KubeRay's format ``'"{\\"name\\": 1}"'``.

    Raises:
        ValueError: the value is not a JSON object of numbers inside a quoted string.
    """
    text = params.get("resources")
    if text is None:
        return {}
    example = '\'"{\\"learner_node\\": 1}"\''
    inner = text.strip()
    if not (inner.startswith('"') and inner.endswith('"')):
        raise ValueError(f"must be a JSON object inside double quotes, like {example}; got {text!r}")
    try:
        resources = json.loads(json.loads(inner))
    except (json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"is not a quoted JSON object like {example}: {error}") from None
    if not isinstance(resources, dict) or not all(
        isinstance(amount, (int, float)) and not isinstance(amount, bool) for amount in resources.values()
    ):
        raise ValueError(f"must map resource names to numbers, got {resources!r}")
    return resources


def _gpu_problems(group: dict, container: dict, label: str) -> list[str]:
    """GPUs must be a container limit (Kubernetes schedules extended resources by their limit only)."""
    limits = _get(container, "resources", "limits") or {}
    requests = _get(container, "resources", "requests") or {}
    where = f"{label}.template.spec.containers[0].resources"
    problems = []
    if GPU_RESOURCE in requests and GPU_RESOURCE not in limits:
        problems.append(f"{where}: {GPU_RESOURCE} is requested but not in limits, where Kubernetes needs it")
    elif GPU_RESOURCE in requests and str(requests[GPU_RESOURCE]) != str(limits[GPU_RESOURCE]):
        problems.append(f"{where}: {GPU_RESOURCE} requests and limits must be equal")
    num_gpus = (group.get("rayStartParams") or {}).get("num-gpus")
    if num_gpus not in (None, "0") and GPU_RESOURCE not in limits:
        problems.append(
            f"{label}.rayStartParams.num-gpus is {num_gpus} but the container has no {GPU_RESOURCE} limit, "
            "so the pod gets no GPU"
        )
    return problems


def _auth_mode_problems(spec: dict, groups: list[dict], where: str) -> list[str]:
    """All Ray containers must run with one RAY_AUTH_MODE, or nodes cannot join the head."""
    modes = {}
    for group in groups:
        containers = _get(group, "template", "spec", "containers")
        if isinstance(containers, list) and containers and isinstance(containers[0], dict):
            env = {item.get("name"): item.get("value") for item in containers[0].get("env") or []}
            modes[group.get("groupName", "head")] = env.get("RAY_AUTH_MODE", _UNSET)
    declared = _get(spec, "authOptions", "mode")
    if declared:  # KubeRay sets RAY_AUTH_MODE and the token in every Ray container, unless one overrides it
        clashes = {group: mode for group, mode in modes.items() if mode not in (_UNSET, declared)}
        if clashes:
            listed = ", ".join(f"{group}={mode}" for group, mode in clashes.items())
            return [f"{where}: authOptions.mode is {declared} but RAY_AUTH_MODE is set otherwise in {listed}"]
        return []
    if len(set(modes.values())) > 1:
        listed = ", ".join(f"{group}={mode}" for group, mode in modes.items())
        return [
            f"{where}: RAY_AUTH_MODE differs between Ray containers ({listed}); set it identically in every "
            "group, or use authOptions: {mode: token} and let KubeRay set it"
        ]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Check each manifest file named on the command line; 0 when all pass, 1 otherwise."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print(
            "usage: python -m tracking_by_trackers.cluster.kuberay_checks MANIFEST.yaml [...]",
            file=sys.stderr,
        )
        return 2
    failed = 0
    for path in paths:
        try:
            documents = check_manifest_file(path)
        except ManifestError as error:
            failed += 1
            print(error, file=sys.stderr)
        else:
            print(f"{path}: ok ({', '.join(document['kind'] for document in documents)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
