"""`python flow.py step-functions ...` in-process: an example's flow CLI, CliRunner, a stub of the deployer's API.

The stub is a server on loopback that records each request and answers from
a table, so the real ApiClient (urllib) is exercised end to end.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowdrop.cli.flow import build_cli
from tests.helpers.runtime import load_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_cli(flow_file: Path):
    cls, graph, _module = load_flow(flow_file)
    return build_cli(cls, flow_file, graph)


@pytest.fixture(scope="module")
def parameter_cli():
    return load_cli(EXAMPLES / "parameter_flow.py")


class StubApi:
    """A loopback HTTP server answering `routes[(method, path)]` = (status, body); records requests."""

    def __init__(self):
        self.routes: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                stub.requests.append({"method": self.command, "path": self.path, "body": body,
                                      "authorization": self.headers.get("Authorization")})
                answers = stub.routes.get((self.command, self.path)) or [(404, {"error": "no such route"})]
                status, payload = answers.pop(0) if len(answers) > 1 else answers[0]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def answer(self, method: str, path: str, *answers: tuple[int, Any]) -> None:
        self.routes[(method, "/api" + path)] = list(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    stub = StubApi()
    yield stub
    stub.close()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No config file, nothing configured: every test says what it needs."""
    return {"FLOWDROP_CONFIG": str(tmp_path / "absent.json"), "FLOWDROP_USER": "alice", "FLOWDROP_BUCKET": "",
            "FLOWDROP_API_URL": "", "FLOWDROP_API_TOKEN": "", "FLOWDROP_AWS_ENDPOINT": ""}


def invoke(cli, args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
