"""`tbt submit`: parsing, error messages, and real jobs on a local Ray head through the Jobs API."""

from __future__ import annotations

import argparse
import io
import shlex
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.cluster.local_ray_head import free_port
from tests.conftest import REPO_ROOT
from tracking_by_trackers.cluster.runtime_env import project_runtime_env
from tracking_by_trackers.cluster.submit import (
    DEFAULT_ADDRESS,
    SubmitError,
    add_submit_arguments,
    load_runtime_env_file,
    resolve_address,
    submit,
    submit_and_follow,
    tbt_entrypoint,
)


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse ``tbt <argv>`` with submit wired as a subcommand, as experiments/cli.py does."""
    parser = argparse.ArgumentParser(prog="tbt")
    commands = parser.add_subparsers(dest="command", required=True)
    add_submit_arguments(commands.add_parser("submit"))
    return parser.parse_args(argv)


def test_the_command_after_the_separator_becomes_a_tbt_entrypoint():
    args = parse(
        ["submit", "--address", "http://head:8265", "--no-wait", "--", "train", "--iterations", "100"]
    )
    assert args.command == "submit"
    assert args.address == "http://head:8265"
    assert args.no_wait is True
    assert tbt_entrypoint(args.tbt_command) == "tbt train --iterations 100"


def test_the_separator_may_be_left_out():
    assert (
        tbt_entrypoint(parse(["submit", "train", "--iterations", "5"]).tbt_command)
        == "tbt train --iterations 5"
    )


@pytest.fixture
def submitted(monkeypatch):
    """What submit() hands to submit_and_follow, without a cluster."""
    calls = []

    def record(address, entrypoint, runtime_env, *, wait=True, out=None, placement=None):
        calls.append(
            {
                "address": address,
                "entrypoint": entrypoint,
                "runtime_env": runtime_env,
                "wait": wait,
                "placement": placement,
            }
        )
        return 0

    monkeypatch.setattr("tracking_by_trackers.cluster.submit.submit_and_follow", record)
    return calls


def test_submit_ships_the_project_runtime_env_by_default(submitted):
    assert submit(parse(["submit", "--address", "http://head:8265", "--no-wait", "--", "train"])) == 0
    [call] = submitted
    # Each call stages the code in a folder of its own; the rest is the project's runtime env.
    [code] = call["runtime_env"].pop("py_modules")
    assert Path(code).name == "tracking_by_trackers" and (Path(code) / "envs").resolve() == REPO_ROOT / "envs"
    expected = project_runtime_env()
    expected.pop("py_modules")
    assert call == {
        "address": "http://head:8265",
        "entrypoint": "tbt train",
        "runtime_env": expected,
        "wait": False,
        "placement": {},
    }


def test_a_runtime_env_file_replaces_the_project_one_and_working_dir_overrides_it(submitted, tmp_path):
    path = tmp_path / "env.yaml"
    path.write_text("working_dir: .\nenv_vars:\n  A: '1'\n")
    argv = ["submit", "--runtime-env", str(path), "--working-dir", str(tmp_path), "--", "train"]
    assert submit(parse(argv)) == 0
    assert submitted[0]["runtime_env"] == {"working_dir": str(tmp_path), "env_vars": {"A": "1"}}
    assert submitted[0]["wait"] is True


def test_the_entrypoint_flags_reserve_resources_for_the_driver(submitted):
    argv = ["submit", "--entrypoint-num-cpus", "2", "--entrypoint-num-gpus", "1"]
    argv += ["--entrypoint-resources", '{"learner_node": 0.001}', "--", "train"]
    assert submit(parse(argv)) == 0
    assert submitted[0]["placement"] == {
        "entrypoint_num_cpus": 2,
        "entrypoint_num_gpus": 1,
        "entrypoint_resources": {"learner_node": 0.001},
    }


def test_entrypoint_resources_that_are_no_json_object_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse(["submit", "--entrypoint-resources", '["learner_node"]', "--", "train"])
    assert 'want a JSON object of amounts, e.g. {"learner_node": 1}' in capsys.readouterr().err


def test_the_entrypoint_is_quoted_for_the_shell_and_not_prefixed_twice():
    assert tbt_entrypoint(["tbt", "train", "--out", "runs/my run"]) == "tbt train --out 'runs/my run'"


def test_an_empty_command_is_refused():
    with pytest.raises(SubmitError, match="nothing to submit: put the tbt command after --"):
        tbt_entrypoint(["--"])


def test_the_address_comes_from_the_flag_then_rays_variables_then_the_default(monkeypatch):
    monkeypatch.delenv("RAY_API_SERVER_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert resolve_address(None) == DEFAULT_ADDRESS
    monkeypatch.setenv("RAY_ADDRESS", "http://from-env:8265")
    assert resolve_address(None) == "http://from-env:8265"
    assert resolve_address("http://flag:8265") == "http://flag:8265"


def test_a_runtime_env_file_is_read(tmp_path):
    path = tmp_path / "env.yaml"
    path.write_text("working_dir: .\nenv_vars:\n  A: '1'\n")
    assert load_runtime_env_file(path) == {"working_dir": ".", "env_vars": {"A": "1"}}
    path.write_text("- a list\n")
    with pytest.raises(SubmitError, match="must hold a mapping"):
        load_runtime_env_file(path)
    with pytest.raises(SubmitError, match="not found"):
        load_runtime_env_file(tmp_path / "absent.yaml")


def test_missing_jobs_api_dependencies_are_named(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # what `import aiohttp` sees without ray[default]
    assert submit(parse(["submit", "--address", "http://127.0.0.1:1", "--", "train"])) == 2
    assert "`tbt submit` needs ray[default]: pip install 'ray[default]==2.60.*'" in capsys.readouterr().err


def test_an_unreachable_address_is_named(capsys):
    address = f"http://127.0.0.1:{free_port()}"
    assert submit(parse(["submit", "--address", address, "--", "train"])) == 2
    error = capsys.readouterr().err
    assert f"error: no Ray Jobs API at {address}: is the cluster up" in error


class _TokenRequired(BaseHTTPRequestHandler):
    """A job server of a cluster with token authentication, to a client without the token."""

    def do_GET(self):  # noqa: N802 (the name http.server dispatches to)
        self.send_response(401)
        self.end_headers()
        self.wfile.write(b"Unauthorized: Missing authentication token")

    def log_message(self, *args):
        pass


def test_a_refused_token_says_how_to_pass_one(capsys):
    server = HTTPServer(("127.0.0.1", 0), _TokenRequired)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"http://127.0.0.1:{server.server_port}"
        assert submit(parse(["submit", "--address", address, "--", "train"])) == 2
    finally:
        server.shutdown()
        server.server_close()
    error = capsys.readouterr().err
    assert f"the cluster at {address} uses token authentication" in error
    assert "RAY_AUTH_MODE=token" in error


# The driver joins the cluster the way `tbt` commands do and reports where its code came from and what a
# worker's thread setting is.
_PROBE = (
    "import os, ray, tracking_by_trackers.cluster; from tracking_by_trackers.cluster.ray_runtime import init_ray; init_ray(address='auto'); "
    "print('code from', tracking_by_trackers.cluster.__file__); "
    "print('worker OMP_NUM_THREADS', ray.get(ray.remote(lambda: os.environ.get('OMP_NUM_THREADS')).remote()))"
)


# Ray's log-tail client passes aiohttp an argument aiohttp has deprecated; nothing for us to change.
_RAYS_AIOHTTP_WARNING = "ignore:ssl=None is deprecated:DeprecationWarning"


@pytest.mark.cluster
@pytest.mark.filterwarnings(_RAYS_AIOHTTP_WARNING)
def test_a_job_runs_the_shipped_checkout_and_its_logs_come_back(local_job_server):
    out = io.StringIO()
    status = submit_and_follow(
        local_job_server.dashboard_url, f"python -c {shlex.quote(_PROBE)}", project_runtime_env(), out=out
    )
    logs = out.getvalue()
    assert status == 0, logs
    code_from = next(line for line in logs.splitlines() if line.startswith("code from "))
    assert code_from.startswith(f"code from {local_job_server.temp_dir}")  # the node's copy, not REPO_ROOT
    assert not code_from.startswith(f"code from {REPO_ROOT}")
    assert "worker OMP_NUM_THREADS 1" in logs
    assert logs.rstrip().endswith("SUCCEEDED")


@pytest.mark.cluster
@pytest.mark.filterwarnings(_RAYS_AIOHTTP_WARNING)
def test_a_failing_tbt_command_gives_status_1(local_job_server, capsys):
    args = parse(["submit", "--address", local_job_server.dashboard_url, "--", "no-such-command"])
    assert submit(args) == 1
    logs = capsys.readouterr().out
    assert "submitted job " in logs and ": tbt no-such-command" in logs
    assert "invalid choice: 'no-such-command'" in logs  # tbt's own usage error, from the cluster
    assert logs.rstrip().endswith("FAILED: Job entrypoint command failed with exit code 2")


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.filterwarnings(_RAYS_AIOHTTP_WARNING)
def test_tbt_submit_runs_a_shortened_training_run_on_the_cluster_end_to_end(
    local_job_server, tmp_path, capsys
):
    import pandas as pd

    out = tmp_path / "run"
    command = ["train", "--quick", "--iterations", "2", "--out", str(out)]
    args = parse(["submit", "--address", local_job_server.dashboard_url, "--", *command])
    status = submit(args)
    logs = capsys.readouterr().out
    assert status == 0, logs[-4000:]
    # The driver joined the job's cluster: the teachers' validation tracks, the validation (the runner
    # leaves one of the two CPUs free) and the evaluation ran as Ray tasks there.
    assert "Ray: joined a cluster; the evaluations run as Ray tasks" in logs
    assert "validations run as Ray tasks" in logs
    assert "== stage 6/6: report ==" in logs
    report = out / "report"
    scores = pd.read_csv(report / "scores.csv", index_col=0)
    assert {"tras", "trast-kcf", "trasfust-kcf+mosse", "kcf", "mosse", "identity"} <= set(scores.index)
    assert pd.read_csv(report / "validation.csv")["iteration"].tolist() == [2]
    assert (report / "student.pt").stat().st_size > 0
    assert logs.rstrip().endswith("SUCCEEDED")
