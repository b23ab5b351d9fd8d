"""Resuming a production run in production: a new execution of the production version that reuses
what the origin run did right.

Owns: checking a resume request (the origin run exists, 404; it has ended,
409; the step is one of the flow's, 400 naming them), writing the new
run's run.json before its execution starts, with the origin and the
resume step in it (`resume`), and starting the execution with the origin's
own input (so its parameters). Every task of the new run reads that
run.json (runtime/resume.py) and clones its origin task instead of running
the step when Metaflow's resume would: steps before the resume step, or,
without one, every task that succeeded. Works the same on AWS and on the
embedded stack (no RedriveExecution, which moto lacks and which could not
run a new version anyway).
Does not own: cloning tasks (runtime/resume.py, in the tasks themselves),
HTTP (app.py), starting executions (trigger.start_execution).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowdrop.deployer import run_records
from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error, error_code
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.deployer.trigger import RunStarted, machine_arn, production_release, start_execution
from flowdrop.errors import FlowdropError, FlowNotFoundError, RequestError, RunStillRunningError
from flowdrop.model import names
from flowdrop.model import runs as run_ids


@dataclass(frozen=True)
class ResumeRequest:
    """A resume request validated at the edge: the step to rerun from (None: from what failed)."""

    step: str | None = None
    user: str | None = None

    @classmethod
    def from_body(cls, body: Any) -> ResumeRequest:
        """`{"step": "b"}` or `{}`; RequestError listing every problem otherwise."""
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise RequestError("the resume request is invalid", (f"the body must be a JSON object, got "
                                                                 f"{type(body).__name__}",))
        problems = []
        if "parameters" in body:
            problems.append("parameters: a resumed run reuses its origin's parameters; trigger a new run to "
                            "change them")
        problems += [f"unknown field {name!r}; the body takes step" for name in sorted(set(body) - {
            "step", "user", "parameters"})]
        step, user = body.get("step"), body.get("user")
        if step is not None and (not isinstance(step, str) or not step):
            problems.append(f"step must be a step name, got {step!r}")
        if user is not None and not isinstance(user, str):
            problems.append("user must be a string")
        if problems:
            raise RequestError("the resume request is invalid", tuple(problems))
        return cls(step, user)


def resume_run(flow: str, origin: str, request: ResumeRequest, clients: Clients, settings: DeployerSettings,
               now: datetime) -> dict[str, Any]:
    """Start a new run of `flow`'s production version resuming run `origin`; the API's answer."""
    release = production_release(DeploymentStore(clients.dynamodb, settings.deployments_table), flow)
    if request.step is not None and request.step not in release.steps:
        raise RequestError(f"flow {flow!r} has no step {request.step!r}",
                           (f"step must be one of: {', '.join(release.steps)}",))
    base = machine_arn(settings, flow)
    origin_name = run_ids.execution_name_of(origin)
    origin_id = run_ids.run_id(origin_name)
    origin_arn = names.execution_arn(base, origin_name)
    try:
        execution = clients.sfn.describe_execution(executionArn=origin_arn)
    except AWS_ERRORS as err:
        if error_code(err) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise FlowNotFoundError(f"flow {flow!r} has no run {origin_id!r}") from err
        raise aws_error("Step Functions", "DescribeExecution", origin_arn, err) from err
    if execution["status"] == run_ids.RUNNING:
        raise RunStillRunningError(f"run {origin_id} of {flow} is still running; terminate it or wait for its "
                                   "end before resuming it")
    context = run_records.read_context(clients, origin_arn)
    origin_meta = None
    if context is not None and context.datastore_root == settings.datastore_root:
        try:
            origin_meta = run_records.flow_datastore(clients, context.datastore_root,
                                                     context.flow_name).read_run(origin_id)
        except FlowdropError:
            origin_meta = None
    if context is None or origin_meta is None:
        raise RunStillRunningError(f"run {origin_id} of {flow} left nothing to resume from in "
                                   f"{settings.datastore_root} (it ended before its first task started, or keeps "
                                   "its artifacts elsewhere); trigger a new run instead")
    name = names.fresh_execution_name()
    run_id = run_ids.run_id(name)
    meta = resumed_run_record(origin_meta, context.flow_name, run_id, now, request.user or "an API caller",
                              origin_id, request.step)
    ds = run_records.flow_datastore(clients, settings.datastore_root, context.flow_name)
    ds.write_run(run_id, meta)  # before any task can look for it
    run_input = json.dumps({"Parameters": _origin_parameters(execution.get("input"))})
    started: RunStarted = start_execution(clients, flow, base, name, run_input)
    return {**started.to_dict(), "origin_run_id": origin_id, "resume_step": request.step}


def resumed_run_record(origin: dict[str, Any], flow_name: str, run_id: str, now: datetime, user: str,
                       origin_run_id: str, step: str | None) -> dict[str, Any]:
    """The new run's run.json: the origin's parameters and tags, a new creator, time and origin, and `resume`."""
    created = now.isoformat(timespec="microseconds")
    kept = [t for t in origin.get("system_tags") or [] if not t.startswith(("user:", "date:"))]
    meta = run_ids.run_record(flow_name, run_id, created=created, user=user,
                              tags=[*(origin.get("user_tags") or []), *kept],
                              parameters=origin.get("parameters") or {}, origin_run_id=origin_run_id,
                              system_tags=[*kept, f"date:{created[:10]}"])
    meta["resume"] = {"origin_run_id": origin_run_id, "step": step}
    return meta


def _origin_parameters(raw_input: Any) -> str:
    """The origin execution's `Parameters` string (the seed's input), "{}" when it had none."""
    try:
        value = json.loads(raw_input or "{}").get("Parameters")
    except (ValueError, AttributeError):
        return "{}"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value if isinstance(value, str) else "{}"
