"""Starting production runs: the trigger API.

Owns: trigger_run (parameters checked against the production manifest with
model.parameters.resolve_parameters, the seed's `{"Parameters": "<JSON>"}`
input, StartExecution on the `production` alias, a repeated idempotency key
giving the same run) and start_execution (shared with schedule.py). Does not
own: HTTP (app.py), reading runs (runs.py) or deployments (deploy.py,
flows.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error, error_code
from flowdrop.deployer.records import Release
from flowdrop.deployer.requests import json_body
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.errors import FlowNotFoundError, ParameterError, RequestError
from flowdrop.model import names
from flowdrop.model import runs as run_ids
from flowdrop.model.excerpts import short_repr
from flowdrop.model.parameters import ParameterSpec, resolve_parameters

MAX_IDEMPOTENCY_KEY = 256


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
        unknown = sorted(set(body) - {"parameters", "idempotency_key", "Parameters"})
        problems += [f"unknown field {short_repr(name, 60)}; the body takes parameters and idempotency_key"
                     for name in unknown]
        parameters = {} if body.get("parameters") is None else body["parameters"]
        if "Parameters" in body:  # the seed's execution input, as typed in the Step Functions console
            if "parameters" in body:
                problems.append("give parameters or Parameters (the execution input's JSON string), not both")
            parameters = _execution_input_parameters(body["Parameters"], problems)
        if not isinstance(parameters, dict):
            problems.append(f"parameters must be an object of name -> value, got {type(parameters).__name__}")
        key = body.get("idempotency_key", header_key)
        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY):
            problems.append(f"idempotency_key must be a string of 1-{MAX_IDEMPOTENCY_KEY} characters")
        if problems:
            raise RequestError("the trigger request is invalid", tuple(problems))
        return cls(dict(parameters), key)


def _execution_input_parameters(value: Any, problems: list[str]) -> Any:
    """`"{\"alpha\": 0.5}"` (the seed's form: a JSON string of an object) -> its object; an object as is."""
    if not isinstance(value, str):
        return value
    try:
        return {} if value.strip() == "" else json_body(value)
    except RequestError as err:
        problems.append(f"Parameters must be a JSON string of an object: {err}"
                        + "".join(f"; {problem}" for problem in err.problems))
        return {}


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
            return RunStarted(flow, run_ids.run_id(name), names.execution_arn(base_arn, name), started=False)
        if error_code(err) in ("StateMachineDoesNotExist", "ResourceNotFound"):
            raise FlowNotFoundError(f"flow {flow!r}: its production alias is gone ({alias})") from err
        raise aws_error("Step Functions", "StartExecution", alias, err) from err
    return RunStarted(flow, run_ids.run_id(name), str(response["executionArn"]), started=True)
