"""The cluster-launcher configs pass Ray's schema and checks, and broken ones are refused clearly."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tracking_by_trackers.cluster.launcher_checks import LauncherConfigError, check_launcher_config, main

LAUNCHER_CONFIGS = sorted((REPO_ROOT / "cluster" / "launcher").glob("*.yaml"))
AWS = REPO_ROOT / "cluster" / "launcher" / "aws.yaml"


@pytest.fixture(scope="module")
def aws_config() -> dict:
    return yaml.safe_load(AWS.read_text())


@pytest.fixture
def broken(aws_config):
    """A fresh copy of the AWS config to break."""
    return copy.deepcopy(aws_config)


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS, ids=lambda path: path.name)
def test_launcher_configs_pass_rays_schema_and_checks(path):
    prepared = check_launcher_config(path)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_the_aws_cluster_has_a_cpu_head_and_autoscaled_role_workers(aws_config):
    node_types = aws_config["available_node_types"]
    head = node_types[aws_config["head_node_type"]]
    assert not head["node_config"]["InstanceType"].startswith(("g", "p"))  # no GPU on the head
    assert not {"learner_node", "env_runner_node"} & set(head["resources"])
    gpu = node_types["worker_gpu"]
    assert gpu["node_config"]["InstanceType"].startswith("g5.")
    assert gpu["resources"] == {"learner_node": 1}
    assert node_types["worker_cpu"]["resources"] == {"env_runner_node": 1}
    for worker in (gpu, node_types["worker_cpu"]):
        assert 0 <= worker["min_workers"] < worker["max_workers"] <= aws_config["max_workers"]


def test_every_node_runs_the_projects_image_and_installs_no_wheel_when_it_starts(aws_config):
    kuberay = yaml.safe_load((REPO_ROOT / "cluster" / "kuberay" / "raycluster.yaml").read_text())
    image = kuberay["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    assert aws_config["docker"]["image"] == image  # the image of cluster/Dockerfile, as on KubeRay
    assert not any("docker" in node_type for node_type in aws_config["available_node_types"].values())
    assert aws_config["file_mounts"]["~/tbt"] == "."
    installs = [command for command in aws_config["setup_commands"] if "pip install" in command]
    assert installs == ["pip install --no-deps -e ~/tbt"]
    assert "boto3" in " ".join(aws_config["head_setup_commands"])  # the autoscaler's AWS client, small


def test_every_node_type_names_an_ami_and_the_gpu_type_checks_torch_sees_its_gpu(aws_config):
    for node_type in aws_config["available_node_types"].values():
        assert node_type["node_config"]["ImageId"].startswith(
            "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-"
        )
    (check,) = aws_config["available_node_types"]["worker_gpu"]["worker_setup_commands"]
    assert "torch.cuda.is_available()" in check


def test_a_node_type_without_an_ami_is_refused(broken):
    del broken["available_node_types"]["worker_gpu"]["node_config"]["ImageId"]
    with pytest.raises(
        LauncherConfigError,
        match=r"available_node_types worker_gpu: no node_config.ImageId, so Ray would launch its default "
        r"Deep Learning AMI \(Ubuntu 18.04\)",
    ):
        check_launcher_config(broken)


def test_every_node_gets_the_token(aws_config):
    assert "~/.ray/auth_token" in aws_config["file_mounts"]
    starts = aws_config["head_start_ray_commands"][-1] + aws_config["worker_start_ray_commands"][-1]
    assert starts.count("RAY_AUTH_MODE=token ray start") == 2


def test_the_command_line_reports_ok(capsys):
    assert main([str(AWS)]) == 0
    assert capsys.readouterr().out == f"{AWS}: ok\n"


def test_an_unknown_field_is_refused_with_its_path(broken):
    broken["available_node_types"]["worker_gpu"]["gpus"] = 1
    with pytest.raises(LauncherConfigError, match=r"at available_node_types\.worker_gpu: .*'gpus'"):
        check_launcher_config(broken)


def test_a_fractional_resource_is_refused(broken):
    broken["available_node_types"]["worker_cpu"]["resources"] = {"env_runner_node": 0.5}
    with pytest.raises(
        LauncherConfigError, match=r"resources\.env_runner_node: 0\.5 is not of type 'integer'"
    ):
        check_launcher_config(broken)


def test_an_unknown_head_node_type_is_refused(broken):
    broken["head_node_type"] = "head_gpu"
    with pytest.raises(LauncherConfigError, match="`head_node_type` must be one of `available_node_types`"):
        check_launcher_config(broken)


def test_more_minimum_workers_than_the_cluster_maximum_is_refused(broken):
    broken["available_node_types"]["worker_cpu"]["min_workers"] = 13
    broken["available_node_types"]["worker_cpu"]["max_workers"] = 13
    with pytest.raises(
        LauncherConfigError, match="global `max_workers` is smaller than the sum of `min_workers`"
    ):
        check_launcher_config(broken)


def test_a_node_type_range_upside_down_is_refused(broken):
    broken["available_node_types"]["worker_gpu"]["min_workers"] = 3
    broken["available_node_types"]["worker_gpu"]["max_workers"] = 2
    with pytest.raises(LauncherConfigError, match=r"worker_gpu: min_workers \(3\) exceeds max_workers \(2\)"):
        check_launcher_config(broken)


def test_workers_without_the_heads_auth_mode_are_refused(broken):
    broken["worker_start_ray_commands"][-1] = broken["worker_start_ray_commands"][-1].replace(
        "RAY_AUTH_MODE=token ", ""
    )
    with pytest.raises(
        LauncherConfigError, match=r"RAY_AUTH_MODE differs between the head \(token\) and the workers"
    ):
        check_launcher_config(broken)


def test_token_mode_without_a_token_on_the_nodes_is_refused(broken):
    del broken["file_mounts"]["~/.ray/auth_token"]
    with pytest.raises(LauncherConfigError, match="no token reaches the nodes"):
        check_launcher_config(broken)


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(LauncherConfigError, match="not found"):
        check_launcher_config(tmp_path / "absent.yaml")
