"""Where a flow's artifacts, run metadata, task attempts and logs live.

Owns: a flow's slice of a Storage and the JSON/pickle encoding of what is
stored, in the key layout of model/layout.py (the compiler reads the same
keys). Does not own: deciding what to store (runtime/), reading it back the
Metaflow way (client.py), or bytes on disk or in S3 (the Storage backends).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterable, Mapping
from typing import Any

from flowdrop.datastore.storage import Storage
from flowdrop.errors import DatastoreError, MissingKey
from flowdrop.model import layout

# Protocol 4 is readable by every Python this project supports and gives
# the same bytes for the same value, so identical artifacts share one blob.
PICKLE_PROTOCOL = 4


class FlowDatastore:
    """One flow's slice of a Storage, in the layout described in this module."""

    def __init__(self, storage: Storage, flow_name: str):
        self.storage = storage
        self.flow_name = layout.check_name("flow name", flow_name)

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
            try:
                self.storage.put_if_absent(self._blob_key(sha), blob)
            except DatastoreError as err:  # a full disk, a lost connection: say which artifact did not fit
                raise DatastoreError(f"flow {self.flow_name}: artifact '{name}' ({len(blob):,} bytes pickled) was not "
                                     f"saved, so the task fails: {err}") from err
            shas[name] = sha
        return shas

    def load_artifact(self, sha: str) -> Any:
        """The value stored under `sha`."""
        blob = self.storage.get(self._blob_key(sha))
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
        self, run_id: str, step: str, task_id: str, attempt: int, extra: Mapping[str, Any] | None = None
    ) -> None:
        """Record `attempt` as the task's outcome that later steps read."""
        self._write_json(self._task_key(run_id, step, task_id, layout.DONE_FILE), {**(extra or {}), "attempt": int(attempt)})

    def read_done_record(self, run_id: str, step: str, task_id: str) -> dict | None:
        """done.json alone (attempt, status, foreach_count): one read, for who needs only the outcome."""
        return self._read_json(self._task_key(run_id, step, task_id, layout.DONE_FILE))

    def read_done(self, run_id: str, step: str, task_id: str) -> dict | None:
        """done.json merged over that attempt's metadata (so it has "artifacts"), or None."""
        done = self._read_json(self._task_key(run_id, step, task_id, layout.DONE_FILE))
        if done is None:
            return None
        attempt = self.read_attempt(run_id, step, task_id, int(done["attempt"])) or {}
        return {**attempt, **done}

    # --- logs and foreach items -----------------------------------------------

    def save_logs(self, run_id: str, step: str, task_id: str, attempt: int, stdout: bytes, stderr: bytes) -> None:
        """Store one attempt's captured stdout and stderr."""
        base = f"{layout.ATTEMPT_PREFIX}{int(attempt)}"
        self.storage.put(self._task_key(run_id, step, task_id, f"{base}.stdout"), stdout)
        self.storage.put(self._task_key(run_id, step, task_id, f"{base}.stderr"), stderr)

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
