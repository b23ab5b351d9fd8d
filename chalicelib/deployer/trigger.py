"""Starting and reading production runs: the trigger API and the run views.

Owns: trigger_run (parameters checked against the production manifest with
parameters.resolve_parameters, the seed's `{"Parameters": "<JSON>"}` input,
StartExecution on the `production` alias, a repeated idempotency key giving
the same run), start_execution (shared with schedule.py), list_runs and
run_status (per-step states read from the execution history and from the
histories of its Distributed Map child executions, which AWS keeps apart).
Does not own: HTTP (app.py) or deployments (deploy.py, flows.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
# A Distributed Map can run millions of child executions, one history each:
# run_status reads at most this many child histories and infers the rest from
# the map runs' counts, saying the step view is partial.
MAX_CHILD_HISTORIES = 200


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


def run_status(flow: str, run: str, clients: Clients, settings: DeployerSettings,
               max_child_histories: int = MAX_CHILD_HISTORIES, with_steps: bool = True) -> dict[str, Any]:
    """A run's status and each step's state, its Distributed Map child executions included.

    `with_steps=False` answers from DescribeExecution alone: what a client
    polling for the end wants, without reading a history of thousands of
    events each time.
    """
    name = names.execution_name_of(run)
    arn = names.execution_arn(machine_arn(settings, flow), name)
    try:
        execution = clients.sfn.describe_execution(executionArn=arn)
        events = _history(clients, arn) if with_steps else []
    except AWS_ERRORS as err:
        if error_code(err) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise FlowNotFoundError(f"flow {flow!r} has no run {names.run_id(name)!r}") from err
        raise aws_error("Step Functions", "DescribeExecution", arn, err) from err
    if not with_steps:
        out = _run_summary(execution)
        for key in ("error", "cause"):
            if execution.get(key):
                out[key] = execution[key]
        return out
    fan_out = _read_fan_out(clients, arn, events, max_child_histories)
    out = _run_summary(execution)
    out["steps"] = step_states(events, execution["status"], fan_out.children, fan_out.unread)
    out["partial"] = bool(fan_out.problems) or any(any(u.counts.values()) for u in fan_out.unread)
    if fan_out.map_runs:
        out["map_runs"] = fan_out.map_runs
        out["child_histories_read"] = len(fan_out.children)
    if fan_out.problems:
        out["partial_reasons"] = fan_out.problems
    out["input"] = execution.get("input")
    for key in ("error", "cause"):
        if execution.get(key):
            out[key] = execution[key]
    return out


def _history(clients: Clients, arn: str) -> list[dict[str, Any]]:
    return list(_pages(clients.sfn.get_execution_history, "events", executionArn=arn, maxResults=1000))


def _pages(call: Any, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """The `key` items of every page of a paginated call, fetched only as they are consumed."""
    while True:
        page = call(**kwargs)
        yield from page.get(key, [])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


# DescribeMapRun's executionCounts keys -> execution status, worst first: under
# the cap, the histories read are the ones that can name a failed step.
_CHILD_COUNTS = (("failed", "FAILED"), ("timedOut", "TIMED_OUT"), ("aborted", "ABORTED"),
                 ("running", "RUNNING"), ("pending", "PENDING"), ("succeeded", "SUCCEEDED"))


@dataclass
class _FanOut:
    children: list[ChildHistory] = field(default_factory=list)
    unread: list[UnreadChildren] = field(default_factory=list)
    map_runs: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _read_fan_out(clients: Clients, arn: str, events: list[dict[str, Any]], limit: int) -> _FanOut:
    """The map runs of `arn` and of its children, breadth first, reading at most `limit` child histories.

    Never fails the status request: an AWS error (moto 5.2.5 answers
    ListExecutions by mapRunArn with HTTP 500) leaves the rest unread, inferred
    from DescribeMapRun's counts and named in `problems`.
    """
    out, queue, seen, definition = _FanOut(), [(arn, events)], set(), None
    while queue:
        parent, parent_events = queue.pop(0)
        started = _map_runs_started(parent_events)  # no Distributed Map entered: no call
        for run_arn in _map_run_arns(clients, parent, started, out.problems) if started else ():
            run = _sfn_call(clients.sfn.describe_map_run, out.problems, mapRunArn=run_arn) or {}
            counts = {status: int(run.get("executionCounts", {}).get(key, 0)) for key, status in _CHILD_COUNTS}
            statuses: list[str | None] = [s for s in counts if counts[s] and s != "PENDING"] if run else [None]
            read: Counter[str] = Counter()
            try:
                for item in _children(clients, run_arn, statuses, limit - len(out.children)):
                    if item["executionArn"] not in seen:
                        seen.add(item["executionArn"])
                        history = _history(clients, item["executionArn"])
                        out.children.append(ChildHistory(item["status"], history))
                        read[item["status"]] += 1
                        queue.append((item["executionArn"], history))
            except AWS_ERRORS as err:
                out.problems.append(f"{_failure(err)} for {run_arn}: the steps of its unread children "
                                    "are inferred from its counts")
                limit = len(out.children)  # the same error would repeat for every map run
            left = {status: max(0, n - read[status]) for status, n in counts.items()}
            if any(left.values()):
                if definition is None:
                    answer = _sfn_call(clients.sfn.describe_state_machine_for_execution, out.problems,
                                       executionArn=arn)
                    definition = json.loads(answer["definition"]) if answer else {}
                out.unread.append(UnreadChildren(body_steps(definition, started.get(run_arn, "")), left,
                                                 run.get("startDate")))
            out.map_runs.append({"map_run_arn": run_arn, "state": started.get(run_arn), "status": run.get("status"),
                                 "executions": dict(run.get("executionCounts", {})),
                                 "histories_read": sum(read.values())})
    return out


def _children(clients: Clients, run_arn: str, statuses: list[str | None], limit: int) -> Iterator[dict[str, Any]]:
    """Up to `limit` child executions of a map run, listed status by status (None: all at once)."""
    for status in statuses if limit > 0 else ():
        for item in _pages(clients.sfn.list_executions, "executions", mapRunArn=run_arn, maxResults=min(limit, 1000),
                           **({"statusFilter": status} if status else {})):
            yield item
            limit -= 1
            if limit <= 0:
                return


def _map_run_arns(clients: Clients, arn: str, started: Mapping[str, str], problems: list[str]) -> list[str]:
    """ListMapRuns of an execution, plus any its history names that the listing missed."""
    try:
        arns = [r["mapRunArn"] for r in _pages(clients.sfn.list_map_runs, "mapRuns", executionArn=arn,
                                               maxResults=1000)]
    except AWS_ERRORS as err:
        problems.append(f"{_failure(err)} for {arn}")
        arns = []
    return arns + [a for a in started if a not in arns]


def _sfn_call(call: Any, problems: list[str], **kwargs: Any) -> Any:
    """call(**kwargs), or None with the failure added to `problems`."""
    try:
        return call(**kwargs)
    except AWS_ERRORS as err:
        problems.append(f"{_failure(err)} for {next(iter(kwargs.values()))}")
        return None


def _failure(err: BaseException) -> str:
    # The operation and code only: moto's HTTP 500 message is a whole HTML page.
    return f"{getattr(err, 'operation_name', 'Step Functions')} failed ({error_code(err) or type(err).__name__})"


# -- per-step states (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class ChildHistory:
    """One Distributed Map child execution: its status and its history events."""

    status: str
    events: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class UnreadChildren:
    """One map run's children whose histories were not read: status -> how many, and the steps each runs."""

    steps: tuple[str, ...]
    counts: Mapping[str, int]
    started: Any = None  # the map run's start, to place its steps among the others


_SUFFIX = re.compile(r"[@].*$")
_TASK_FAILURES = ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed")
# How one step's states in many executions combine: the first one present wins.
_PRECEDENCE = ("RUNNING", "FAILED", "ABORTED", "SUCCEEDED")


def step_states(events: Sequence[Mapping[str, Any]], execution_status: str,
                children: Sequence[ChildHistory] = (), unread: Sequence[UnreadChildren] = ()) -> dict[str, str]:
    """Step name -> RUNNING | SUCCEEDED | FAILED | ABORTED, over the execution's and its children's histories.

    A step's Task state is named after the step (a distributed-map body's
    copies add '@<foreach>'); our own states hold a '-' and are skipped. In
    one history, a step entered as often as it exited (every foreach
    iteration) SUCCEEDED. One still inside a state is RUNNING while that
    execution runs; once it ended, the step FAILED if one of its tasks
    failed, else it was ABORTED (a sibling failed and Step Functions stopped
    it). Across histories a step is RUNNING while any runs it, else FAILED if
    any failed it, else ABORTED if any, else SUCCEEDED. Children not read
    count by status: a succeeded child ran every step of its map's body (an
    empty foreach is an error), a running or pending one keeps them RUNNING;
    which step a failed one failed is unknown (run_status marks it partial).
    """
    states: dict[str, list[str]] = {}
    first: dict[str, Any] = {}

    def add(step: str, state: str, when: Any) -> None:
        states.setdefault(step, []).append(state)
        if first.get(step) is None or (when is not None and when < first[step]):
            first[step] = when

    for history, status in [(events, execution_status), *((c.events, c.status) for c in children)]:
        for step, (state, when) in _history_states(history, status).items():
            add(step, state, when)
    for group in unread:
        inferred = [state for state, statuses in (("SUCCEEDED", ("SUCCEEDED",)), ("RUNNING", ("RUNNING", "PENDING")))
                    if any(group.counts.get(s) for s in statuses)]
        for step in group.steps:
            for state in inferred:
                add(step, state, group.started)
    order = list(states)
    if all(first[step] is not None for step in order):  # AWS stamps every event: order by first entry
        order.sort(key=lambda step: first[step])
    return {step: min(states[step], key=_PRECEDENCE.index) for step in order}


def _history_states(events: Sequence[Mapping[str, Any]], execution_status: str) -> dict[str, tuple[str, Any]]:
    """Step -> (state, when first entered) in one execution's history."""
    entered: Counter[str] = Counter()
    exited: Counter[str] = Counter()
    when: dict[str, Any] = {}
    by_id = {event.get("id"): event for event in events if event.get("id") is not None}
    failed: set[str] = set()
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            step = _step_name(event.get("stateEnteredEventDetails", {}).get("name", ""))
            if step:
                entered[step] += 1
                when.setdefault(step, event.get("timestamp"))
        elif kind.endswith("StateExited"):
            step = _step_name(event.get("stateExitedEventDetails", {}).get("name", ""))
            if step:
                exited[step] += 1
        elif kind in _TASK_FAILURES:
            step = _step_name(_entered_state(event, by_id) or "")
            if step:
                failed.add(step)
    return {step: ("SUCCEEDED" if exited[step] >= entered[step]
                   else "RUNNING" if execution_status == "RUNNING" else "FAILED" if step in failed else "ABORTED",
                   when[step])
            for step in when}


def body_steps(definition: Mapping[str, Any], map_state: str) -> tuple[str, ...]:
    """The steps the iterations of Map state `map_state` run, nested maps included, in the order they run."""
    for name, state in _states_in_order(definition):
        if name == map_state:
            steps = (_step_name(inner) for inner, _ in _states_in_order(state.get("ItemProcessor") or {}))
            return tuple(dict.fromkeys(step for step in steps if step))
    return ()


def _states_in_order(machine: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every state from StartAt along its transitions, Map and Parallel bodies inline (keys are sorted)."""
    states, queue, seen = machine.get("States", {}), [machine.get("StartAt")], set()
    while queue:
        name = queue.pop(0)
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        yield name, state
        for body in [*state.get("Branches", ()), state.get("ItemProcessor") or {}]:
            yield from _states_in_order(body)
        queue += [state.get("Next"), state.get("Default"),
                  *(rule.get("Next") for rule in [*state.get("Choices", ()), *state.get("Catch", ())])]


def _map_runs_started(events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Map run ARN -> the Map state that started it, from MapRunStarted events."""
    by_id = {event.get("id"): event for event in events if event.get("id") is not None}
    return {str(event["mapRunStartedEventDetails"]["mapRunArn"]): _entered_state(event, by_id) or ""
            for event in events if event.get("type") == "MapRunStarted"}


def _entered_state(event: Mapping[str, Any], by_id: Mapping[Any, Mapping[str, Any]]) -> str | None:
    """The state an event belongs to: follow previousEventId back to its StateEntered."""
    seen = 0
    current = by_id.get(event.get("previousEventId"))
    while current is not None and seen < 50:
        if str(current.get("type", "")).endswith("StateEntered"):
            return str(current.get("stateEnteredEventDetails", {}).get("name", ""))
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
