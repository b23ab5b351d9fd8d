"""Where a flow's artifacts, run metadata, task attempts and logs live.

Owns: a flow's slice of a Storage and the JSON/pickle encoding of what is
stored, in the key layout of model/layout.py (the compiler reads the same
keys); what keeps a task's requests few: done.json carrying its attempt's
record, empty logs not written, a task's blobs kept for its lifetime
(cache_blobs) and read ahead or concurrently where requests are round trips.
Does not own: deciding what to store (runtime/), reading it back the
Metaflow way (client.py), or bytes on disk or in S3 (the Storage backends).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flowdrop.datastore.storage import Storage
from flowdrop.errors import DatastoreError, MissingKey
from flowdrop.model import layout

# Protocol 4 is readable by every Python this project supports and gives
# the same bytes for the same value, so identical artifacts share one blob.
PICKLE_PROTOCOL = 4
# done.json carries a copy of its attempt's record (artifacts, foreach stack, ...) so a task reads each input
# in one request, not two; up to this size (a Batch foreach step's done.json is read into the state data,
# whose limit is 256 KiB). A bigger record stays in attempt-N.json alone, read as before.
DONE_RECORD_LIMIT = 32 * 1024
INCLUDES_ATTEMPT = "includes_attempt"
# Blobs read from (or written to) this store are kept, as bytes, for the rest of a task: the same value is
# unpickled afresh on each use (a foreach task's `self.input`, a join's identical inherited artifacts), but
# fetched once. Readahead: a join reading one artifact of its inputs usually reads it from every input, so
# on a store with slow requests (S3) the next READAHEAD inputs' blobs of that name are fetched at once.
BLOB_CACHE_BYTES = 64 * 1024 * 1024
BLOB_CACHE_ITEM_BYTES = 4 * 1024 * 1024
READAHEAD = 16
READERS = 8  # concurrent reads (botocore's connection pool holds 10)


class FlowDatastore:
    """One flow's slice of a Storage, in the layout described in this module."""

    def __init__(self, storage: Storage, flow_name: str):
        self.storage = storage
        self.flow_name = layout.check_name("flow name", flow_name)
        self._blobs: OrderedDict[str, bytes] = OrderedDict()  # sha -> pickled bytes, once cache_blobs() is on
        self._blob_bytes = 0
        self._blob_limit = 0
        self._stored: set[str] = set()  # shas known to be in the store: no second conditional PutObject
        self._groups: dict[str, list[str]] = {}  # sha -> the shas read together with it (read_together)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"FlowDatastore({self.storage.url!r}, {self.flow_name!r})"

    # --- keys (model/layout.py) -----------------------------------------

    def _blob_key(self, sha: str) -> str:
        return layout.blob_key(self.flow_name, sha)

    def _run_key(self, run_id: str, name: str = "") -> str:
        return layout.run_key(self.flow_name, run_id, name)

    def _step_key(self, run_id: str, step: str) -> str:
        return layout.step_key(self.flow_name, run_id, step)

    def _task_key(self, run_id: str, step: str, task_id: str, name: str = "") -> str:
        return layout.task_key(self.flow_name, run_id, step, task_id, name)

    # --- JSON -----------------------------------------------------------

    def _write_json(self, key: str, value: Any) -> None:
        self.storage.put(key, self._encode_json(key, value))

    def _encode_json(self, key: str, value: Any) -> bytes:
        try:
            return json.dumps(value, sort_keys=True, indent=1).encode()
        except (TypeError, ValueError) as err:
            raise DatastoreError(f"{self.storage.url}/{key}: metadata is not JSON: {err}") from err

    def _read_json(self, key: str) -> Any:
        raw = self._get_or_none(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError as err:
            raise DatastoreError(f"{self.storage.url}/{key}: not valid JSON: {err}") from err

    def _get_or_none(self, key: str) -> bytes | None:
        """The bytes under `key`, None when there are none: one request, not a HEAD and a GET."""
        try:
            return self.storage.get(key)
        except MissingKey:
            return None

    # --- artifacts --------------------------------------------------------

    def save_artifacts(self, artifacts: Mapping[str, Any]) -> dict[str, str]:
        """Pickle and store each value once; returns name -> sha256 of its bytes."""
        shas: dict[str, str] = {}
        for name, value in artifacts.items():
            try:
                blob = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
            except Exception as err:  # pickling runs user code: __reduce__ may raise anything
                raise DatastoreError(
                    f"flow {self.flow_name}: artifact '{name}' ({type(value).__name__}) cannot be pickled: {err}. "
                    "Store a picklable value, or use a local variable instead of self."
                ) from err
            sha = hashlib.sha256(blob).hexdigest()
            shas[name] = sha
            if sha in self._stored:
                continue
            try:
                self.storage.put_if_absent(self._blob_key(sha), blob)
            except DatastoreError as err:  # a full disk, a lost connection: say which artifact did not fit
                raise DatastoreError(f"flow {self.flow_name}: artifact '{name}' ({len(blob):,} bytes pickled) was not "
                                     f"saved, so the task fails: {err}") from err
            self._stored.add(sha)
            self._keep_blob(sha, blob)
        return shas

    def cache_blobs(self, max_bytes: int = BLOB_CACHE_BYTES) -> None:
        """Keep blobs read or written, up to `max_bytes` (the task runner: one task's lifetime; off by default,
        so a long-lived client holds no artifacts it was not asked for)."""
        self._blob_limit = max_bytes

    def read_together(self, groups: Iterable[Sequence[str]]) -> None:
        """Say which blobs are likely read one after the other (one artifact of each join input, in order):
        on a store that prefers concurrent reads, reading one fetches the next ones of its group at once."""
        if not self._blob_limit or not getattr(self.storage, "prefers_concurrent_reads", False):
            return
        for group in groups:
            order = list(dict.fromkeys(group))
            if len(order) > 1:
                for sha in order:
                    self._groups.setdefault(sha, order)

    def _keep_blob(self, sha: str, blob: bytes) -> None:
        if len(blob) > min(BLOB_CACHE_ITEM_BYTES, self._blob_limit):
            return
        with self._lock:
            if sha in self._blobs:
                return
            self._blobs[sha] = blob
            self._blob_bytes += len(blob)
            while self._blob_bytes > self._blob_limit and self._blobs:
                _, dropped = self._blobs.popitem(last=False)
                self._blob_bytes -= len(dropped)

    def _blob(self, sha: str) -> bytes:
        with self._lock:
            cached = self._blobs.get(sha)
        if cached is not None:
            return cached
        ahead = self._readahead(sha)
        if ahead:
            for other, blob in zip(ahead, self._readers().map(self._fetch_or_none, ahead)):
                if blob is not None:
                    self._keep_blob(other, blob)
            with self._lock:
                cached = self._blobs.get(sha)
            if cached is not None:
                return cached
        return self._fetch(sha)

    def _readahead(self, sha: str) -> list[str]:
        """`sha` and the next blobs of its read_together group not read yet (empty: no group)."""
        group = self._groups.get(sha)
        if group is None:
            return []
        start = group.index(sha)
        with self._lock:
            return [s for s in group[start:start + READAHEAD] if s not in self._blobs]

    def _fetch(self, sha: str) -> bytes:
        blob = self.storage.get(self._blob_key(sha))
        self._stored.add(sha)
        self._keep_blob(sha, blob)
        return blob

    def _fetch_or_none(self, sha: str) -> bytes | None:
        try:
            return self.storage.get(self._blob_key(sha))
        except DatastoreError:  # the reader that needs it fetches it again and says what is wrong
            return None

    def load_artifact(self, sha: str) -> Any:
        """The value stored under `sha`."""
        blob = self._blob(sha)
        try:
            return pickle.loads(blob)
        except Exception as err:  # unpickling imports user modules and may raise anything
            raise DatastoreError(
                f"{self.storage.url}/{self._blob_key(sha)}: cannot unpickle artifact: {err}. "
                "Is the code that defined its class importable here?"
            ) from err

    def artifact_size(self, sha: str) -> int:
        """Bytes of the stored (pickled) value under `sha`."""
        return self.storage.size(self._blob_key(sha))

    def copy_artifacts_from(self, origin: FlowDatastore, shas: Iterable[str]) -> None:
        """Copy the blobs `shas` from another store of this flow (resume from a production run)."""
        for sha in sorted(set(shas)):
            key = self._blob_key(sha)
            if not self.storage.exists(key):
                self.storage.put_if_absent(key, origin.storage.get(origin._blob_key(sha)))

    # --- runs -----------------------------------------------------------

    def write_run(self, run_id: str, meta: Mapping[str, Any]) -> None:
        """Write the run's run.json."""
        self._write_json(self._run_key(run_id, layout.RUN_FILE), dict(meta))

    def ensure_run(self, run_id: str, meta: Mapping[str, Any]) -> bool:
        """Write run.json unless it exists; True when this call wrote it."""
        key = self._run_key(run_id, layout.RUN_FILE)
        return self.storage.put_if_absent(key, self._encode_json(key, dict(meta)))

    def read_run(self, run_id: str) -> dict | None:
        """The run's run.json, or None."""
        return self._read_json(self._run_key(run_id, layout.RUN_FILE))

    def write_trigger(self, run_id: str, events: list[Mapping[str, Any]]) -> None:
        """Record the events that started `run_id` (what current.trigger and Run.trigger read)."""
        self._write_json(self._run_key(run_id, layout.TRIGGER_FILE), [dict(e) for e in events])

    def read_trigger(self, run_id: str) -> list[dict] | None:
        """The events that started `run_id`, or None when it was not started by events."""
        return self._read_json(self._run_key(run_id, layout.TRIGGER_FILE))

    def write_exit_hooks(self, run_id: str, record: Mapping[str, Any]) -> None:
        """Record what the run's @exit_hook functions did (model.exit_hooks.exit_hooks_record)."""
        self._write_json(self._run_key(run_id, layout.EXIT_HOOKS_FILE), dict(record))

    def read_exit_hooks(self, run_id: str) -> dict | None:
        """The run's exit-hooks.json, or None before its hooks ran (or for a flow without @exit_hook)."""
        return self._read_json(self._run_key(run_id, layout.EXIT_HOOKS_FILE))

    def write_run_status(self, run_id: str, status: Mapping[str, Any]) -> None:
        """Write the run's final status.json."""
        self._write_json(self._run_key(run_id, layout.STATUS_FILE), dict(status))

    def read_run_status(self, run_id: str) -> dict | None:
        """The run's status.json, or None while it runs (or when it ran in Step Functions)."""
        return self._read_json(self._run_key(run_id, layout.STATUS_FILE))

    def list_runs(self) -> list[str]:
        """Run ids, newest first by run.json "created", then by id (descending)."""
        return [run_id for run_id, _meta in self.read_runs()]

    def read_runs(self) -> list[tuple[str, dict]]:
        """(run id, run.json or {}) of every run, newest first as in list_runs."""
        runs = [(run_id, self.read_run(run_id) or {}) for run_id in self.storage.list_children(f"{self.flow_name}/runs")]
        runs.sort(key=lambda item: (str(item[1].get("created") or ""), item[0]), reverse=True)
        return runs

    def list_steps(self, run_id: str) -> list[str]:
        """Names of the steps of a run that have at least one task, sorted."""
        names = self.storage.list_children(self._run_key(run_id))
        return [n for n in names if n not in (layout.RUN_FILE, layout.STATUS_FILE, layout.TRIGGER_FILE,
                                              layout.EXIT_HOOKS_FILE)]

    def list_tasks(self, run_id: str, step: str) -> list[str]:
        """Task ids of a step, sorted."""
        return self.storage.list_children(self._step_key(run_id, step))

    # --- attempts -----------------------------------------------------------

    def list_attempts(self, run_id: str, step: str, task_id: str) -> list[int]:
        """Attempt numbers with metadata recorded, ascending."""
        attempts = []
        for name in self.storage.list_children(self._task_key(run_id, step, task_id)):
            number = name[len(layout.ATTEMPT_PREFIX) : -len(".json")]
            if name.startswith(layout.ATTEMPT_PREFIX) and name.endswith(".json") and number.isdigit():
                attempts.append(int(number))
        return sorted(attempts)

    def next_attempt(self, run_id: str, step: str, task_id: str) -> int:
        """The number the next attempt of this task takes: 0 when none is recorded."""
        attempts = self.list_attempts(run_id, step, task_id)
        return attempts[-1] + 1 if attempts else 0

    def claim_attempt(self, run_id: str, step: str, task_id: str, meta: Mapping[str, Any], first: int = 0) -> int:
        """Write `meta` as the first free attempt number from `first` on, atomically; that number.

        A conditional write per try instead of a listing: two deliveries of
        one task get distinct attempts, and no request grows with the store
        (listing a prefix is a scan of the whole bucket on the embedded S3).
        `first` is a hint, e.g. Step Functions' retry count; lower numbers are
        not tried, so pass 0 when unsure.
        """
        attempt = max(0, int(first))
        while True:
            key = self._task_key(run_id, step, task_id, f"{layout.ATTEMPT_PREFIX}{attempt}.json")
            if self.storage.put_if_absent(key, self._encode_json(key, {**meta, "attempt": attempt})):
                return attempt
            attempt += 1

    def write_attempt(self, run_id: str, step: str, task_id: str, attempt: int, meta: Mapping[str, Any]) -> None:
        """Write (or update) one attempt's metadata."""
        self._write_json(self._task_key(run_id, step, task_id, f"{layout.ATTEMPT_PREFIX}{int(attempt)}.json"), dict(meta))

    def read_attempt(self, run_id: str, step: str, task_id: str, attempt: int) -> dict | None:
        """One attempt's metadata, or None."""
        return self._read_json(self._task_key(run_id, step, task_id, f"{layout.ATTEMPT_PREFIX}{int(attempt)}.json"))

    def mark_done(
        self, run_id: str, step: str, task_id: str, attempt: int, extra: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
    ) -> None:
        """Record `attempt` as the task's outcome that later steps read.

        `record`: the attempt's metadata as just written; kept in done.json too (up to DONE_RECORD_LIMIT),
        so read_done answers from one object.
        """
        key = self._task_key(run_id, step, task_id, layout.DONE_FILE)
        done = {**(extra or {}), "attempt": int(attempt)}
        if record is not None:
            full = self._encode_json(key, {**record, **done, INCLUDES_ATTEMPT: True})
            if len(full) <= DONE_RECORD_LIMIT:
                self.storage.put(key, full)
                return
        self._write_json(key, done)

    def read_done_record(self, run_id: str, step: str, task_id: str) -> dict | None:
        """done.json alone (attempt, status, foreach_count): one read, for who needs only the outcome."""
        return self._read_json(self._task_key(run_id, step, task_id, layout.DONE_FILE))

    def read_done(self, run_id: str, step: str, task_id: str) -> dict | None:
        """done.json merged over that attempt's metadata (so it has "artifacts"), or None."""
        done = self._read_json(self._task_key(run_id, step, task_id, layout.DONE_FILE))
        if done is None:
            return None
        if done.pop(INCLUDES_ATTEMPT, False):
            return done
        attempt = self.read_attempt(run_id, step, task_id, int(done["attempt"])) or {}
        return {**attempt, **done}

    def read_done_many(self, run_id: str, tasks: Sequence[tuple[str, str]]) -> list[dict | None]:
        """read_done of each (step, task id), in order; concurrently on a store that prefers it (a join's inputs)."""
        if len(tasks) < 2 or not getattr(self.storage, "prefers_concurrent_reads", False):
            return [self.read_done(run_id, step, task_id) for step, task_id in tasks]
        return list(self._readers().map(lambda task: self.read_done(run_id, *task), tasks))

    def _readers(self) -> ThreadPoolExecutor:
        """The threads of concurrent reads, made on first use (a thread start costs as much as a small read)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="flowdrop-read")
            return self._pool

    # --- logs and foreach items -----------------------------------------------

    def save_logs(self, run_id: str, step: str, task_id: str, attempt: int, stdout: bytes, stderr: bytes) -> None:
        """Store one attempt's captured stdout and stderr (an empty stream is not written: a missing log reads
        as empty, and most tasks print nothing, so that is two requests fewer per task)."""
        base = f"{layout.ATTEMPT_PREFIX}{int(attempt)}"
        for stream, data in (("stdout", stdout), ("stderr", stderr)):
            if data:
                self.storage.put(self._task_key(run_id, step, task_id, f"{base}.{stream}"), data)

    def load_logs(self, run_id: str, step: str, task_id: str, attempt: int | None = None) -> tuple[bytes, bytes]:
        """(stdout, stderr) of `attempt`, or of the latest one; empty when none were saved."""
        if attempt is None:
            attempts = self.list_attempts(run_id, step, task_id)
            if not attempts:
                return b"", b""
            attempt = attempts[-1]
        base = f"{layout.ATTEMPT_PREFIX}{int(attempt)}"
        logs = []
        for stream in ("stdout", "stderr"):
            key = self._task_key(run_id, step, task_id, f"{base}.{stream}")
            logs.append(self._get_or_none(key) or b"")
        return logs[0], logs[1]

    def write_foreach_items(self, run_id: str, step: str, task_id: str, count: int) -> dict[str, str] | None:
        """Write the foreach item list [{"index": i}, ...]; returns its S3 location (None in a folder)."""
        key = self._task_key(run_id, step, task_id, layout.FOREACH_ITEMS_FILE)
        self.storage.put(key, json.dumps([{"index": i} for i in range(int(count))]).encode())
        return self.storage.location(key)

    def load_task_artifacts(self, run_id: str, step: str, task_id: str) -> dict[str, Any]:
        """Every artifact of the task's done attempt, unpickled."""
        done = self.read_done(run_id, step, task_id)
        if done is None:
            raise DatastoreError(
                f"{self.storage.url}: task {self.flow_name}/{run_id}/{step}/{task_id} has not finished "
                "successfully: it has no done.json"
            )
        return {name: self.load_artifact(sha) for name, sha in (done.get("artifacts") or {}).items()}
