"""Where a flow's artifacts, run metadata, task attempts and logs live in a datastore.

Owns: the key layout below, for the datastore that writes it and for the
compiler, whose Batch foreach states read `done.json` and
`foreach-items.json` straight from S3. Does not own: the encoding of what is
stored or the bytes (datastore/). Pure.

Layout, relative to the Storage root (a folder or s3://bucket/prefix):

  <Flow>/data/<sha[:2]>/<sha>                       artifact blobs: pickled values,
                                                     content-addressed (sha256 of the
                                                     bytes), written once
  <Flow>/runs/<run_id>/run.json                     run metadata (whoever starts the run; a
                                                     production resume's says `resume`)
  <Flow>/runs/<run_id>/status.json                  final run status (a run ending locally,
                                                     or a terminated production run)
  <Flow>/runs/<run_id>/trigger.json                 the events that started a triggered run (the deployer
                                                     writes it before it starts the execution)
  <Flow>/runs/<run_id>/exit-hooks.json              what the run's @exit_hook functions did (the local
                                                     runtime or the production hook task writes it)
  <Flow>/runs/<run_id>/<step>/<task_id>/attempt-<n>.json          per-attempt metadata
  <Flow>/runs/<run_id>/<step>/<task_id>/attempt-<n>.stdout|.stderr logs
  <Flow>/runs/<run_id>/<step>/<task_id>/done.json   the successful (or @catch-recorded)
                                                     attempt: {"attempt": n, ...}
  <Flow>/runs/<run_id>/<step>/<task_id>/foreach-items.json  [{"index": 0}, ...] from a
                                                     foreach task (a Distributed Map's
                                                     ItemReader reads it on S3)

Every write goes to a key of its own (attempts are never overwritten), so
tasks running at once, on one machine or many, never contend for a key.
"""

from __future__ import annotations

from flowdrop.errors import DatastoreError

RUN_FILE = "run.json"
STATUS_FILE = "status.json"
TRIGGER_FILE = "trigger.json"
EXIT_HOOKS_FILE = "exit-hooks.json"
DONE_FILE = "done.json"
FOREACH_ITEMS_FILE = "foreach-items.json"
ATTEMPT_PREFIX = "attempt-"


def check_name(kind: str, value: str) -> str:
    """`value` if it can be one part of a key (no '/', not '.' or '..'), else DatastoreError."""
    if not value or "/" in value or value in (".", ".."):
        raise DatastoreError(f"invalid {kind} '{value}': it becomes part of a datastore key")
    return value


def blob_key(flow: str, sha: str) -> str:
    """`<Flow>/data/<sha[:2]>/<sha>`: an artifact blob."""
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise DatastoreError(f"{flow}: '{sha}' is not an artifact sha256")
    return f"{check_name('flow name', flow)}/data/{sha[:2]}/{sha}"


def run_key(flow: str, run_id: str, name: str = "") -> str:
    """`<Flow>/runs/<run_id>[/<name>]`."""
    base = f"{check_name('flow name', flow)}/runs/{check_name('run id', run_id)}"
    return f"{base}/{name}" if name else base


def step_key(flow: str, run_id: str, step: str) -> str:
    """`<Flow>/runs/<run_id>/<step>`."""
    return run_key(flow, run_id, check_name("step name", step))


def task_key(flow: str, run_id: str, step: str, task_id: str, name: str = "") -> str:
    """`<Flow>/runs/<run_id>/<step>/<task_id>[/<name>]`."""
    base = f"{step_key(flow, run_id, step)}/{check_name('task id', task_id)}"
    return f"{base}/{name}" if name else base
