"""Operator actions the `flowdrop` CLI and the demo share, for the embedded stack and AWS alike.

Owns: reading a production run's task logs through the client API
(`task_logs`), reading a run's artifacts (`run_artifacts`), and firing a
flow's schedule now (`fire_schedule`): on the embedded stack through its
control route (its clock invokes the scheduled handler in-process), on AWS
by invoking the schedule's target Lambda with its Input, as EventBridge
Scheduler would. Does not own: HTTP (api_client.py) or printing (operator.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from flowdrop.config import ClientConfig
from flowdrop.errors import FlowdropError


def production_client(config: ClientConfig) -> None:
    """Point the client API at the production datastore, in every namespace."""
    from flowdrop.client import namespace, set_datastore
    from flowdrop.datastore import open_storage

    root = config.production_datastore or config.datastore
    set_datastore(open_storage(root, config.aws), production=None)
    namespace(None)


def flow_name_of(config: ClientConfig, flow: str) -> str:
    """The flow class name runs are stored under for state machine `flow` (they differ for @project flows)."""
    if not config.api_url:
        return flow
    from flowdrop.cli.api_client import ApiClient
    from flowdrop.errors import ApiError

    try:
        return str(ApiClient.from_config(config).get_flow(flow).get("flow_name") or flow)
    except ApiError:
        return flow


def task_logs(config: ClientConfig, flow: str, run_id: str, step: str | None = None) -> list[tuple[str, str, str]]:
    """(task pathspec, stdout, stderr) of every task of the run (or of one step), in run order."""
    from flowdrop.client import Run

    production_client(config)
    run = Run(f"{flow_name_of(config, flow)}/{run_id}")
    steps = [run[step]] if step else sorted(run.steps(), key=lambda s: (s._started(), s.id))
    return [(task.pathspec, task.stdout, task.stderr) for s in steps for task in s.tasks()]


def run_artifacts(config: ClientConfig, flow: str, run_id: str) -> dict[str, dict[str, Any]]:
    """Step -> artifact name -> value of each step's first task (skipping private names)."""
    from flowdrop.client import Run

    production_client(config)
    run = Run(f"{flow_name_of(config, flow)}/{run_id}")
    out: dict[str, dict[str, Any]] = {}
    for step in sorted(run.steps(), key=lambda s: (s._started(), s.id)):
        task = step.task
        if task is not None and task.successful:
            out[step.id] = {name: getattr(task.data, name) for name in task.data if not name.startswith("_")}
    return out


def fire_schedule(config: ClientConfig, flow: str) -> list[dict[str, Any]]:
    """Fire `flow`'s schedule rule now; one answer per invocation of the scheduled handler."""
    if config.aws_endpoint:
        from flowdrop.cli.api_client import ApiClient

        answer = ApiClient.from_config(config).request("POST", "/_local/schedule/fire", {"flow": flow})
        return list(answer.get("firings") or [])
    return _fire_on_aws(config, flow)


def _fire_on_aws(config: ClientConfig, flow: str) -> list[dict[str, Any]]:
    """Invoke the schedule's target as EventBridge Scheduler would, for this minute's tick."""
    import uuid

    from botocore.exceptions import BotoCoreError, ClientError

    from flowdrop.model import names
    from flowdrop.model.schedule import scheduler_input

    name, group = names.schedule_name(flow), names.SCHEDULE_GROUP
    moment = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    try:
        schedule = config.aws.client("scheduler").get_schedule(Name=name, GroupName=group)
        target = schedule["Target"]
        event = scheduler_input(target.get("Input") or "{}", moment, schedule.get("Arn", ""),
                                execution_id=str(uuid.uuid4()))
        response = config.aws.client("lambda").invoke(FunctionName=target["Arn"], Payload=json.dumps(event).encode())
    except (ClientError, BotoCoreError, ValueError) as err:
        raise FlowdropError(f"firing schedule {group}/{name} of flow {flow!r} failed: {err}") from err
    payload = json.loads(response["Payload"].read() or b"null")
    error = payload.get("errorMessage") if response.get("FunctionError") and isinstance(payload, dict) else None
    return [{"rule": name, "time": moment.isoformat(), "result": None if error else payload, "error": error}]
