"""``tbt submit``: hand a ``tbt`` command to a running Ray cluster through the Ray Jobs API.

``tbt submit --address http://<head>:8265 -- train --iterations 100`` ships this checkout with the job
(:func:`tracking_by_trackers.cluster.runtime_env.project_runtime_env`), runs ``tbt train --iterations 100`` as the job's driver
on the head node, prints its logs as they come and exits with the job's outcome. It is ``ray job submit``
with the project's runtime env and exit codes, built on ``ray.job_submission.JobSubmissionClient``.

Where the driver runs: on the head, unless ``--entrypoint-num-cpus``, ``--entrypoint-num-gpus`` or
``--entrypoint-resources`` reserve resources for it (the Jobs API's ``entrypoint_*`` options), which puts
it on a node that has them: ``--entrypoint-num-gpus 1`` for a learner inside the driver
(``--num-learners 0``) that trains on a GPU, since the head of the example clusters has none.

Exit codes: 0 the job SUCCEEDED; 1 it FAILED or was STOPPED; 2 it could not be submitted (missing
``ray[default]``, unreachable address, refused token); 130 interrupted while following (the job goes on).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DEFAULT_ADDRESS",
    "SubmitError",
    "add_submit_arguments",
    "entrypoint_placement",
    "load_runtime_env_file",
    "resolve_address",
    "submit",
    "submit_and_follow",
    "tbt_entrypoint",
]

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
# Ray reads these itself and lets them override the address a client is given; see _address_env_masked.
_ADDRESS_ENV_VARS = ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS")
_STATUS_POLL_S = 0.5
_SUCCEEDED, _INTERRUPTED, _NOT_SUBMITTED = 0, 130, 2

_MISSING_JOBS_API = "`tbt submit` needs ray[default]: pip install 'ray[default]==2.60.*'"


class SubmitError(RuntimeError):
    """The job could not be handed to the cluster; the message says why and what to do."""


def add_submit_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``tbt submit``'s options to ``parser`` (a subparser of ``tbt``) and return it."""
    parser.add_argument(
        "--address",
        help="the cluster's Jobs API, i.e. its dashboard (default: $RAY_API_SERVER_ADDRESS, then "
        f"$RAY_ADDRESS, then {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="return once the job is submitted instead of following it"
    )
    parser.add_argument(
        "--runtime-env",
        metavar="FILE",
        help="a runtime_env YAML/JSON file to use instead of the project's (--print-runtime-env shows it)",
    )
    parser.add_argument(
        "--print-runtime-env",
        action="store_true",
        help="print the project's runtime_env as JSON and exit, for Ray's own tools: ray job submit "
        '--runtime-env-json "$(tbt submit --print-runtime-env)" -- tbt train',
    )
    parser.add_argument(
        "--working-dir",
        metavar="DIR",
        help="the checkout to ship with the job (default: the one tbt runs from)",
    )
    parser.add_argument(
        "--entrypoint-num-cpus",
        type=float,
        help="CPUs reserved for the job's driver (default 0: it may run on any node, the head included)",
    )
    parser.add_argument(
        "--entrypoint-num-gpus",
        type=float,
        help="GPUs reserved for the job's driver, which then runs on a GPU node and sees the GPU",
    )
    parser.add_argument(
        "--entrypoint-resources",
        type=_json_mapping,
        metavar="JSON",
        help="custom resources reserved for the driver, e.g. '{\"learner_node\": 0.001}'",
    )
    parser.add_argument(
        # Not "command": tbt's own subparsers already store the subcommand's name under that dest.
        "tbt_command",
        metavar="COMMAND",
        nargs=argparse.REMAINDER,
        help="the tbt command to run on the cluster, after --: tbt submit -- train --iterations 100",
    )
    return parser


def _json_mapping(text: str) -> dict[str, float]:
    """``--entrypoint-resources``: a JSON object of resource name → amount."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error}): {text!r}") from None
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) for v in value.values()):
        raise argparse.ArgumentTypeError(
            f'want a JSON object of amounts, e.g. {{"learner_node": 1}}: {text!r}'
        )
    return value


def entrypoint_placement(args: argparse.Namespace) -> dict[str, Any]:
    """The ``entrypoint_*`` options of ``JobSubmissionClient.submit_job`` that ``args`` sets."""
    options = {
        "entrypoint_num_cpus": args.entrypoint_num_cpus,
        "entrypoint_num_gpus": args.entrypoint_num_gpus,
        "entrypoint_resources": args.entrypoint_resources,
    }
    return {key: value for key, value in options.items() if value is not None}


def submit(args: argparse.Namespace) -> int:
    """Run ``tbt <args.tbt_command>`` on the cluster as a Ray job; the module describes the exit codes."""
    try:
        if args.print_runtime_env:
            import json

            from tracking_by_trackers.cluster.runtime_env import project_runtime_env

            print(json.dumps(project_runtime_env(working_dir=args.working_dir), indent=2))
            return _SUCCEEDED
        entrypoint = tbt_entrypoint(args.tbt_command)
        if args.runtime_env:
            runtime_env = load_runtime_env_file(args.runtime_env)
            if args.working_dir:
                runtime_env["working_dir"] = args.working_dir
        else:
            from tracking_by_trackers.cluster.runtime_env import project_runtime_env

            runtime_env = project_runtime_env(working_dir=args.working_dir)
        return submit_and_follow(
            resolve_address(args.address),
            entrypoint,
            runtime_env,
            wait=not args.no_wait,
            placement=entrypoint_placement(args),
        )
    except (SubmitError, FileNotFoundError, ValueError) as error:
        from tracking_by_trackers.experiments.cli import error_line

        print(error_line(error), file=sys.stderr)
        return _NOT_SUBMITTED


def tbt_entrypoint(command: Sequence[str]) -> str:
    """The shell command the job runs: ``tbt`` followed by ``command``, quoted for the shell.

    Raises:
        SubmitError: ``command`` is empty.
    """
    words = list(command)
    # argparse keeps the "--" that separates tbt submit's options from the command on some versions.
    if words[:1] == ["--"]:
        words = words[1:]
    if words[:1] == ["tbt"]:
        words = words[1:]
    if not words:
        raise SubmitError("nothing to submit: put the tbt command after --, e.g. tbt submit -- train")
    return shlex.join(["tbt", *words])


def resolve_address(address: str | None) -> str:
    """``address``, else the address Ray's own tools would use, else :data:`DEFAULT_ADDRESS`."""
    if address:
        return address
    for variable in _ADDRESS_ENV_VARS:
        if os.environ.get(variable):
            return os.environ[variable]
    return DEFAULT_ADDRESS


def load_runtime_env_file(path: str | Path) -> dict:
    """A ``runtime_env`` mapping read from a YAML (or JSON) file.

    Raises:
        SubmitError: the file is missing or does not hold a mapping.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SubmitError(f"runtime env file {path} not found")
    runtime_env = yaml.safe_load(path.read_text())
    if not isinstance(runtime_env, dict):
        raise SubmitError(f"runtime env file {path} must hold a mapping (working_dir:, env_vars:, ...)")
    return runtime_env


def submit_and_follow(
    address: str,
    entrypoint: str,
    runtime_env: dict | None,
    *,
    wait: bool = True,
    out: IO[str] | None = None,
    placement: dict[str, Any] | None = None,
) -> int:
    """Submit ``entrypoint`` (any shell command) as a job at ``address`` and, with ``wait``, follow it.

    The job's logs are written to ``out`` (default stdout) as they arrive. ``placement`` holds the
    ``entrypoint_num_cpus`` / ``entrypoint_num_gpus`` / ``entrypoint_resources`` that reserve resources
    for the driver (:func:`entrypoint_placement`).

    Returns:
        0 if the job SUCCEEDED (or was submitted, without ``wait``), 1 if it FAILED or was STOPPED, 130 if
        following was interrupted.

    Raises:
        SubmitError: the Jobs API client is not installed, the address is unreachable or refuses us.
    """
    out = out or sys.stdout
    client = _connect(address)
    try:
        job_id = client.submit_job(entrypoint=entrypoint, runtime_env=runtime_env, **(placement or {}))
    except RuntimeError as error:  # the job server's answer to a bad request, e.g. an unusable runtime_env
        raise SubmitError(f"the cluster at {address} refused the job: {error}") from error
    print(f"submitted job {job_id} to {address}: {entrypoint}", file=out, flush=True)
    follow_hint = f"ray job logs --follow {job_id} --address {address}"
    if not wait:
        print(f"follow it with: {follow_hint}", file=out, flush=True)
        return _SUCCEEDED
    try:
        _print_logs(client, job_id, out)
        status = _wait_until_finished(client, job_id)
    except KeyboardInterrupt:
        print(
            f"\nstopped following job {job_id}; it goes on running. Follow it again: {follow_hint}; "
            f"stop it: ray job stop {job_id} --address {address}",
            file=out,
            flush=True,
        )
        return _INTERRUPTED
    detail = _failure_reason(client, job_id) if status != "SUCCEEDED" else ""
    print(f"job {job_id} {status}{detail}", file=out, flush=True)
    return _SUCCEEDED if status == "SUCCEEDED" else 1


def _failure_reason(client: Any, job_id: str) -> str:
    """Ray's one-line reason for a failed job; it appends the log tail, which was already printed."""
    message = client.get_job_info(job_id).message or ""
    lines = message.split(", last available logs", 1)[0].strip().splitlines()
    return f": {lines[0]}" if lines else ""


def _connect(address: str) -> Any:
    """A ``JobSubmissionClient`` for ``address``, with the causes of failure spelt out."""
    try:
        # The client itself imports without ray[default]; following logs needs aiohttp, which it brings.
        import aiohttp  # noqa: F401
        from ray.job_submission import JobSubmissionClient
    except ImportError as error:
        raise SubmitError(f"{_MISSING_JOBS_API} ({error})") from error
    from ray.exceptions import AuthenticationError

    try:
        with _address_env_masked():
            return JobSubmissionClient(address)
    except AuthenticationError as error:
        raise SubmitError(
            f"the cluster at {address} uses token authentication and did not accept this client: set "
            "RAY_AUTH_MODE=token and the cluster's token in RAY_AUTH_TOKEN (or ~/.ray/auth_token) before "
            "running tbt submit; see docs/cluster.md, 'Token authentication'"
        ) from error
    except ConnectionError as error:
        raise SubmitError(
            f"no Ray Jobs API at {address}: is the cluster up, and is this its dashboard address "
            "(http://<head>:8265, not the GCS port 6379)? From a laptop, forward the port first (`ray "
            "dashboard cluster/launcher/aws.yaml`, or `kubectl port-forward svc/<cluster>-head-svc 8265`). "
            "The head needs ray[default] for the dashboard to run."
        ) from error
    except RuntimeError as error:  # something answered, but not a Ray Jobs API of a usable version
        raise SubmitError(f"{address} is not a Ray Jobs API this client can use: {error}") from error


@contextlib.contextmanager
def _address_env_masked() -> Iterator[None]:
    """Hide RAY_ADDRESS and RAY_API_SERVER_ADDRESS while the client is built.

    ``JobSubmissionClient`` lets them override its ``address`` argument, so ``--address`` would silently
    lose to a stale variable; :func:`resolve_address` has already given them their say.
    """
    saved = {name: os.environ.pop(name) for name in _ADDRESS_ENV_VARS if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _print_logs(client: Any, job_id: str, out: IO[str]) -> None:
    """Copy the job's log stream to ``out`` until the job ends."""

    async def copy_stream() -> None:
        async for chunk in client.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()

    try:
        asyncio.run(copy_stream())
    except RuntimeError as error:  # the log stream broke (e.g. the head restarted); the status still tells
        print(
            f"lost the log stream of job {job_id} ({error}); waiting for it to finish", file=out, flush=True
        )


def _wait_until_finished(client: Any, job_id: str) -> str:
    """The job's terminal status name; the log stream can close a moment before the status is written."""
    while True:
        status = client.get_job_status(job_id)
        if status.is_terminal():
            return str(status.value)
        time.sleep(_STATUS_POLL_S)
