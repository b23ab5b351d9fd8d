"""What the deployer writes in a production run's datastore: its final status and, for a resume, its run.json.

Owns: where a production run's records live (read from the run-start
state's output in the execution history: flow name, run id, datastore
root), the status.json a terminated run gets (so the client API says it
ended ABORTED; a task killed mid-step cannot write it), and opening the
flow's datastore over the deployer's own S3 client.
Does not own: stopping or starting executions (runs.py, resume.py), the
key layout (model/layout.py) or the datastore itself (datastore/).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowdrop.datastore import FlowDatastore, S3Storage
from flowdrop.deployer.clients import AWS_ERRORS, Clients
from flowdrop.errors import FlowdropError
from flowdrop.model import state_names

# How a run's status.json spells Step Functions' final statuses (the local
# runtime writes "succeeded" / "failed" the same way).
ABORTED = "aborted"


@dataclass(frozen=True)
class RunContext:
    """Where a production run keeps its records: the `$.run` its run-start state made."""

    flow_name: str
    run_id: str
    datastore_root: str

    @classmethod
    def from_history(cls, events: list[Mapping[str, Any]]) -> RunContext | None:
        """The context in an execution history, or None before the run-start state exited (or for a
        datastore that is not S3, which the deployer cannot write)."""
        for event in events:
            details = event.get("stateExitedEventDetails") or {}
            if details.get("name") != state_names.START_RUN:
                continue
            try:
                run = json.loads(details.get("output") or "{}").get("run") or {}
            except (ValueError, AttributeError):
                return None
            root = str(run.get("datastore_root") or "")
            if not root.startswith("s3://") or not run.get("flow_name") or not run.get("run_id"):
                return None
            return cls(str(run["flow_name"]), str(run["run_id"]), root)
        return None


def flow_datastore(clients: Clients, root: str, flow_name: str) -> FlowDatastore:
    """The datastore of `flow_name` under the S3 root `root`, over the deployer's S3 client."""
    bucket, _, prefix = root[len("s3://"):].partition("/")
    return FlowDatastore(S3Storage(clients.s3, bucket, prefix), flow_name)


def read_context(clients: Clients, execution_arn: str) -> RunContext | None:
    """The run context of an execution, from the first page of its history (the run-start state is
    the second state of every flowdrop state machine)."""
    try:
        events = clients.sfn.get_execution_history(executionArn=execution_arn, maxResults=50)["events"]
    except AWS_ERRORS:
        return None
    return RunContext.from_history(events)


def record_aborted(clients: Clients, context: RunContext, now: datetime, cause: str) -> bool:
    """Write status.json of a stopped run, once it has a run.json; True when written.

    Best effort: the execution is stopped whatever happens here; a run that
    never started a task has no run in the datastore to mark.
    """
    ds = flow_datastore(clients, context.datastore_root, context.flow_name)
    try:
        if ds.read_run(context.run_id) is None:
            return False
        ds.write_run_status(context.run_id, {"status": ABORTED, "finished": now.isoformat(), "cause": cause})
    except FlowdropError:
        return False
    return True
