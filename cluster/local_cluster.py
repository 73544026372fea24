"""A multi-node Ray cluster on one machine: a head and worker nodes, each a separate ``ray start`` process.

For the two-node test and the scaling benchmark: real nodes (own raylet, object store and workers, joined
through the head's GCS like machines of a cluster), without a cloud. Each node runs
``ray start --block``, which keeps the node's processes as its children and shuts them down on SIGTERM, so
:meth:`LocalRayCluster.stop` stops exactly this cluster: ``ray stop`` would kill every Ray process of the
user, including someone else's experiment or a test session's own ``ray.init``.

Every port is a free one and every node has a private ``--temp-dir``, so the cluster collides with no
other Ray on the machine, and ``ray_current_cluster`` (the file a plain ``ray.init()`` reads to find a
cluster to join) is written there and removed with it, never in ``/tmp/ray``.

Every process of a cluster, and every driver, must use the same auth mode (docs/cluster.md, *Token
authentication*): the nodes get ``RAY_AUTH_MODE=<auth_mode>``, and drivers must run with
:meth:`LocalRayCluster.client_env` (or set the same mode before ``ray.init``).

Example::

    with LocalRayCluster([NodeSpec(1, {"head_node": 1}), NodeSpec(1, {"worker_node": 1})]) as cluster:
        subprocess.run([sys.executable, "driver.py", cluster.address], env=cluster.client_env(), check=True)
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["LocalRayCluster", "NodeSpec", "alive", "descendants", "free_port", "wait_for_nodes"]

logger = logging.getLogger(__name__)

STARTED_LINE = "Ray runtime started."
"""What ``ray start`` prints once its node is up (for a worker node: registered with the head's GCS)."""

# Every port a node opens gets a free one: several default to fixed numbers (6379, 8265, 10001, 52365, …)
# that another Ray on this machine may already hold.
_HEAD_ONLY_PORT_FLAGS = ("--port", "--ray-client-server-port")
_NODE_PORT_FLAGS = (
    "--node-manager-port",
    "--object-manager-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
)


@dataclass(frozen=True)
class NodeSpec:
    """One node: its logical CPUs and GPUs, and custom resources (``{"worker_node": 1}``) to tell it apart."""

    num_cpus: int = 1
    resources: dict[str, float] = field(default_factory=dict)
    num_gpus: int = 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _live_parents() -> dict[int, int]:
    """pid → parent pid of every live (non-zombie) process, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited while we looked
            continue
        # The command name is in parentheses and may hold spaces; the fields after it are fixed.
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            parents[int(entry.name)] = int(parent)
    return parents


def descendants(pid: int) -> set[int]:
    """The live processes below ``pid``."""
    children: dict[int, list[int]] = {}
    for child, parent in _live_parents().items():
        children.setdefault(parent, []).append(child)
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The ones of ``pids`` that are still running (zombies count as gone)."""
    return pids & set(_live_parents())


class _Node:
    """One ``ray start --block`` process and its log."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], temp_dir: Path):
        self.name = name
        self.temp_dir = temp_dir
        self.log_path = temp_dir.parent / f"{name}.log"
        self._log: IO[str] = self.log_path.open("w")
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.is_file() else ""

    def process_logs(self, lines: int = 15) -> str:
        """The last lines of the node's raylet and GCS logs: why a node failed to come up."""
        tails = []
        for path in sorted(self.temp_dir.glob("session_*/logs/*")):
            if path.name.split(".")[0] in ("raylet", "gcs_server") and path.is_file() and path.stat().st_size:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"{path.name}:\n" + "\n".join(tail))
        return "\n".join(tails)

    def wait_started(self, deadline: float) -> None:
        while STARTED_LINE not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Ray {self.name} node did not start; its `ray start` log:\n{self.log()[-3000:]}\n"
                    f"{self.process_logs()}"
                )
            time.sleep(0.2)

    def stop(self, timeout_s: float) -> set[int]:
        """SIGTERM the block process (it stops the node's processes), then SIGKILL what outlived it; returns
        the pids that had to be killed."""
        tree = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + 10
        while tree & set(_live_parents()) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftovers = tree & set(_live_parents())
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not self._log.closed:
            self._log.close()
        return leftovers


class LocalRayCluster:
    """A head node (``nodes[0]``) and worker nodes (``nodes[1:]``) on this machine (see the module docstring).

    Args:
        nodes: One :class:`NodeSpec` per node, the head first.
        auth_mode: ``RAY_AUTH_MODE`` of every node and of :meth:`client_env`. ``disabled`` (the default) is
            for a short-lived test or benchmark cluster on a trusted machine only: the head's GCS listens on
            every interface, and without a token anyone who reaches its port can run code on the cluster.
    """

    def __init__(self, nodes: list[NodeSpec], auth_mode: str = "disabled"):
        if not nodes:
            raise ValueError("a cluster needs at least its head node")
        self.specs = list(nodes)
        self.auth_mode = auth_mode
        self.gcs_port = 0
        self.address = ""
        self.root = Path()
        """The cluster's private temp folder (one sub-folder per node), set by :meth:`start`."""
        self._nodes: list[_Node] = []

    def client_env(self) -> dict[str, str]:
        """The environment for a driver of this cluster: the same auth mode, and no ``RAY_ADDRESS`` that
        could point it at another cluster."""
        env = {key: value for key, value in os.environ.items() if key not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
        env["RAY_AUTH_MODE"] = self.auth_mode
        return env

    def _command(self, index: int, spec: NodeSpec, temp_dir: Path) -> list[str]:
        import json

        command = ["ray", "start", "--block", "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
        if index == 0:
            command += ["--head", "--include-dashboard", "false", "--port", str(self.gcs_port)]
            command += ["--ray-client-server-port", str(free_port())]
        else:
            command += ["--address", self.address]
        command += ["--num-cpus", str(spec.num_cpus), "--num-gpus", str(spec.num_gpus)]
        command += ["--resources", json.dumps(spec.resources), "--temp-dir", str(temp_dir)]
        for flag in _NODE_PORT_FLAGS:
            command += [flag, str(free_port())]
        return command

    def start(self, timeout_s: float = 90.0, attempts: int = 2) -> LocalRayCluster:
        """Start the head, then the workers, each once the previous one is up.

        A failed start is stopped and tried again with fresh ports, up to ``attempts`` times: a port found
        free can be taken by another process before Ray binds it, and ``ray start`` gives a raylet only 30 s
        to register, which a machine busy with other work can exceed.

        Raises:
            RuntimeError: the last attempt failed; the message holds the failing node's logs.
        """
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        for attempt in range(1, attempts + 1):
            self.gcs_port = free_port()
            self.address = f"127.0.0.1:{self.gcs_port}"
            # Short (not pytest's tmp_path): Ray's unix socket paths under it must stay below ~107 characters.
            self.root = Path(tempfile.mkdtemp(prefix="tbt-rc-", dir="/tmp"))
            deadline = time.monotonic() + timeout_s
            try:
                for index, spec in enumerate(self.specs):
                    name = "head" if index == 0 else f"worker{index}"
                    temp_dir = self.root / name
                    temp_dir.mkdir()
                    node = _Node(name, self._command(index, spec, temp_dir), self.client_env(), temp_dir)
                    self._nodes.append(node)
                    node.wait_started(deadline)
                return self
            except RuntimeError as error:
                self.stop(check=False)
                if attempt == attempts:
                    raise
                logger.warning("local Ray cluster failed to start (attempt %d), retrying: %s", attempt, error)
            except BaseException:  # Ctrl-C, a failed Popen: no retry, but no orphaned nodes either
                self.stop(check=False)
                raise
        raise AssertionError("unreachable: every attempt returns or raises")

    def add_node(self, spec: NodeSpec, timeout_s: float = 90.0) -> int:
        """Start one more worker node, joining the running head (as an autoscaler replaces a lost machine);
        returns its index."""
        index = len(self._nodes)
        name = f"worker{index}"
        temp_dir = self.root / name
        temp_dir.mkdir()
        node = _Node(name, self._command(index, spec, temp_dir), self.client_env(), temp_dir)
        self._nodes.append(node)
        node.wait_started(time.monotonic() + timeout_s)
        return index

    def stop_node(self, index: int, timeout_s: float = 30.0) -> None:
        """Stop the worker node ``index`` (``nodes[index]``) while the rest of the cluster runs on: its Ray
        processes end, and the actors on it die with it.

        Raises:
            RuntimeError: some of the node's processes outlived the stop (they are killed first).
        """
        if index == 0:
            raise ValueError("stop_node stops a worker node; stop the head with stop()")
        leftovers = self._nodes[index].stop(timeout_s)
        if leftovers:
            raise RuntimeError(f"Ray processes {sorted(leftovers)} outlived the stop of node {index}")

    def stop(self, timeout_s: float = 30.0, check: bool = True) -> None:
        """Stop the workers, then the head, and remove every node's temp folder.

        Raises:
            RuntimeError: with ``check``, some of the cluster's processes outlived the shutdown (they have
                been killed by then).
        """
        leftovers: set[int] = set()
        for node in reversed(self._nodes):  # workers first: a head that goes first leaves them retrying
            leftovers |= node.stop(timeout_s)
        self._nodes = []
        shutil.rmtree(self.root, ignore_errors=True)
        if leftovers and check:
            raise RuntimeError(f"Ray processes {sorted(leftovers)} outlived the local cluster's shutdown")

    def logs(self) -> str:
        """Every node's ``ray start`` output (for error messages)."""
        return "\n".join(f"--- {node.name} ---\n{node.log()}" for node in self._nodes)

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def wait_for_nodes(count: int, timeout_s: float = 60.0) -> list[dict]:
    """In a driver connected with ``ray.init(address=...)``: wait until ``count`` nodes are alive; returns
    them (``ray.nodes()`` entries)."""
    import ray

    deadline = time.monotonic() + timeout_s
    while True:
        alive = [node for node in ray.nodes() if node["Alive"]]
        if len(alive) >= count:
            return alive
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(alive)} of {count} Ray nodes alive after {timeout_s:.0f} s: {alive}")
        time.sleep(0.5)
