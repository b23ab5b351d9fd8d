"""Starting and reading production runs: the trigger API and the run views.

Owns: trigger_run (parameters checked against the production manifest with
parameters.resolve_parameters, the seed's `{"Parameters": "<JSON>"}` input,
StartExecution on the `production` alias, a repeated idempotency key giving
the same run), start_execution (shared with schedule.py), list_runs and
run_status (per-step states read from the execution history). Does not
own: HTTP (app.py) or deployments (deploy.py, flows.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError, TriggerError
from ..model import ParameterSpec
from ..parameters import resolve_parameters
from . import names
from .clients import AWS_ERRORS, Clients, aws_error, error_code
from .records import DeploymentStore, Release
from .settings import DeployerSettings

MAX_IDEMPOTENCY_KEY = 256
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class FlowNotFoundError(TriggerError):
    """The flow (or run, or version) asked for does not exist: HTTP 404."""


class RequestError(TriggerError):
    """A request is malformed or its values are wrong: HTTP 400, with every problem."""

    def __init__(self, message: str, problems: tuple[str, ...] = ()):
        self.problems = tuple(problems)
        super().__init__(message)


@dataclass(frozen=True)
class TriggerRequest:
    """A trigger request validated at the edge."""

    parameters: dict[str, Any]
    idempotency_key: str | None = None

    @classmethod
    def from_body(cls, body: Any, header_key: str | None = None) -> TriggerRequest:
        """`{"parameters": {...}, "idempotency_key": "..."}` (or the Idempotency-Key header); RequestError if not."""
        body = {} if body is None else body
        problems = []
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object", (f"got {type(body).__name__}",))
        unknown = sorted(set(body) - {"parameters", "idempotency_key"})
        problems += [f"unknown field {name!r}; the body takes parameters and idempotency_key" for name in unknown]
        parameters = body.get("parameters") or {}
        if not isinstance(parameters, dict):
            problems.append(f"parameters must be an object of name -> value, got {type(parameters).__name__}")
        key = body.get("idempotency_key", header_key)
        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY):
            problems.append(f"idempotency_key must be a string of 1-{MAX_IDEMPOTENCY_KEY} characters")
        if problems:
            raise RequestError("the trigger request is invalid", tuple(problems))
        return cls(dict(parameters), key)


@dataclass(frozen=True)
class RunStarted:
    """A run that was started now (started=True) or earlier for the same key or tick."""

    flow: str
    run_id: str
    execution_arn: str
    started: bool

    def to_dict(self) -> dict[str, Any]:
        """The API's answer."""
        return {"run_id": self.run_id, "execution_arn": self.execution_arn, "started": self.started,
                "status_url": f"/flows/{self.flow}/runs/{self.run_id}"}


def production_release(store: DeploymentStore, flow: str) -> Release:
    """The release behind `flow`'s production alias; FlowNotFoundError if there is none."""
    production = store.production(flow)
    if production is None:
        raise FlowNotFoundError(f"flow {flow!r} has no production deployment; deploy it with "
                                "`python flow.py step-functions create`")
    return production.release


def machine_arn(settings: DeployerSettings, flow: str) -> str:
    """The base state machine ARN of `flow`."""
    return names.state_machine_arn(settings.partition, settings.aws.region, settings.account_id, flow)


def trigger_run(flow: str, request: TriggerRequest, clients: Clients, settings: DeployerSettings) -> RunStarted:
    """Start a run of `flow`'s production version with the request's parameters."""
    release = production_release(DeploymentStore(clients.dynamodb, settings.deployments_table), flow)
    specs = [ParameterSpec.from_dict(p) for p in release.parameters]
    try:
        resolve_parameters(specs, request.parameters, release.deploy_time_values)
    except ParameterError as err:
        raise RequestError(f"parameters do not fit flow {flow!r}", err.problems) from err
    # The seed's format: the given values as a JSON string; defaults (deploy-time
    # ones included) come from the package when the run starts.
    run_input = json.dumps({"Parameters": json.dumps(request.parameters, sort_keys=True)})
    if request.idempotency_key is not None:
        name = names.keyed_execution_name(request.idempotency_key)
    else:
        name = names.fresh_execution_name()
    return start_execution(clients, flow, machine_arn(settings, flow), name, run_input)


def start_execution(clients: Clients, flow: str, base_arn: str, name: str, run_input: str) -> RunStarted:
    """StartExecution on the production alias; an existing execution of that name is the same run."""
    alias = names.alias_arn(base_arn)
    try:
        response = clients.sfn.start_execution(stateMachineArn=alias, name=name, input=run_input)
    except AWS_ERRORS as err:
        if error_code(err) == "ExecutionAlreadyExists":
            return RunStarted(flow, names.run_id(name), names.execution_arn(base_arn, name), started=False)
        if error_code(err) in ("StateMachineDoesNotExist", "ResourceNotFound"):
            raise FlowNotFoundError(f"flow {flow!r}: its production alias is gone ({alias})") from err
        raise aws_error("Step Functions", "StartExecution", alias, err) from err
    return RunStarted(flow, names.run_id(name), str(response["executionArn"]), started=True)


# -- reading runs ---------------------------------------------------------------------------


def list_runs(flow: str, clients: Clients, settings: DeployerSettings, status: str | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
    """The newest runs of `flow` (listed under its base state machine), newest first."""
    arn = machine_arn(settings, flow)
    kwargs: dict[str, Any] = {"stateMachineArn": arn, "maxResults": min(limit, 1000)}
    if status:
        kwargs["statusFilter"] = status
    try:
        executions = clients.sfn.list_executions(**kwargs).get("executions", [])
    except AWS_ERRORS as err:
        if error_code(err) == "StateMachineDoesNotExist":
            raise FlowNotFoundError(f"flow {flow!r} is not deployed") from err
        raise aws_error("Step Functions", "ListExecutions", arn, err) from err
    runs = [_run_summary(e) for e in executions]
    return sorted(runs, key=lambda r: r["start_date"], reverse=True)[:limit]


def run_status(flow: str, run: str, clients: Clients, settings: DeployerSettings) -> dict[str, Any]:
    """A run's status and each step's state (RUNNING, SUCCEEDED, FAILED) from its history."""
    name = names.execution_name_of(run)
    arn = names.execution_arn(machine_arn(settings, flow), name)
    try:
        execution = clients.sfn.describe_execution(executionArn=arn)
        events = _history(clients, arn)
    except AWS_ERRORS as err:
        if error_code(err) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise FlowNotFoundError(f"flow {flow!r} has no run {names.run_id(name)!r}") from err
        raise aws_error("Step Functions", "DescribeExecution", arn, err) from err
    out = _run_summary(execution)
    out["steps"] = step_states(events, execution["status"])
    out["input"] = execution.get("input")
    for key in ("error", "cause"):
        if execution.get(key):
            out[key] = execution[key]
    return out


def _history(clients: Clients, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = clients.sfn.get_execution_history(**kwargs)
        events += page.get("events", [])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


_SUFFIX = re.compile(r"[@].*$")


_TASK_FAILURES = ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed")


def step_states(events: list[Mapping[str, Any]], execution_status: str) -> dict[str, str]:
    """Step name -> RUNNING | SUCCEEDED | FAILED | ABORTED, from the execution history.

    A step's Task state is named after the step (distributed-map copies add
    '@<foreach>'); our own states hold a '-' and are skipped. A step entered
    as often as it exited (every foreach iteration) SUCCEEDED. One still
    inside a state is RUNNING while the execution runs; once it ended, the
    step FAILED if one of its tasks failed, else it was ABORTED (a sibling
    branch failed and Step Functions stopped it).
    """
    entered: Counter[str] = Counter()
    exited: Counter[str] = Counter()
    order: list[str] = []
    by_id = {event.get("id"): event for event in events if event.get("id") is not None}
    failed: set[str] = set()
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            step = _step_name(event.get("stateEnteredEventDetails", {}).get("name", ""))
            if step:
                entered[step] += 1
                if step not in order:
                    order.append(step)
        elif kind.endswith("StateExited"):
            step = _step_name(event.get("stateExitedEventDetails", {}).get("name", ""))
            if step:
                exited[step] += 1
        elif kind in _TASK_FAILURES:
            step = _owning_step(event, by_id)
            if step:
                failed.add(step)
    return {step: "SUCCEEDED" if exited[step] >= entered[step]
            else ("RUNNING" if execution_status == "RUNNING" else "FAILED" if step in failed else "ABORTED")
            for step in order}


def _owning_step(event: Mapping[str, Any], by_id: Mapping[Any, Mapping[str, Any]]) -> str | None:
    """The step whose state a task event belongs to: follow previousEventId back to its StateEntered."""
    seen = 0
    current = by_id.get(event.get("previousEventId"))
    while current is not None and seen < 50:
        if str(current.get("type", "")).endswith("StateEntered"):
            return _step_name(current.get("stateEnteredEventDetails", {}).get("name", ""))
        current = by_id.get(current.get("previousEventId"))
        seen += 1
    return None


def _step_name(state: str) -> str | None:
    step = _SUFFIX.sub("", state)
    return step if step.isidentifier() else None


def _run_summary(execution: Mapping[str, Any]) -> dict[str, Any]:
    name = str(execution["name"])
    return {
        "run_id": names.run_id(name),
        "execution_arn": execution["executionArn"],
        "status": execution["status"],
        "start_date": _iso(execution.get("startDate")),
        "stop_date": _iso(execution.get("stopDate")),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value
