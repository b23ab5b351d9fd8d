"""A time source the embedded stack's clock reads, moved by the test."""

from __future__ import annotations

import threading
from datetime import datetime


class FakeTime:
    """The clock's time source, moved by the test."""

    def __init__(self, start: datetime):
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment
