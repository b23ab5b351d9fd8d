"""What makes moto durable for the embedded stack: a journal of the state-changing calls, replayed on start.

Owns, inside the moto server process: a WSGI layer in front of moto that
appends each *successful* state-changing request of the durable services to
<state_dir>/moto/journal.jsonl (DynamoDB writes, Step Functions state
machines, versions and aliases, Scheduler schedules, EventBridge rules and
buses, SNS topics and subscriptions, S3 objects and buckets); S3 object
writes are journaled as the object moto ended up holding (body in
blobs/<sha256>, so multipart, copies and aws-chunked uploads need no
special replay); asking for a snapshot of every execution in
executions.json (executions.py) every few seconds and on request; and on
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

from flowdrop.local.moto.executions import ExecutionSnapshot

log = logging.getLogger(__name__)

STATE_DIR_ENV = "FLOWDROP_MOTO_STATE_DIR"
CONTROL_PREFIX = "/flowdrop-api/journal/"
SNAPSHOT_INTERVAL = 2.0  # seconds between two looks at the executions

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


class Journal:
    """The journal, blob store and execution snapshot of one state dir; wraps moto's WSGI app."""

    def __init__(self, state_dir: Path):
        self.root = Path(state_dir) / "moto"
        self.journal_path = self.root / "journal.jsonl"
        self.blobs = self.root / "blobs"
        self.executions = ExecutionSnapshot(self.root / "executions.json")
        self.recording = False
        self._lock = threading.Lock()
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
        restored = self.executions.restore()
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
        return self.executions.snapshot()

    def _snapshot_loop(self) -> None:
        while not self._stop.wait(SNAPSHOT_INTERVAL):
            try:
                self.snapshot()
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("flowdrop journal: execution snapshot failed")


def _xml_text(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode("utf-8"))
