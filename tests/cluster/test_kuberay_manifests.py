"""The KubeRay manifests carry what the operator needs, and the checker names what broken ones lack."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tracking_by_trackers.cluster.kuberay_checks import (
    GPU_RESOURCE,
    ManifestError,
    check_manifest,
    check_manifest_file,
    custom_resources,
    main,
    manifest_problems,
)

KUBERAY = REPO_ROOT / "cluster" / "kuberay"


@pytest.fixture(scope="module")
def ray_cluster() -> dict:
    return yaml.safe_load((KUBERAY / "raycluster.yaml").read_text())


@pytest.fixture(scope="module")
def ray_job() -> dict:
    return yaml.safe_load((KUBERAY / "rayjob.yaml").read_text())


def group(spec: dict, name: str) -> dict:
    return next(group for group in spec["workerGroupSpecs"] if group["groupName"] == name)


@pytest.mark.parametrize("name", ["raycluster.yaml", "rayjob.yaml"])
def test_manifests_pass_the_checks(name):
    (document,) = check_manifest_file(KUBERAY / name)
    assert document["apiVersion"] == "ray.io/v1"


@pytest.mark.parametrize("manifest", ["ray_cluster", "ray_job"])
def test_the_cluster_autoscales_a_gpu_learner_group_and_a_cpu_env_runner_group(manifest, request):
    document = request.getfixturevalue(manifest)
    spec = document["spec"] if document["kind"] == "RayCluster" else document["spec"]["rayClusterSpec"]
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["authOptions"] == {"mode": "token"}
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    gpu, cpu = group(spec, "gpu"), group(spec, "cpu")
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"][GPU_RESOURCE] == "1"
    assert custom_resources(gpu["rayStartParams"]) == {"learner_node": 1}
    assert custom_resources(cpu["rayStartParams"]) == {"env_runner_node": 1}
    assert GPU_RESOURCE not in cpu["template"]["spec"]["containers"][0]["resources"]["limits"]
    for worker in (gpu, cpu):
        assert worker["minReplicas"] < worker["maxReplicas"]


def test_the_job_runs_tbt_train_and_removes_its_cluster(ray_job):
    spec = ray_job["spec"]
    assert spec["entrypoint"].startswith("tbt train ")
    assert spec["shutdownAfterJobFinishes"] is True
    assert "OMP_NUM_THREADS" not in spec["runtimeEnvYAML"]  # init_ray owns it; see cluster/runtime_env.py


def test_the_command_line_reports_each_file(capsys):
    assert main([str(KUBERAY / "raycluster.yaml"), str(KUBERAY / "rayjob.yaml")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{KUBERAY / 'raycluster.yaml'}: ok (RayCluster)",
        f"{KUBERAY / 'rayjob.yaml'}: ok (RayJob)",
    ]


@pytest.fixture
def broken_cluster(ray_cluster):
    return copy.deepcopy(ray_cluster)


@pytest.fixture
def broken_job(ray_job):
    return copy.deepcopy(ray_job)


def test_an_old_api_version_is_named(broken_cluster):
    broken_cluster["apiVersion"] = "ray.io/v1alpha1"
    assert manifest_problems(broken_cluster) == ["apiVersion must be ray.io/v1, got 'ray.io/v1alpha1'"]


def test_a_missing_or_invalid_name_is_named(broken_cluster):
    broken_cluster["metadata"]["name"] = "TBT_cluster"
    assert manifest_problems(broken_cluster) == [
        "metadata.name must be a lowercase DNS name (a-z, 0-9, '-'), got 'TBT_cluster'"
    ]


def test_a_missing_head_container_image_is_named(broken_cluster):
    del broken_cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    assert manifest_problems(broken_cluster) == [
        "spec.headGroupSpec.template.spec.containers[0].image is missing"
    ]


def test_missing_ray_start_params_are_named(broken_cluster):
    del broken_cluster["spec"]["headGroupSpec"]["rayStartParams"]
    assert manifest_problems(broken_cluster) == [
        "spec.headGroupSpec.rayStartParams is missing (it may be empty: {})"
    ]


def test_an_unquoted_ray_start_param_is_named(broken_cluster):
    broken_cluster["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0
    assert manifest_problems(broken_cluster) == [
        "spec.headGroupSpec.rayStartParams.num-cpus must be a string (quote it: '0'), got int"
    ]


def test_custom_resources_not_in_kuberays_format_are_named(broken_cluster):
    group(broken_cluster["spec"], "gpu")["rayStartParams"]["resources"] = '{"learner_node": 1}'
    (problem,) = manifest_problems(broken_cluster)
    assert problem.startswith(
        "spec.workerGroupSpecs[1].rayStartParams.resources: must be a JSON object inside double quotes"
    )


def test_replicas_outside_their_range_are_named(broken_cluster):
    group(broken_cluster["spec"], "cpu")["replicas"] = 9
    assert manifest_problems(broken_cluster) == [
        "spec.workerGroupSpecs[0]: need minReplicas <= replicas <= maxReplicas, got 0, 9, 8"
    ]


def test_a_missing_group_name_and_max_replicas_are_named(broken_cluster):
    gpu = group(broken_cluster["spec"], "gpu")
    del gpu["groupName"], gpu["maxReplicas"]
    assert manifest_problems(broken_cluster) == [
        "spec.workerGroupSpecs[1].groupName is missing",
        "spec.workerGroupSpecs[1].maxReplicas must be a non-negative integer, got None",
    ]


def test_gpus_requested_without_a_limit_are_named(broken_cluster):
    gpu = group(broken_cluster["spec"], "gpu")
    del gpu["template"]["spec"]["containers"][0]["resources"]["limits"][GPU_RESOURCE]
    gpu["rayStartParams"]["num-gpus"] = "1"
    assert manifest_problems(broken_cluster) == [
        "spec.workerGroupSpecs[1].template.spec.containers[0].resources: nvidia.com/gpu is requested but "
        "not in limits, where Kubernetes needs it",
        "spec.workerGroupSpecs[1].rayStartParams.num-gpus is 1 but the container has no nvidia.com/gpu "
        "limit, so the pod gets no GPU",
    ]


def test_containers_that_disagree_on_the_auth_mode_are_named(broken_cluster):
    del broken_cluster["spec"]["authOptions"]
    head = broken_cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    head["env"] = [{"name": "RAY_AUTH_MODE", "value": "token"}]
    (problem,) = manifest_problems(broken_cluster)
    assert problem.startswith(
        "spec: RAY_AUTH_MODE differs between Ray containers (head=token, cpu=unset, gpu=unset)"
    )


def test_a_container_overriding_auth_options_is_named(broken_cluster):
    gpu = group(broken_cluster["spec"], "gpu")
    gpu["template"]["spec"]["containers"][0]["env"] = [{"name": "RAY_AUTH_MODE", "value": "disabled"}]
    assert manifest_problems(broken_cluster) == [
        "spec: authOptions.mode is token but RAY_AUTH_MODE is set otherwise in gpu=disabled"
    ]


def test_a_job_without_entrypoint_is_named(broken_job):
    del broken_job["spec"]["entrypoint"]
    assert manifest_problems(broken_job) == [
        "spec.entrypoint is missing: the command the job runs, e.g. tbt train ..."
    ]


def test_a_runtime_env_yaml_that_is_no_mapping_is_named(broken_job):
    broken_job["spec"]["runtimeEnvYAML"] = "- PYTHONUNBUFFERED=1\n"
    assert manifest_problems(broken_job) == [
        "spec.runtimeEnvYAML must hold a mapping (working_dir:, env_vars:, ...)"
    ]


def test_a_quoted_shutdown_flag_is_named(broken_job):
    broken_job["spec"]["shutdownAfterJobFinishes"] = "true"
    assert manifest_problems(broken_job) == [
        "spec.shutdownAfterJobFinishes must be true or false, got 'true'"
    ]


def test_problems_inside_the_jobs_cluster_carry_their_path(broken_job):
    del broken_job["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert manifest_problems(broken_job) == ["spec.rayClusterSpec.headGroupSpec is missing"]


def test_a_job_without_a_cluster_is_named(broken_job):
    del broken_job["spec"]["rayClusterSpec"]
    (problem,) = manifest_problems(broken_job)
    assert problem.startswith("spec needs exactly one of rayClusterSpec")


def test_check_manifest_raises_with_every_problem(broken_job):
    del broken_job["spec"]["entrypoint"]
    broken_job["spec"]["shutdownAfterJobFinishes"] = "yes"
    with pytest.raises(ManifestError) as raised:
        check_manifest(broken_job)
    assert len(raised.value.problems) == 2
    assert str(raised.value).startswith("RayJob tbt-train:\n  - spec.entrypoint is missing")


def test_a_file_without_ray_documents_is_refused(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n")
    with pytest.raises(ManifestError, match="no RayCluster or RayJob"):
        check_manifest_file(path)


def test_the_command_line_lists_the_problems_of_a_broken_file(broken_job, tmp_path, capsys):
    broken_job["spec"]["shutdownAfterJobFinishes"] = "yes"
    path = tmp_path / "rayjob.yaml"
    path.write_text(yaml.safe_dump(broken_job))
    assert main([str(path)]) == 1
    assert capsys.readouterr().err == (
        f"{path}:\n  - RayJob tbt-train: spec.shutdownAfterJobFinishes must be true or false, got 'yes'\n"
    )
