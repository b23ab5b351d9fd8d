"""One step of a production run, task by task: what the operator page shows when a step is clicked.

Owns: step_tasks (a step's tasks read from the run's datastore as the client
API reads them: each task's attempts with their status and exception, the
last lines of the latest attempt's stdout and stderr, its artifacts' names
and sizes), at most `limit` tasks per answer. Does not own: where the run's
datastore is (run_records.py), the key layout (model/layout.py) or the run's
states (runs.py). Read-only.
"""

from __future__ import annotations

from typing import Any

from flowdrop.datastore import FlowDatastore
from flowdrop.deployer import run_records
from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error, error_code
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.trigger import machine_arn
from flowdrop.errors import DatastoreError, FlowNotFoundError, RequestError
from flowdrop.model import layout, names
from flowdrop.model import runs as run_ids

MAX_TASKS = 200
DEFAULT_TASKS = 25
LOG_TAIL_LINES = 40
LOG_TAIL_BYTES = 16 * 1024  # of each stream: a page shows the end of a log, never a 10 MB one
MAX_ARTIFACTS = 100  # sized per task (one HeadObject each)
ATTEMPT_FIELDS = ("attempt", "status", "started", "finished", "exception_type", "exception_class",
                  "exception_message", "exception")


def step_tasks(flow: str, run: str, step: str, clients: Clients, settings: DeployerSettings,
               limit: int = DEFAULT_TASKS) -> dict[str, Any]:
    """Up to `limit` tasks of `step` in run `run` of `flow`, in task id order, and how many there are."""
    try:
        layout.check_name("step name", step)
    except DatastoreError as err:
        raise RequestError("the step name is invalid", (str(err),)) from err
    name = run_ids.execution_name_of(run)
    arn = names.execution_arn(machine_arn(settings, flow), name)
    try:
        clients.sfn.describe_execution(executionArn=arn)
    except AWS_ERRORS as err:
        if error_code(err) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise FlowNotFoundError(f"flow {flow!r} has no run {run_ids.run_id(name)!r}") from err
        raise aws_error("Step Functions", "DescribeExecution", arn, err) from err
    out: dict[str, Any] = {"flow": flow, "run_id": run_ids.run_id(name), "step": step, "tasks": [], "task_count": 0}
    context = run_records.read_context(clients, arn)
    if context is None:  # its run-start state has not ended: no task has run
        return out
    ds = run_records.flow_datastore(clients, context.datastore_root, context.flow_name)
    task_ids = ds.list_tasks(context.run_id, step)
    out["task_count"] = len(task_ids)
    out["tasks"] = [task_view(ds, context.run_id, step, task_id) for task_id in task_ids[:max(1, limit)]]
    return out


def task_view(ds: FlowDatastore, run_id: str, step: str, task_id: str) -> dict[str, Any]:
    """One task: its attempts, outcome, exception, log tails and artifacts."""
    attempts = []
    for number in ds.list_attempts(run_id, step, task_id):
        meta = ds.read_attempt(run_id, step, task_id, number) or {}
        attempts.append({key: meta[key] for key in ATTEMPT_FIELDS if meta.get(key) is not None})
    done = ds.read_done(run_id, step, task_id)
    last = attempts[-1] if attempts else {}
    stdout, stderr = ds.load_logs(run_id, step, task_id, last.get("attempt")) if attempts else (b"", b"")
    failed = next((a for a in reversed(attempts) if a.get("exception_type")), None)
    shas = dict((done or {}).get("artifacts") or {})
    artifacts = []
    for artifact, sha in sorted(shas.items())[:MAX_ARTIFACTS]:
        if artifact.startswith("_"):  # the runtime's own (_foreach_stack, _item, ...): not the flow's
            continue
        try:
            size: int | None = ds.artifact_size(sha)
        except DatastoreError:
            size = None
        artifacts.append({"name": artifact, "size": size})
    return {
        "task_id": task_id,
        "status": str((done or {}).get("status") or last.get("status") or "unknown"),
        "attempts": attempts,
        "exception": ({key: failed.get(key) for key in ("exception_type", "exception_message", "exception")}
                      if failed else None),
        "stdout": log_tail(stdout),
        "stderr": log_tail(stderr),
        "artifacts": artifacts,
        "artifacts_truncated": len(artifacts) < len([a for a in shas if not a.startswith("_")]),
    }


def log_tail(data: bytes, lines: int = LOG_TAIL_LINES, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The last `lines` lines of a log (of its last `max_bytes` bytes), as text."""
    text = data[-max_bytes:].decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").split("\n")[-lines:]) if text else ""
