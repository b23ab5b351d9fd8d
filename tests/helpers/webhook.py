"""A loopback HTTP server that receives webhook alerts, as Slack's incoming webhook would.

Records every POST body (parsed JSON) in order; `fail_next(n)` answers the
next n requests with HTTP 500, so tests can watch a delivery being retried.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """Webhook messages received on 127.0.0.1."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._failures = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    failing = receiver._failures > 0
                    receiver._failures -= 1 if failing else 0
                    if not failing:
                        receiver.messages.append(json.loads(body))
                        receiver.paths.append(self.path)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"no" if failing else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where to point --notify-on-*."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/flowdrop"

    def fail_next(self, count: int) -> None:
        """Answer the next `count` requests with HTTP 500 (and do not record them)."""
        with self._lock:
            self._failures = count

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The messages, once at least `count` arrived (or the timeout passed: the caller asserts)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.messages)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A running WebhookReceiver, shut down afterwards."""
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
