"""Every cluster example (docs/cluster.md, the launcher config, the KubeRay manifests) is a command ``tbt``
accepts, and trains the real thing: three datasets that share no video, ImageNet weights, a real time
budget, a GPU learner actor and the roles on the nodes that offer them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tracking_by_trackers.cluster.kuberay_checks import custom_resources
from tracking_by_trackers.experiments.cli import parse_args, train_command_from_args
from tracking_by_trackers.experiments.train.train_config import TrainConfig, load_config_file

CLUSTER_CONFIG = REPO_ROOT / "cluster" / "train_paper_got10k.yaml"
IMAGE_CHECKOUT = "/home/ray/tbt/"  # where cluster/Dockerfile puts the checkout
AWS = REPO_ROOT / "cluster" / "launcher" / "aws.yaml"
KUBERAY = REPO_ROOT / "cluster" / "kuberay"


def _docs_commands() -> list[str]:
    """The ``tbt train`` and ``tbt submit`` commands of docs/cluster.md's shell blocks, one per command."""
    text = (REPO_ROOT / "docs" / "cluster.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("  #")[0].strip()
            if command.startswith(("tbt train", "tbt submit")):
                commands.append(command)
    return commands


def _comment_commands(path: Path) -> list[str]:
    """The ``tbt submit`` commands in a YAML file's header comments."""
    return [
        line.split("tbt submit", 1)[1].join(["tbt submit", ""])
        for line in path.read_text().splitlines()
        if line.startswith("#") and "tbt submit --" in line
    ]


def _rayjob_command() -> str:
    return yaml.safe_load((KUBERAY / "rayjob.yaml").read_text())["spec"]["entrypoint"]


CLUSTER_EXAMPLES = {
    "aws.yaml": _comment_commands(AWS),
    "raycluster.yaml": _comment_commands(KUBERAY / "raycluster.yaml"),
    "rayjob.yaml": [_rayjob_command()],
    "docs/cluster.md": _docs_commands(),
}
EXAMPLES = [(source, command) for source, commands in CLUSTER_EXAMPLES.items() for command in commands]


def _train_config(command: str, weights: Path) -> TrainConfig:
    """The config ``command`` (``tbt train …`` or ``tbt submit … -- train …``) runs, with the weights
    file replaced by ``weights`` (the real one lives on the cluster's shared volume)."""
    words = shlex.split(command.replace("$PWD", "/work").replace(IMAGE_CHECKOUT, f"{REPO_ROOT}/"))[1:]
    args = parse_args(words)
    if args.command == "submit":
        args = parse_args([word for word in args.tbt_command if word != "--"])
    assert args.command == "train", command
    # A relative --config names a file of the checkout the job runs in: this one.
    words = args.train_args
    for index, word in enumerate(words[:-1]):
        if word == "--config" and not Path(words[index + 1]).is_absolute():
            words[index + 1] = str(REPO_ROOT / words[index + 1])
    config = train_command_from_args(args).settings
    assert config.imagenet_weights, f"{command}: no ImageNet weights"
    return config.updated(imagenet_weights=str(weights)).validate()


@pytest.fixture
def weights(tmp_path) -> Path:
    path = tmp_path / "resnet18-f37072fd.pth"
    path.write_bytes(b"")
    return path


def test_every_source_has_examples():
    assert all(CLUSTER_EXAMPLES.values()), CLUSTER_EXAMPLES
    assert len(CLUSTER_EXAMPLES["docs/cluster.md"]) >= 4


@pytest.mark.parametrize(
    ("source", "command"), EXAMPLES, ids=[f"{s}:{i}" for i, (s, _) in enumerate(EXAMPLES)]
)
def test_an_example_trains_on_three_real_datasets_with_weights_a_budget_and_a_gpu_learner_actor(
    source, command, weights
):
    config = _train_config(command, weights)
    datasets = [config.dataset, config.validation_dataset, config.test_dataset]
    assert len(set(datasets)) == 3, f"{source}: {command}: the three datasets must differ"
    assert not any(spec.startswith("synthetic") for spec in datasets), f"{source}: {command}"
    assert not any(spec.rstrip("/").endswith("/test") for spec in datasets), (
        "GOT-10k test has no ground truth"
    )
    assert config.preset == "paper"
    assert config.train_minutes >= 600 and config.iterations >= 1_000_000, "the time budget must decide"
    assert config.num_learners >= 1 and config.num_gpus_per_learner == 1, f"{source}: {command}"


ROLE_RESOURCES = {
    "custom_resources_per_env_runner": "env_runner_node",
    "custom_resources_per_learner": "learner_node",
}


@pytest.mark.parametrize(
    ("source", "command"),
    [(s, c) for s, c in EXAMPLES if "--config" in c],
    ids=lambda value: value if value in CLUSTER_EXAMPLES else "",
)
def test_cluster_examples_place_runners_and_learners_on_their_nodes(source, command, weights):
    config = _train_config(command, weights)
    for setting, resource in ROLE_RESOURCES.items():
        assert set(getattr(config, setting)) == {resource}, f"{source}: {setting}"
        assert 0 < getattr(config, setting)[resource] < 1  # a fraction: CPUs and GPUs decide how many fit


def test_the_role_resources_are_those_the_nodes_offer():
    settings = load_config_file(CLUSTER_CONFIG)
    asked = {resource for setting in ROLE_RESOURCES for resource in settings[setting]}
    aws = yaml.safe_load(AWS.read_text())["available_node_types"]
    offered_aws = {name for node_type in aws.values() for name in node_type["resources"]}
    assert asked <= offered_aws
    for name in ("raycluster.yaml", "rayjob.yaml"):
        document = yaml.safe_load((KUBERAY / name).read_text())
        spec = document["spec"] if document["kind"] == "RayCluster" else document["spec"]["rayClusterSpec"]
        offered = {
            resource
            for group in spec["workerGroupSpecs"]
            for resource in custom_resources(group["rayStartParams"])
        }
        assert asked <= offered, name


def test_the_rayjob_runs_the_config_the_image_holds():
    assert f"--config {IMAGE_CHECKOUT}cluster/train_paper_got10k.yaml" in _rayjob_command()
    dockerfile = (REPO_ROOT / "cluster" / "Dockerfile").read_text()
    assert (
        f"WORKDIR {IMAGE_CHECKOUT.rstrip('/')}" in dockerfile
        and "COPY --chown=ray:users cluster cluster" in dockerfile
    )
