"""A throwaway Ray head with the Jobs API, run as its own process tree for the submission tests.

``ray start --head --block`` keeps the node's processes as children of one process that shuts them all down
on SIGTERM, so the tests stop exactly what they started: ``ray stop`` would kill every Ray process on the
machine, including the session-wide ``ray_session`` instance and anyone else's. Every port is a free one
and the temp folder is private, so the head neither collides with a local ``ray.init`` nor leaves a
``ray_current_cluster`` file where the next ``ray.init()`` would find it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO

from tracking_by_trackers.cluster.local_cluster import alive, descendants, free_port

# Every port `ray start` opens gets a free one: several default to fixed numbers (6379, 8265, 10001, 52365)
# that another Ray on this machine may hold.
_PORT_FLAGS = (
    "--port",
    "--dashboard-port",
    "--ray-client-server-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
    "--node-manager-port",
    "--object-manager-port",
)


class LocalRayHead:
    """One Ray head node with the dashboard, in a private temp folder, with auth mode ``auth_mode``."""

    def __init__(self, num_cpus: int = 1, auth_mode: str = "disabled") -> None:
        self.num_cpus = num_cpus
        self.auth_mode = auth_mode
        self.ports = {flag: free_port() for flag in _PORT_FLAGS}
        # Short (not pytest's tmp_path): Ray's unix socket paths under it must stay below ~107 characters.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="tbt-ray-", dir="/tmp"))
        self.dashboard_url = f"http://127.0.0.1:{self.ports['--dashboard-port']}"
        self._process: subprocess.Popen | None = None
        self._log: IO[str] | None = None

    def start(self, timeout_s: float = 60.0) -> LocalRayHead:
        env = {key: value for key, value in os.environ.items() if key not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
        # Every process of a cluster, and its clients, must agree on the auth mode; set it explicitly
        # rather than inherit whatever an earlier ray.init in this process put in os.environ.
        env["RAY_AUTH_MODE"] = self.auth_mode
        command = [
            "ray", "start", "--head", "--block", "--disable-usage-stats",
            "--num-cpus", str(self.num_cpus),
            "--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
            "--node-ip-address", "127.0.0.1",
            "--temp-dir", str(self.temp_dir),
        ]  # fmt: skip
        for flag, port in self.ports.items():
            command += [flag, str(port)]
        self._log = (self.temp_dir / "ray-start.log").open("w")
        self._process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while not self._dashboard_answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = self.start_log()
                self.stop()
                raise RuntimeError(f"the Ray head did not come up:\n{log}")
            time.sleep(0.25)
        return self

    def start_log(self) -> str:
        path = self.temp_dir / "ray-start.log"
        return path.read_text() if path.is_file() else ""

    def _dashboard_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.dashboard_url}/api/version", timeout=1) as response:
                return response.status == 200
        except urllib.error.HTTPError as error:
            return error.code == 401  # up, and asking for the token
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout_s: float = 30.0) -> None:
        """Shut the node down, then kill whatever it left behind and remove its temp folder.

        Raises:
            RuntimeError: some of the node's processes outlived the shutdown (they are killed first).
        """
        if self._process is None:
            return
        process, self._process = self._process, None
        tree = descendants(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the block process drains and stops its children
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        deadline = time.monotonic() + 10
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftovers = alive(tree)
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        if leftovers:
            raise RuntimeError(f"Ray processes {sorted(leftovers)} outlived the head's shutdown")
