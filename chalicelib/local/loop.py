"""A daemon thread that repeats one step until stopped: how the embedded stack's
stand-ins (SQS event source, schedule clock, worker poller) run in the background.

Owns: starting, stopping and outliving errors. An exception in a step is
logged and the loop waits `error_wait` seconds before the next one, so a
flaky endpoint never kills a stand-in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class RepeatingThread:
    """Calls `step()` over and over in a daemon thread, `pause` seconds apart, until stop()."""

    def __init__(self, name: str, step: Callable[[], Any], pause: float = 0.0, error_wait: float = 1.0):
        self.name = name
        self.step = step
        self.pause = pause
        self.error_wait = error_wait
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RepeatingThread:
        """Start repeating in the background."""
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end after the step in hand, and wait up to `timeout` seconds for it."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a stand-in must outlive a flaky endpoint
                log.exception("%s: step failed", self.name)
                self.stopping.wait(self.error_wait)
                continue
            if self.pause:
                self.stopping.wait(self.pause)
