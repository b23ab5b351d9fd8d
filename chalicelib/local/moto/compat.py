"""Fixes to moto 5.2.5's Step Functions, applied inside the moto server process.

Owns: making StartExecution accept a state machine **alias** or **version**
ARN (flowdrop's deployer and triggers start runs on the `production` alias,
as on AWS), reporting the version and alias an execution ran on, and
ListStateMachineVersions. Patched: the execution-enabled parser backend
(`execute_state_machine: true`, the only one the embedded stack uses) and
moto's Step Functions response class.
Does not own: starting the server (local/moto/main.py, local/moto/server.py),
or any other emulator gap (shared/EMULATOR.md).

Line numbers below are `site-packages/moto/` of moto 5.2.5. Each fix has a
canary test (tests/functional/test_moto_compat.py) that fails once stock moto handles
the case itself, so the fix can be deleted.
"""

from __future__ import annotations

import datetime
import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto import backends
from moto.core.responses import ActionResult
from moto.stepfunctions.exceptions import (
    InvalidArn,
    InvalidExecutionInput,
    ResourceNotFound,
    StateMachineDoesNotExist,
)
from moto.stepfunctions.models import StateMachine, StateMachineVersion
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

# `arn:aws:states:<region>:<account>:stateMachine:<name>` has 7 colon-separated
# fields; a version ARN appends `:<number>`, an alias ARN `:<alias name>`.
_UNQUALIFIED_FIELDS = 7

# The stock methods, kept so that patching twice is harmless and the canary
# tests can still call what moto itself does.
_STOCK: dict[str, Callable[..., Any]] = {
    "start_execution": StepFunctionsParserBackend.start_execution,
    "describe_state_machine_for_execution": StepFunctionsParserBackend.describe_state_machine_for_execution,
    "describe_execution": StepFunctionResponse.describe_execution,
    "list_executions": StepFunctionResponse.list_executions,
    "get_execution_history": StepFunctionResponse.get_execution_history,
}

# The check for an existing execution name and the append of the new
# execution must not interleave, or two deliveries of one trigger (same
# execution name) could both start a run. moto itself does not lock here.
_START_LOCK = threading.Lock()


@dataclass(frozen=True)
class Route:
    """Where a StartExecution on a qualified ARN lands: base machine, version run, alias used."""

    state_machine: StateMachine
    version: StateMachineVersion
    alias_arn: str | None


def stock_start_execution() -> Callable[..., Any]:
    """moto's own StepFunctionsParserBackend.start_execution, patched or not."""
    return _STOCK["start_execution"]


def is_applied() -> bool:
    """True when this process runs with the patches."""
    return StepFunctionsParserBackend.start_execution is _start_execution


def apply_patches() -> None:
    """Patch moto's Step Functions classes in this process; calling it again changes nothing."""
    StepFunctionsParserBackend.start_execution = _start_execution
    StepFunctionsParserBackend.describe_state_machine_for_execution = _describe_state_machine_for_execution
    StepFunctionResponse.describe_execution = _describe_execution_response
    StepFunctionResponse.list_executions = _list_executions_response
    StepFunctionResponse.get_execution_history = _get_execution_history_response
    # moto 5.2.5 has no such action on the response class, so the server
    # answers HTTP 500 (the parser's provider.py:1199 has one, but moto's
    # server never routes to that provider).
    StepFunctionResponse.list_state_machine_versions = _list_state_machine_versions_response
    # Not a behaviour gap, a cost: moto's dispatcher lists and stats its own
    # package folder on every request (backends.py:189-195, called from
    # moto_server/werkzeug_app.py:127), ~15% of the server's CPU while a wide
    # foreach runs. The folder never changes while the server runs.
    if not getattr(backends.list_of_moto_modules, "_flowdrop_cached", False):
        modules = tuple(backends.list_of_moto_modules())

        def list_of_moto_modules() -> tuple[str, ...]:
            return modules

        list_of_moto_modules._flowdrop_cached = True  # type: ignore[attr-defined]
        backends.list_of_moto_modules = list_of_moto_modules


def choose_version_arn(routing_configuration: list[dict[str, Any]], seed: str) -> str:
    """The version an alias routes one execution to, drawn by weight.

    AWS draws at random per StartExecution. Here the draw is seeded with
    `seed` (the alias ARN and the execution name), so a given execution name
    always lands on the same version: a repeated start stays idempotent and
    a test can predict the outcome. One route, or a route with weight 100,
    is always chosen.
    """
    arns = [route["stateMachineVersionArn"] for route in routing_configuration]
    weights = [int(route.get("weight", 0)) for route in routing_configuration]
    if len(arns) == 1 or sum(weights) <= 0:
        return arns[0]
    return random.Random(seed).choices(arns, weights=weights, k=1)[0]


def resolve_route(backend: StepFunctionsParserBackend, arn: str, execution_name: str) -> Route | None:
    """The route for a version or alias ARN; None for a plain state machine ARN."""
    backend._validate_machine_arn(arn)
    fields = arn.split(":")
    if len(fields) <= _UNQUALIFIED_FIELDS:
        return None
    if len(fields) > _UNQUALIFIED_FIELDS + 1:
        raise InvalidArn(f"Invalid State Machine Arn: '{arn}'")
    qualifier = fields[_UNQUALIFIED_FIELDS]
    alias_arn = None
    version_arn = arn
    if not qualifier.isdigit():
        alias_arn = arn
        try:
            alias = backend.describe_state_machine_alias(arn)
        except ResourceNotFound as err:
            # models.py:743; StartExecution's documented error is this one.
            raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'") from err
        version_arn = choose_version_arn(alias.routing_configuration, f"{arn}\n{execution_name}")
    base_arn, number = version_arn.rsplit(":", 1)
    state_machine = backend.describe_state_machine(base_arn)
    version = state_machine.versions.get(int(number)) if number.isdigit() else None
    if version is None:
        raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{version_arn}'")
    return Route(state_machine=state_machine, version=version, alias_arn=alias_arn)


def _start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Execution:
    # parser/models.py:207-214 builds the execution ARN from `name` as given, so
    # every unnamed execution is `...:None` and the second one collides.
    # AWS generates a UUID; so does moto's other backend (models.py:823).
    name = name or str(uuid.uuid4())
    with _START_LOCK:
        # parser/models.py:168 hands the ARN to describe_state_machine, which
        # (models.py:707-725) knows version suffixes but not aliases: an alias
        # ARN is StateMachineDoesNotExist. A version ARN comes back as a
        # StateMachineVersion, which lacks _handle_name_input_idempotency
        # (only StateMachine has it, models.py:186): HTTP 500.
        route = resolve_route(self, state_machine_arn, name)
        if route is None:
            return _STOCK["start_execution"](self, state_machine_arn, name, execution_input, trace_header)
        return _start_routed_execution(self, route, name, execution_input, trace_header)


def _start_routed_execution(
    backend: StepFunctionsParserBackend,
    route: Route,
    name: str,
    execution_input: str | None,
    trace_header: str | None,
) -> Execution:
    """parser/models.py:161-233, but running the version and filed under the base machine."""
    backend._validate_name(name)
    input_data = "{}" if execution_input is None else execution_input
    try:
        json.loads(input_data)
    except ValueError as err:
        raise InvalidExecutionInput(f"Invalid State Machine Execution Input: '{err}'") from err
    # Execution names are unique per state machine across all its versions
    # and aliases, as on AWS: check against the base machine's executions.
    existing = route.state_machine._handle_name_input_idempotency(name, input_data)
    if existing is not None:
        return existing
    base = route.state_machine
    # The same ARN as an execution of the base machine, as on AWS.
    execution_arn = f"arn:{backend.partition}:states:{backend.region_name}:{backend.account_id}:execution"
    execution = Execution(
        name=name,
        sm_type=route.version.sm_type,
        role_arn=route.version.roleArn,
        exec_arn=f"{execution_arn}:{base.name}:{name}",
        account_id=backend.account_id,
        region_name=backend.region_name,
        # No snapshot copy as parser/models.py:184 makes of the base machine:
        # a version is never modified after it is published.
        state_machine=route.version,
        start_date=datetime.datetime.now(tz=datetime.timezone.utc),
        cloud_watch_logging_session=None,
        input_data=input_data,
        trace_header=trace_header,
        activity_store={},
    )
    # parser/models.py:230 would append the execution to the version, where
    # describe/list executions never look (models.py:836, 845-847 and 966-977
    # find executions through the base machine's name). responses.py:324
    # reports `state_machine_arn` as stateMachineArn: AWS gives the base ARN.
    execution.state_machine_arn = base.arn
    execution.state_machine_version_arn = route.version.arn
    execution.state_machine_alias_arn = route.alias_arn
    base.executions.append(execution)
    execution.start()
    return execution


def _routing_fields(execution: Any) -> dict[str, str]:
    """stateMachineVersionArn / stateMachineAliasArn as AWS reports them for an execution."""
    fields = {}
    version_arn = getattr(execution, "state_machine_version_arn", None)
    alias_arn = getattr(execution, "state_machine_alias_arn", None)
    if version_arn:
        fields["stateMachineVersionArn"] = version_arn
    if alias_arn:
        fields["stateMachineAliasArn"] = alias_arn
    return fields


def _describe_execution_response(self: StepFunctionResponse) -> ActionResult:
    # responses.py:319-326 builds a fixed set of keys; botocore's
    # DescribeExecutionOutput also has the version and alias ARNs.
    result = _STOCK["describe_execution"](self)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    result.result.update(_routing_fields(execution))
    return result


def _list_executions_response(self: StepFunctionResponse) -> ActionResult:
    # responses.py:299-305: same fixed keys per ExecutionListItem.
    result = _STOCK["list_executions"](self)
    state_machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    by_arn = {execution.execution_arn: execution for execution in state_machine.executions}
    for item in result.result["executions"]:
        item.update(_routing_fields(by_arn.get(item["executionArn"])))
    return result


def _get_execution_history_response(self: StepFunctionResponse) -> ActionResult:
    # responses.py:359-364 passes only the ARN on: reverseOrder and maxResults are ignored, so the run
    # status's change marker (the newest event: reverseOrder, maxResults=1) sent the whole history over
    # HTTP on every poll. A reverse read is paged as AWS pages it (newest first, maxResults per page,
    # nextToken for the rest). Forward reads stay whole, as stock moto gives them.
    result = _STOCK["get_execution_history"](self)
    if not self._get_bool_param("reverseOrder", False):
        return result
    events = list(reversed(result.result["events"]))
    start = int(self._get_param("nextToken") or 0)
    size = self._get_int_param("maxResults") or len(events) or 1
    page = {"events": events[start:start + size]}
    if start + size < len(events):
        page["nextToken"] = str(start + size)
    return ActionResult(page)


def _describe_state_machine_for_execution(self: StepFunctionsParserBackend, execution_arn: str) -> Any:
    # models.py:869-874 returns the base machine, i.e. its current definition.
    # For an execution started on a version or alias, return the version it
    # ran, so the definition is the one executed (responses.py:351 then
    # describes that version's ARN). Plain executions are unchanged.
    machine = _STOCK["describe_state_machine_for_execution"](self, execution_arn)
    for execution in machine.executions:
        if execution.execution_arn == execution_arn and getattr(execution, "state_machine_version_arn", None):
            return execution.state_machine
    return machine


def _list_state_machine_versions_response(self: StepFunctionResponse) -> ActionResult:
    # Newest first, as AWS lists them. maxResults/nextToken are ignored: a
    # flow has as many versions as accepted packages, a short list.
    arn = self._get_param("stateMachineArn")
    machine = self.stepfunction_backend.describe_state_machine(arn)
    if not isinstance(machine, StateMachine):
        raise InvalidArn(f"Invalid State Machine Arn: '{arn}'")
    versions = sorted(machine.versions.values(), key=lambda version: version.version, reverse=True)
    return ActionResult(
        {
            "stateMachineVersions": [
                {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date} for version in versions
            ]
        }
    )
