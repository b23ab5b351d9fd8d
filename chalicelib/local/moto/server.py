"""Start and stop a moto server: the embedded stack's AWS endpoint.

Owns: launching moto's server (patched by local/moto/compat.py, through
local/moto/main.py) on loopback, waiting until it answers, and
switching on the settings the embedded stack needs before anything is
created (shared/EMULATOR.md: the Step Functions execution flag and Lambda's
use_docker flag each switch to a separate store, so they go first).
Does not own: creating the stack's resources (local/stack.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from flowdrop.errors import FlowdropError
from flowdrop.local.moto.journal import CONTROL_PREFIX, STATE_DIR_ENV


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """A running moto server process on 127.0.0.1."""

    port: int
    process: subprocess.Popen = field(repr=False)

    @property
    def endpoint_url(self) -> str:
        """The URL boto3 clients use as endpoint_url."""
        return f"http://127.0.0.1:{self.port}"

    def restore_journal(self) -> dict:
        """Replay the state dir's journal and executions (local/moto/journal.py); journal from now on."""
        return _post_json(f"{self.endpoint_url}{CONTROL_PREFIX}restore", {}, timeout=600)

    def snapshot_journal(self) -> dict:
        """Write the executions' snapshot now (before a stop)."""
        return _post_json(f"{self.endpoint_url}{CONTROL_PREFIX}snapshot", {}, timeout=60)

    def wait_ready(self, timeout: float = 30.0) -> MotoServer:
        """Wait until the server launched by launch_moto_server() answers, and configure it; FlowdropError if not."""
        return _wait_ready(self, timeout)

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _moto_command(port: int) -> list[str]:
    # moto's own server, but with the Step Functions fixes of compat.py
    # applied in its process (they patch moto's classes, so they must run
    # where the backends live).
    return [sys.executable, "-m", "flowdrop.local.moto.main", "-H", "127.0.0.1", "-p", str(port)]


def _post_json(url: str, body: dict, timeout: float = 10) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
    try:
        answer = json.loads(text) if text else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def start_moto_server(port: int | None = None, timeout: float = 30.0, log_path: str | None = None,
                      state_dir: str | None = None, batch_max_jobs: int | None = None) -> MotoServer:
    """Start moto in server mode with Step Functions executing state machines.

    `state_dir`: journal what changes there and restore it on restore_journal() (local/moto/journal.py).
    `batch_max_jobs`: Batch jobs run at once, the others wait RUNNABLE (local/moto/batch_jobs.py; None: 4).
    """
    return launch_moto_server(port, log_path, state_dir, batch_max_jobs).wait_ready(timeout)


def launch_moto_server(port: int | None = None, log_path: str | None = None,
                       state_dir: str | None = None, batch_max_jobs: int | None = None) -> MotoServer:
    """Start moto's process and return at once (it takes ~2 s to import): call wait_ready() before using it.

    The caller does its own preparation meanwhile (local/stack.py warms its boto3 clients).
    `batch_max_jobs` as for start_moto_server.
    """
    port = port or free_port()
    env = dict(os.environ)
    env.pop(STATE_DIR_ENV, None)
    if batch_max_jobs is not None:
        env["FLOWDROP_BATCH_MAX_JOBS"] = str(batch_max_jobs)  # batch_jobs.MAX_JOBS_ENV (not imported: moto's)
    if state_dir:
        env[STATE_DIR_ENV] = state_dir
    # moto's Step Functions interpreter calls back into the server (SQS,
    # Lambda, ...) through MOTO_PORT; without it the callbacks go to port 5000.
    env["MOTO_PORT"] = str(port)
    env.setdefault("AWS_ACCESS_KEY_ID", "testing")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(_moto_command(port), env=env, stdout=out, stderr=subprocess.STDOUT)
    return MotoServer(port=port, process=process)


def _wait_ready(server: MotoServer, timeout: float) -> MotoServer:
    """Wait until `server` accepts connections and answers, then configure it (see start_moto_server)."""
    process, port = server.process, server.port
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise FlowdropError(f"moto server exited with code {process.returncode} while starting on port {port}")
        try:
            # A refused connect costs microseconds: look often, so the wait ends as soon as moto listens.
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise FlowdropError(f"moto server did not answer on port {port} within {timeout:.0f}s") from None
            time.sleep(0.01)
    _post_json(
        f"{server.endpoint_url}/moto-api/config",
        {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
        timeout=timeout,
    )
    return server
