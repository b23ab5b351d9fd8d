"""What the embedded stack does around moto's journal so that a restart loses nothing.

Owns: the state dir's lock (one `flowdrop up` per state dir: fcntl.flock on
<state_dir>/stack.lock, holding the owner's pid), marking the runs a stop
interrupted in their datastore (status.json `interrupted`, so the client API
says so and `resume --origin-run-id` goes on from what succeeded), and the
watchdog that notices moto dying under a running stack.
Does not own: the journal and its replay (local/moto/journal.py), or
starting and stopping the stack's parts (local/stack.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from flowdrop.deployer import run_records
from flowdrop.deployer.clients import AWS_ERRORS, Clients
from flowdrop.errors import FlowdropError
from flowdrop.local.loop import RepeatingThread

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted"  # the local runtime's word for a run a stop cut short (runtime/scheduler.py)


class StateDirLockedError(FlowdropError):
    """Another embedded stack runs on this state dir."""


class StateDirLock:
    """An exclusive lock on a state dir, held while a stack runs on it (released by the OS if it dies)."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "stack.lock"
        self._file: TextIO | None = None

    def acquire(self) -> StateDirLock:
        """Take the lock or raise StateDirLockedError naming the pid that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise StateDirLockedError(
                f"{self.path.parent}: an embedded stack already runs on this state dir (pid {owner}, lock "
                f"{self.path}); stop it first, or give `flowdrop up --state-dir` another directory") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        """Give the lock back (safe to call twice)."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def mark_interrupted(clients: Clients, restored: list[dict[str, Any]], now: datetime | None = None) -> list[str]:
    """Write status.json `interrupted` for each restored execution the stop cut short; their run ids."""
    marked = []
    moment = (now or datetime.now(timezone.utc)).isoformat()
    for execution in restored:
        if not execution.get("interrupted"):
            continue
        context = run_records.read_context(clients, execution["arn"])
        if context is None:
            continue  # the run had not started a task: nothing in the datastore to mark
        cause = (f"interrupted: the embedded stack stopped while the run was going; "
                 f"`python flow.py resume --origin-run-id {context.run_id}` goes on from what succeeded")
        ds = run_records.flow_datastore(clients, context.datastore_root, context.flow_name)
        try:
            if ds.read_run(context.run_id) is None:
                continue
            ds.write_run_status(context.run_id, {"status": INTERRUPTED, "finished": moment, "cause": cause})
        except (FlowdropError, *AWS_ERRORS):
            log.exception("could not mark %s interrupted", context.run_id)
            continue
        marked.append(context.run_id)
    return marked


class MotoWatchdog:
    """Calls `on_exit(code)` once if the moto process ends while the stack runs."""

    def __init__(self, process: Any, on_exit: Callable[[int], None], interval: float = 0.5):
        self.process = process
        self.on_exit = on_exit
        self.exit_code: int | None = None
        self._loop = RepeatingThread("flowdrop-moto-watchdog", self._look, pause=interval)

    def start(self) -> MotoWatchdog:
        """Start watching."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching (before moto is stopped on purpose)."""
        self._loop.stop(timeout)

    def _look(self) -> None:
        code = self.process.poll()
        if code is None or self.exit_code is not None:
            return
        self.exit_code = code
        self._loop.stopping.set()
        log.error("the moto server (the stack's AWS endpoint) exited with code %s; the embedded stack stops", code)
        self.on_exit(code)
