"""A task's stdout and stderr: real text streams for the step's code, kept for the attempt's stored logs.

Owns: captured_output (sys.stdout/sys.stderr replaced, for the length of a
task, by streams that write through and keep a copy) and log_bytes (the copy
as stored, cut to --max-log-size from the head). Does not own where logs are
stored (datastore) or the task (task.py).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def log_bytes(text: str, limit: int) -> bytes:
    """A captured stream as stored: past `limit` bytes the head is cut (the tail says how the task ended), with a note."""
    data = text.encode(errors="replace")
    if len(data) <= limit:
        return data
    note = f"[flowdrop: output truncated: {len(data) - limit} of {len(data)} bytes not kept (--max-log-size)]\n"
    return note.encode() + data[len(data) - limit:]


class _BinaryTee(io.RawIOBase):
    """The `.buffer` of a task stream: bytes written here go to the text stream, decoded."""

    def __init__(self, text: _Tee):
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self._text.write(raw.decode(self._text.encoding, errors="replace"))
        return len(raw)

    def flush(self) -> None:
        self._text.flush()


class _Tee(io.TextIOBase):
    """A task's sys.stdout or sys.stderr: writes to the real stream and keeps a copy for the stored log.

    It behaves like a real text stream (`encoding`, `errors`, `buffer`,
    `fileno`, `isatty`), because user code asks: code written for Metaflow
    writes bytes to `sys.stdout.buffer` or checks `sys.stdout.encoding`.
    """

    def __init__(self, stream: Any):
        self._stream = stream
        self.buffer_copy = io.StringIO()
        self._buffer = _BinaryTee(self)

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return getattr(self._stream, "errors", None) or "strict"

    @property
    def buffer(self) -> _BinaryTee:
        return self._buffer

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._stream.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.buffer_copy.write(text)
        self._stream.write(text)
        self._stream.flush()
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


@contextmanager
def captured_output() -> Iterator[tuple[_Tee, _Tee]]:
    """sys.stdout and sys.stderr as _Tee streams while the block runs; the two streams (their .buffer_copy)."""
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = old
