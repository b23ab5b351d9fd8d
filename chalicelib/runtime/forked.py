"""Launching a task in a forked child of the local runtime: the in-process equivalent
of `python flow.py step ...`.

A fresh interpreter per task costs ~0.2 s of start-up and imports before the
step runs; a fork of the scheduler, which has already imported the flow and
flowdrop, costs a few milliseconds. The child runs exactly the same task
runner (run_task) with its output on pipes, so behaviour is the same; only
the launch is cheaper. POSIX only; elsewhere the scheduler uses subprocesses.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from flowdrop.model.task import TaskPayload


class ForkedTask:
    """A forked task child, with the slice of subprocess.Popen's surface the scheduler uses."""

    def __init__(self, pid: int, stdout: IO[bytes] | None, stderr: IO[bytes] | None):
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def _set_status(self, status: int) -> int:
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        """The exit code if the child has ended, else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._set_status(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; its exit code (subprocess.TimeoutExpired past `timeout`)."""
        if self.returncode is None and timeout is None:
            _, status = os.waitpid(self.pid, 0)
            self._set_status(status)
        deadline = time.monotonic() + (timeout or 0)
        while self.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(f"task pid {self.pid}", timeout)
            self._sleep_until_exit(remaining)
        return self.returncode  # type: ignore[return-value]

    def _sleep_until_exit(self, seconds: float) -> None:
        """Block until the child exits or `seconds` pass: on its pidfd where there is one (Linux), at once
        when it ends; else a 10 ms nap (each worker thread waking 100 times a second per running task)."""
        if hasattr(os, "pidfd_open"):
            try:
                fd = os.pidfd_open(self.pid)
            except OSError:  # already reaped, or a kernel without pidfds
                fd = -1
            if fd >= 0:
                try:
                    select.select([fd], [], [], seconds)
                finally:
                    os.close(fd)
                return
        time.sleep(min(0.01, seconds))

    def terminate(self) -> None:
        """SIGTERM the child."""
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL the child (a task past its timeout, or a run being stopped)."""
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def fork_task(
    run: Callable[[TaskPayload], dict[str, Any]],
    payload: TaskPayload,
    output_file: Path,
    stdout: int | None = None,
    stderr: int | None = None,
    cwd: Path | None = None,
) -> ForkedTask:
    """Fork; the child runs `run(payload)`, writes its output JSON and exits 0, or exits 1 on failure.

    The child's output goes to the given file descriptors, or else to pipes
    the returned ForkedTask exposes as `stdout` and `stderr`.
    """
    out_r, out_w = os.pipe() if stdout is None else (None, stdout)
    err_r, err_w = os.pipe() if stderr is None else (None, stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            for fd in (out_r, err_r):
                if fd is not None:
                    os.close(fd)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            if cwd is not None:
                os.chdir(cwd)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the scheduler's interrupt handler (scheduler.py)
            output = run(payload)
            output_file.write_text(json.dumps(output))
            code = 0
        except BaseException as exc:  # noqa: BLE001 - the child must always reach os._exit
            # run_task already printed the user's traceback; say why we stop.
            if type(exc).__name__ != "TaskError":
                traceback.print_exc()
            else:
                print(str(exc), file=sys.stderr)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    if stdout is None:
        os.close(out_w)
    if stderr is None:
        os.close(err_w)
    return ForkedTask(pid, os.fdopen(out_r, "rb") if out_r is not None else None,
                      os.fdopen(err_r, "rb") if err_r is not None else None)
