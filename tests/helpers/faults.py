"""Real faults for the fault-injection tests: a process killed at an exact AWS call, handlers run as processes.

Owns: CallKiller, an HTTP proxy in front of the moto server that forwards
every call and, at the first call a predicate picks, SIGKILLs a process
(before the call reaches moto, or after moto carried it out but before the
answer gets back), then drops the connection, or (`when="cut"`) reads half
of that call's body and drops the connection, as a network that fails
mid-upload does, `cuts` times; and `run_handler`, which runs
the deployer's deploy or scheduled handler in a child process of its own
(`python -m tests.helpers.faults`), so that it can be killed for real.
Nothing here patches boto3 or the code under test: the handler runs
unchanged and talks HTTP to the proxy as it would to AWS.

Does not own: the deployer stacks (deployer.py) or moto (conftest.py).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]

# (method, path, headers, body) -> whether this is the call to kill at.
Picker = Callable[[str, str, Mapping[str, str], bytes], bool]


def aws_target(operation: str, body_has: str = "") -> Picker:
    """Picks a JSON-protocol call (Step Functions, DynamoDB) by its X-Amz-Target operation, optionally its body."""
    def pick(method: str, path: str, headers: Mapping[str, str], body: bytes) -> bool:
        target = headers.get("X-Amz-Target", "")
        return target.rsplit(".", 1)[-1] == operation and body_has.encode() in body
    return pick


@dataclass
class CallKiller:
    """A proxy to `upstream` that kills `victim` at the first call `pick` selects (`when`: before or after it),
    or cuts the connection mid-body of the first `cuts` calls it selects (`when="cut"`; None: every one)."""

    upstream: str
    pick: Picker
    when: str = "before"
    cuts: int | None = 1
    victim: int | None = None  # the pid to kill; set once the process is started
    killed_at: list[str] = field(default_factory=list)  # the call it killed at ("METHOD path target")
    calls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.when in ("before", "after", "cut"), self.when
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="call-killer", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _take(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether this call is the one to kill at (only the first match is)."""
        label = f"{method} {path} {headers.get('X-Amz-Target', '')}".strip()
        with self._lock:
            self.calls.append(label)
            if self.when == "cut":
                if (self.cuts is not None and len(self.killed_at) >= self.cuts) or not self.pick(method, path,
                                                                                                    headers, body):
                    return False
            elif self.killed_at or self.victim is None or not self.pick(method, path, headers, body):
                return False
            self.killed_at.append(label)
            return True

    def _kill(self) -> None:
        assert self.victim is not None
        os.kill(self.victim, signal.SIGKILL)

    def _forward(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, list, bytes]:
        parts = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        killer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k: v for k, v in self.headers.items()}
                if killer.when == "cut" and length and killer._take(self.command, self.path, headers, b""):
                    self.rfile.read(length // 2)  # half the body arrives, then the line goes dead
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                body = self.rfile.read(length) if length else b""
                chosen = killer.when != "cut" and killer._take(self.command, self.path, headers, body)
                if chosen and killer.when == "before":
                    killer._kill()
                    self.close_connection = True
                    return
                status, answer_headers, answer = killer._forward(self.command, self.path, headers, body)
                if chosen:  # moto did it; the caller dies before it hears so
                    killer._kill()
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _any

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


def run_handler(kind: str, env: Mapping[str, str], event: Mapping[str, Any], *, endpoint: str,
                killer: CallKiller | None = None, lambda_timeout: int = 120) -> subprocess.CompletedProcess:
    """Run the `kind` handler ("deploy" or "scheduled") on `event` in a child process talking to `endpoint`.

    With a killer, the child is its victim. Returns the finished process (returncode -9 when killed).
    """
    child_env = {**os.environ, **env, "FLOWDROP_AWS_ENDPOINT": endpoint, "AWS_ENDPOINT_URL": endpoint,
                 "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "tests.helpers.faults", kind, str(lambda_timeout)],
                               cwd=ROOT, env=child_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    if killer is not None:
        killer.victim = process.pid
    out, err = process.communicate(json.dumps(event), timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _main(kind: str, lambda_timeout: int) -> None:
    """The child: build settings and clients from the environment and run one handler invocation."""
    from flowdrop.deployer.clients import Clients
    from flowdrop.deployer.settings import DeployerSettings
    from flowdrop.local.app_host import lambda_context

    event = json.loads(sys.stdin.read())
    settings = DeployerSettings.from_env(dict(os.environ))
    clients = Clients.from_config(settings.aws)
    now = lambda: datetime.now(timezone.utc)  # noqa: E731
    if kind == "deploy":
        from flowdrop.deployer.sqs_events import handle_package_batch

        answer = handle_package_batch(event, clients, settings, now, lambda_context("deploy", lambda_timeout))
    elif kind == "scheduled":
        from flowdrop.deployer.schedule import start_scheduled_run

        answer = start_scheduled_run(event, clients, settings, now()).to_dict()
    else:
        raise SystemExit(f"unknown handler {kind!r}")
    print(json.dumps(answer, default=str))


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]))
