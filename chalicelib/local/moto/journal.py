"""What makes moto durable for the embedded stack: a journal of the state-changing calls, replayed on start.

Owns, inside the moto server process: a WSGI layer in front of moto that
appends each *successful* state-changing request of the durable services to
<state_dir>/moto/journal.jsonl (DynamoDB writes, Step Functions state
machines, versions and aliases, Scheduler schedules, EventBridge rules and
buses, SNS topics and subscriptions, S3 objects and buckets); S3 object
writes are journaled as the object moto ended up holding (body in
blobs/<sha256>, so multipart, copies and aws-chunked uploads need no
special replay); a snapshot of every execution (status, dates, input,
output, error, cause, version and alias, the history once it ended) in
executions.json, written every few seconds and on request; and on
`POST /flowdrop-api/journal/restore` the replay of both, after which
journaling starts. Executions that were RUNNING when the server stopped
come back ABORTED with error `flowdrop.StackStopped`: nothing runs them any
more, and `resume --origin-run-id` goes on from their datastore.
Does not own: which requests the stack makes (local/stack.py) or the
stack's own resources, created afresh on every start before the replay
(local/resources.py).

Not journaled: SQS (queues are the stack's resources; messages are in
flight by nature), StartExecution and the task-token calls (runs are not
replayed: the snapshot restores their records, never re-executes them),
Batch and Lambda (the stack's resources). moto's own recorder
(MOTO_ENABLE_RECORDING) records every request, polls included, and its
replay would start every run again: not usable for this.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import io
import json
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

STATE_DIR_ENV = "FLOWDROP_MOTO_STATE_DIR"
CONTROL_PREFIX = "/flowdrop-api/journal/"
STOPPED_ERROR = "flowdrop.StackStopped"
SNAPSHOT_INTERVAL = 2.0  # seconds between two looks at the executions
RUNNING_HISTORY_LIMIT = 2000  # events of a running execution's history kept in each snapshot

# X-Amz-Target actions that change durable state, by target prefix.
_JSON_ACTIONS = {
    "DynamoDB_20120810": {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems",
                          "CreateTable", "DeleteTable", "UpdateTable", "UpdateTimeToLive"},
    "AWSStepFunctions": {"CreateStateMachine", "UpdateStateMachine", "DeleteStateMachine",
                         "CreateStateMachineAlias", "UpdateStateMachineAlias", "DeleteStateMachineAlias",
                         "DeleteStateMachineVersion", "TagResource", "UntagResource",
                         "CreateActivity", "DeleteActivity"},
    "AWSEvents": {"PutRule", "PutTargets", "DeleteRule", "RemoveTargets", "EnableRule", "DisableRule",
                  "CreateEventBus", "DeleteEventBus", "TagResource", "UntagResource"},
}
_QUERY_ACTIONS = {"sns": {"CreateTopic", "DeleteTopic", "Subscribe", "Unsubscribe", "SetTopicAttributes",
                          "SetSubscriptionAttributes", "TagResource", "UntagResource"}}
_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_KEPT_HEADERS = ("Content-Type", "X-Amz-Target", "Authorization", "X-Amz-Date", "Host", "X-Amz-Content-Sha256")


def request_kind(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> str | None:
    """How a request is journaled: "s3-object", "s3-delete", "raw", or None (not at all). Pure."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return None
    target = headers.get("X-Amz-Target", "")
    if target:
        prefix, _, action = target.partition(".")
        return "raw" if action in _JSON_ACTIONS.get(prefix, ()) else None
    match = _CREDENTIAL.search(headers.get("Authorization", ""))
    service = match.group(1) if match else ""
    if service == "s3":
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        bucket, _, key = path.lstrip("/").partition("/")
        if not bucket:
            return None
        if not key:  # bucket-level: creation, notification, DeleteObjects (POST ?delete)
            return "raw" if "delete" not in params else "s3-delete-many"
        if "uploads" in params or "partNumber" in params or (method == "DELETE" and "uploadId" in params):
            return None  # a multipart upload's steps: journaled once complete, as the object
        if method == "DELETE":
            return "s3-delete"
        if any(name in params for name in ("tagging", "acl", "retention", "legal-hold")):
            return "raw"
        return "s3-object"
    if service == "scheduler":
        return "raw"
    if service in _QUERY_ACTIONS:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        return "raw" if action in _QUERY_ACTIONS[service] else None
    return None


def compact(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries a replay needs: an S3 object's writes and deletes before its last one are dropped,
    and so is a last delete (the object is not there). Order is kept. Pure."""
    last: dict[tuple[str, str], int] = {}
    for index, entry in enumerate(entries):
        if entry.get("op") in ("s3-put", "s3-delete"):
            last[(entry["bucket"], entry["key"])] = index
    kept = []
    for index, entry in enumerate(entries):
        if entry.get("op") in ("s3-put", "s3-delete"):
            if last[(entry["bucket"], entry["key"])] != index or entry["op"] == "s3-delete":
                continue
        kept.append(entry)
    return kept


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


class Journal:
    """The journal, blob store and execution snapshot of one state dir; wraps moto's WSGI app."""

    def __init__(self, state_dir: Path):
        self.root = Path(state_dir) / "moto"
        self.journal_path = self.root / "journal.jsonl"
        self.blobs = self.root / "blobs"
        self.executions_path = self.root / "executions.json"
        self.recording = False
        self._lock = threading.Lock()
        self._finished: dict[str, dict[str, Any]] = {}  # execution ARN -> its snapshot once it ended
        self._finished_text: dict[str, str] = {}  # execution ARN -> that snapshot as JSON
        self._running: dict[str, tuple[Any, list[str]]] = {}  # running execution ARN -> (its events, as JSON)
        self._last_snapshot = ""
        self._stop = threading.Event()
        self.app: Callable[..., Any] | None = None

    # --- WSGI -------------------------------------------------------------------

    def wrap(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """moto's app with journaling in front of it."""
        self.app = app

        def journaled(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path.startswith(CONTROL_PREFIX):
                return self._control(path[len(CONTROL_PREFIX):], start_response)
            if not self.recording or environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
                return app(environ, start_response)
            headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items()
                       if key.startswith("HTTP_")}
            headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
            headers["X-Amz-Target"] = headers.pop("X-Amz-Target", "")
            body = b""
            chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "")
            if not chunked and environ.get("CONTENT_LENGTH"):
                body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
                environ["wsgi.input"] = io.BytesIO(body)
            # RAW_URI (werkzeug's server) is the path as sent; PATH_INFO is latin-1-decoded bytes.
            s3_path = urllib.parse.unquote(environ.get("RAW_URI", path).split("?")[0])
            kind = request_kind(environ["REQUEST_METHOD"], s3_path, environ.get("QUERY_STRING", ""), headers, body)
            if kind is None:
                return app(environ, start_response)
            status: list[str] = []

            def record_status(code: str, response_headers: list, exc_info: Any = None) -> Any:
                status.append(code)
                return start_response(code, response_headers, exc_info)

            answer = list(app(environ, record_status))
            if status and status[0][:1] == "2":
                try:
                    self._record(kind, environ, s3_path if kind.startswith("s3") else path, headers, body)
                except Exception:  # noqa: BLE001 - the request succeeded; a journal problem is logged loudly
                    log.exception("flowdrop journal: could not record %s %s", environ["REQUEST_METHOD"], path)
            return answer

        return journaled

    def _record(self, kind: str, environ: dict[str, Any], path: str, headers: dict[str, str], body: bytes) -> None:
        bucket, _, key = path.lstrip("/").partition("/")
        if kind == "s3-object":
            self._append(self._object_entry(bucket, key))
        elif kind == "s3-delete":
            self._append({"op": "s3-delete", "bucket": bucket, "key": key})
        elif kind == "s3-delete-many":
            for deleted in re.findall(rb"<Key>(.*?)</Key>", body):
                self._append({"op": "s3-delete", "bucket": bucket, "key": _xml_text(deleted)})
        else:
            kept = {name: headers[name] for name in _KEPT_HEADERS if headers.get(name)}
            self._append({"op": "raw", "method": environ["REQUEST_METHOD"], "path": path,
                          "query": environ.get("QUERY_STRING", ""), "headers": kept,
                          "body": base64.b64encode(body).decode("ascii")})

    def _object_entry(self, bucket: str, key: str) -> dict[str, Any]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        found = s3_backends[DEFAULT_ACCOUNT_ID]["global"].get_object(bucket, key)
        if found is None:
            raise LookupError(f"s3://{bucket}/{key} is not there after a successful write")
        value = found.value
        digest = hashlib.sha256(value).hexdigest()
        blob = self.blobs / digest[:2] / digest
        if not blob.exists():
            blob.parent.mkdir(parents=True, exist_ok=True)
            temp = blob.with_name(f".tmp-{digest}-{threading.get_ident()}")
            temp.write_bytes(value)
            os.replace(temp, blob)
        # LastModified is when S3 received the object: the deployer's "newer" (a late, older package never moves
        # production), so a replay must not make every object new.
        return {"op": "s3-put", "bucket": bucket, "key": key, "blob": digest, "metadata": dict(found.metadata),
                "last_modified": found.last_modified.isoformat()}

    def _append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock, open(self.journal_path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    # --- control endpoints ------------------------------------------------------

    def _control(self, action: str, start_response: Callable[..., Any]) -> list[bytes]:
        try:
            match action:
                case "restore":
                    answer: Any = self.restore()
                case "snapshot":
                    answer = {"executions": self.snapshot()}
                case _:
                    raise LookupError(f"unknown journal action {action!r}; known: restore, snapshot")
            start_response("200 OK", [("Content-Type", "application/json")])
        except Exception as err:  # noqa: BLE001 - the control caller gets the cause
            log.exception("flowdrop journal: %s failed", action)
            answer = {"error": f"{type(err).__name__}: {err}"}
            start_response("500 Internal Server Error", [("Content-Type", "application/json")])
        return [json.dumps(answer, default=str).encode("utf-8")]

    def restore(self) -> dict[str, Any]:
        """Replay the journal and the execution snapshot, then journal from now on."""
        self.root.mkdir(parents=True, exist_ok=True)
        entries = []
        if self.journal_path.exists():
            for number, line in enumerate(self.journal_path.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    # The last line of a server killed mid-write; anything else is a damaged journal.
                    log.warning("flowdrop journal: line %d of %s is not JSON; skipped", number, self.journal_path)
        kept = compact(entries)
        failed = sum(0 if self._replay(entry) else 1 for entry in kept)
        self._rewrite(kept)
        restored = self._restore_executions()
        self.recording = True
        threading.Thread(target=self._snapshot_loop, name="flowdrop-journal-snapshot", daemon=True).start()
        return {"entries": len(entries), "replayed": len(kept) - failed, "failed": failed, "executions": restored}

    def _replay(self, entry: dict[str, Any]) -> bool:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        try:
            match entry["op"]:
                case "s3-put":
                    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
                    value = (self.blobs / entry["blob"][:2] / entry["blob"]).read_bytes()
                    found = backend.put_object(entry["bucket"], entry["key"], value, disable_notification=True)
                    found.set_metadata(entry.get("metadata") or {})
                    if entry.get("last_modified"):
                        found.last_modified = datetime.datetime.fromisoformat(entry["last_modified"])
                    return True
                case "raw":
                    assert self.app is not None
                    builder = EnvironBuilder(path=entry["path"], method=entry["method"],
                                             query_string=entry["query"], headers=entry["headers"],
                                             data=base64.b64decode(entry["body"]))
                    environ = builder.get_environ()
                    environ["RAW_URI"] = entry["path"]
                    _, status, _ = run_wsgi_app(self.app, environ, buffered=True)
                    if not status.startswith("2"):
                        log.warning("flowdrop journal: replaying %s %s answered %s",
                                    entry["method"], entry["path"], status)
                        return False
                    return True
        except Exception:  # noqa: BLE001 - one bad entry must not lose the rest
            log.exception("flowdrop journal: could not replay %s", entry)
        return False

    def _rewrite(self, kept: list[dict[str, Any]]) -> None:
        temp = self.journal_path.with_name(".tmp-journal.jsonl")
        temp.write_text("".join(json.dumps(entry, sort_keys=True) + "\n" for entry in kept), encoding="utf-8")
        os.replace(temp, self.journal_path)
        used = {entry["blob"] for entry in kept if entry.get("op") == "s3-put"}
        if self.blobs.exists():
            for blob in self.blobs.glob("*/*"):
                if blob.name not in used:
                    blob.unlink(missing_ok=True)

    # --- executions -------------------------------------------------------------

    def snapshot(self) -> int:
        """Write every execution's record to executions.json (if anything changed); how many there are."""
        # A finished execution's text is made once: re-encoding every ended run's history every
        # SNAPSHOT_INTERVAL made a long-lived stack slower with each run (issue 17).
        parts = [self._execution_text(execution) for execution in _executions()]
        text = "[" + ", ".join(parts) + "]"  # what json.dumps of the list writes
        with self._lock:
            if text != self._last_snapshot:
                temp = self.executions_path.with_name(".tmp-executions.json")
                temp.write_text(text, encoding="utf-8")
                os.replace(temp, self.executions_path)
                self._last_snapshot = text
        return len(parts)

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(SNAPSHOT_INTERVAL):
            try:
                self.snapshot()
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("flowdrop journal: execution snapshot failed")

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

    def _restore_executions(self) -> list[dict[str, Any]]:
        if not self.executions_path.exists():
            return []
        records = json.loads(self.executions_path.read_text(encoding="utf-8"), object_hook=_decode)
        stopped_at = datetime.datetime.fromtimestamp(self.executions_path.stat().st_mtime, datetime.timezone.utc)
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
    the events are appended to `_history_event_list` under `_mutex`; the canary in test_moto_journal.py)."""
    if execution.exec_worker is None or (execution.exec_status is not None and execution.exec_status.value != "RUNNING"):
        return None
    env = execution.exec_worker.env
    manager = getattr(env, "event_manager", None) if env is not None else None
    if manager is None or not hasattr(manager, "_history_event_list") or not hasattr(manager, "_mutex"):
        return None
    return manager


def _xml_text(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode("utf-8"))


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
