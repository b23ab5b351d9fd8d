"""The embedded stack's executions kept across restarts: a snapshot of every execution, put back on start.

Owns, inside the moto server process: ExecutionSnapshot, which writes every
Step Functions execution (status, dates, input, output, error, cause,
version and alias, its history) to executions.json when asked (the journal's
loop asks every few seconds and on stop), encoding a finished execution once
and a running one's new events only; restore(), which puts them back under
their state machines without running them (RUNNING ones come back ABORTED
with error `flowdrop.StackStopped`); and the patch by which a restored
execution answers GetExecutionHistory from its snapshot. Does not own the
journal of state-changing calls (journal.py) or when snapshots are taken.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STOPPED_ERROR = "flowdrop.StackStopped"
RUNNING_HISTORY_LIMIT = 2000  # events of a running execution's history kept in each snapshot


# --- JSON with datetimes (execution histories) -------------------------------------------------

def _encode(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"not JSON: {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    if set(value) == {"$dt"}:
        return datetime.datetime.fromisoformat(value["$dt"])
    return value


class ExecutionSnapshot:
    """executions.json of one state dir: written by snapshot(), read back by restore()."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._finished: dict[str, dict[str, Any]] = {}  # execution ARN -> its snapshot once it ended
        self._finished_text: dict[str, str] = {}  # execution ARN -> that snapshot as JSON
        self._running: dict[str, tuple[Any, list[str]]] = {}  # running execution ARN -> (its events, as JSON)
        self._last_snapshot = ""

    def snapshot(self) -> int:
        """Write every execution's record to executions.json (if anything changed); how many there are."""
        # A finished execution's text is made once: re-encoding every ended run's history every
        # SNAPSHOT_INTERVAL made a long-lived stack slower with each run (issue 17).
        parts = [self._execution_text(execution) for execution in _executions()]
        text = "[" + ", ".join(parts) + "]"  # what json.dumps of the list writes
        with self._lock:
            if text != self._last_snapshot:
                temp = self.path.with_name(".tmp-executions.json")
                temp.write_text(text, encoding="utf-8")
                os.replace(temp, self.path)
                self._last_snapshot = text
        return len(parts)

    def _execution_text(self, execution: Any) -> str:
        arn = execution.execution_arn
        if arn in self._finished_text:
            return self._finished_text[arn]
        running = _running_events(execution)
        if running is not None and arn not in self._finished:
            return self._running_text(execution, running)
        self._running.pop(arn, None)
        text = json.dumps(self._execution_record(execution), default=_encode, sort_keys=True)
        if arn in self._finished:
            self._finished_text[arn] = text
        return text

    def _running_text(self, execution: Any, manager: Any) -> str:
        """A running execution's record as _execution_record + json.dumps make it, encoding only the events
        added since the last snapshot: a wide run's history was deep-copied and encoded whole every
        SNAPSHOT_INTERVAL (~6 % of moto's CPU in a 50-way foreach, issue 17). Events are append-only."""
        arn = execution.execution_arn
        known = self._running.get(arn)
        if known is None or known[0] is not manager:
            known = self._running[arn] = (manager, [])
        texts = known[1]
        with manager._mutex:
            new = copy.deepcopy(manager._history_event_list[len(texts):])
        texts.extend(json.dumps(event, default=_encode, sort_keys=True) for event in new)
        kept = texts if len(texts) <= RUNNING_HISTORY_LIMIT else texts[:50]
        record = self._execution_record(execution, history=_HISTORY_MARK)
        text = json.dumps(record, default=_encode, sort_keys=True)
        return text.replace(json.dumps(_HISTORY_MARK), "[" + ", ".join(kept) + "]", 1)

    def _execution_record(self, execution: Any, history: Any = None) -> dict[str, Any]:
        """`history`: put in place of a running execution's events (they are not read then)."""
        arn = execution.execution_arn
        if arn in self._finished:
            return self._finished[arn]
        status = execution.exec_status.value if execution.exec_status is not None else "RUNNING"
        record = {
            "arn": arn, "name": execution.name, "state_machine_arn": execution.state_machine_arn,
            "version_arn": getattr(execution, "state_machine_version_arn", None),
            "alias_arn": getattr(execution, "state_machine_alias_arn", None),
            "status": status, "start_date": execution.start_date, "stop_date": execution.stop_date,
            "input": execution.execution_input, "output": execution.output,
            "error": execution.error, "cause": execution.cause,
        }
        if status == "RUNNING" and history is not None:
            record["history"] = history
            return record
        events = execution.to_history_output()["events"] if execution.exec_worker is not None else []
        if status == "RUNNING":
            # What an interrupted run is restored with: enough for its run context (the run-start
            # state is among the first events) and, unless the history is huge, each step's state.
            record["history"] = events if len(events) <= RUNNING_HISTORY_LIMIT else events[:50]
        else:
            record["history"] = events
            # Serialize once: a finished execution never changes.
            record = json.loads(json.dumps(record, default=_encode), object_hook=_decode)
            self._finished[arn] = record
        return record

    def restore(self) -> list[dict[str, Any]]:
        """Put the snapshot's executions back (RUNNING ones ABORTED); what was restored."""
        if not self.path.exists():
            return []
        records = json.loads(self.path.read_text(encoding="utf-8"), object_hook=_decode)
        stopped_at = datetime.datetime.fromtimestamp(self.path.stat().st_mtime, datetime.timezone.utc)
        out = []
        for record in records:
            try:
                interrupted = _restore_execution(record, stopped_at)
            except Exception:  # noqa: BLE001 - a run whose flow was deleted has nowhere to go
                log.exception("flowdrop journal: could not restore execution %s", record.get("arn"))
                continue
            out.append({"arn": record["arn"], "name": record["name"], "state_machine_arn": record["state_machine_arn"],
                        "status": "ABORTED" if interrupted else record["status"], "interrupted": interrupted})
        return out


_HISTORY_MARK = "\x00flowdrop-history\x00"  # where a running record's events go in its JSON text


def _running_events(execution: Any) -> Any:
    """The EventManager of an execution that is running in this server (its history still grows), or None.
    Reads moto's parser internals (backend/execution.py:244-250, asl/eval/event/event_manager.py:61-73, 214-216:
    the events are appended to `_history_event_list` under `_mutex`; the canary in test_moto_journal_snapshot.py)."""
    if execution.exec_worker is None or (execution.exec_status is not None and execution.exec_status.value != "RUNNING"):
        return None
    env = execution.exec_worker.env
    manager = getattr(env, "event_manager", None) if env is not None else None
    if manager is None or not hasattr(manager, "_history_event_list") or not hasattr(manager, "_mutex"):
        return None
    return manager


def _executions() -> list[Any]:
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    found = []
    for regional in list(stepfunctions_parser_backends.values()):
        for backend in list(regional.values()):
            for machine in list(backend.state_machines):
                found.extend(list(machine.executions))
    return found


def _restore_execution(record: dict[str, Any], stopped_at: datetime.datetime) -> bool:
    """Put one execution back under its state machine, as it was (RUNNING: ABORTED); True when interrupted."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    fields = record["arn"].split(":")
    region, account = fields[3], fields[4]
    backend = stepfunctions_parser_backends[account][region]
    machine = backend.describe_state_machine(record["state_machine_arn"])
    target = machine
    version_arn = record.get("version_arn")
    if version_arn and version_arn.rsplit(":", 1)[-1].isdigit():
        target = machine.versions.get(int(version_arn.rsplit(":", 1)[-1]), machine)
    execution = Execution(
        name=record["name"], sm_type=target.sm_type, role_arn=target.roleArn, exec_arn=record["arn"],
        account_id=account, region_name=region, state_machine=target, start_date=record["start_date"],
        cloud_watch_logging_session=None, activity_store={}, input_data=record["input"] or "{}")
    interrupted = record["status"] == "RUNNING"
    execution.exec_status = ExecutionStatus.ABORTED if interrupted else ExecutionStatus(record["status"])
    execution.stop_date = stopped_at if interrupted else record["stop_date"]
    execution.output = record.get("output")
    execution.error = STOPPED_ERROR if interrupted else record.get("error")
    execution.cause = (f"interrupted: the embedded stack stopped while the run was going (at "
                       f"{stopped_at.isoformat(timespec='seconds')}); resume it with `resume --origin-run-id "
                       f"sfn-{record['name']}`") if interrupted else record.get("cause")
    execution.state_machine_arn = machine.arn
    execution.state_machine_version_arn = version_arn
    execution.state_machine_alias_arn = record.get("alias_arn")
    execution.restored_history = record.get("history") or []
    if any(existing.execution_arn == record["arn"] for existing in machine.executions):
        return interrupted
    machine.executions.append(execution)
    return interrupted


def _history_output(self: Any) -> Any:
    # A restored execution has no worker (it is not run again): its history is the one saved when it ended.
    restored = getattr(self, "restored_history", None)
    if restored is not None:
        return {"events": restored}
    return _STOCK_HISTORY(self)


_STOCK_HISTORY: Callable[..., Any] = lambda self: None  # noqa: E731 - replaced by apply_patches


def apply_patches() -> None:
    """Restored executions answer GetExecutionHistory from their snapshot; calling it again changes nothing."""
    global _STOCK_HISTORY
    from moto.stepfunctions.parser.backend.execution import Execution

    if Execution.to_history_output is not _history_output:
        _STOCK_HISTORY = Execution.to_history_output
        Execution.to_history_output = _history_output
