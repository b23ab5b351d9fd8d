"""Reading production runs: the runs of a flow and one run's status, step by step.

Owns: list_runs and run_status (per-step states read from the execution
history and from the histories of its Distributed Map child executions,
which AWS keeps apart, at most MAX_CHILD_HISTORIES of them). Does not own:
starting runs (trigger.py) or interpreting histories (step_states.py).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from flowdrop.deployer import run_records
from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error, error_code
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.step_states import (ChildHistory, UnreadChildren, body_steps, foreach_widths, map_runs_started,
                                           step_view)
from flowdrop.deployer.trigger import machine_arn
from flowdrop.errors import FlowNotFoundError, RequestError, RunEndedError
from flowdrop.model import names, state_names
from flowdrop.model.exit_hooks import counts_with_exit_hook_failures, with_exit_hook_failures
from flowdrop.model import runs as run_ids

# A Distributed Map can run millions of child executions, one history each:
# run_status reads at most this many child histories and infers the rest from
# the map runs' counts, saying the step view is partial.
MAX_CHILD_HISTORIES = 200


MAX_RUNS_PAGE = 1000  # ListExecutions' own page limit


def list_runs(flow: str, clients: Clients, settings: DeployerSettings, status: str | None = None,
              limit: int = 100, next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `flow`'s runs (listed under its base state machine), newest first, and the
    token of the next page (None on the last). Step Functions pages newest first too."""
    arn = machine_arn(settings, flow)
    kwargs: dict[str, Any] = {"stateMachineArn": arn, "maxResults": max(1, min(limit, MAX_RUNS_PAGE))}
    if status:
        kwargs["statusFilter"] = status
    if next_token:
        kwargs["nextToken"] = next_token
    try:
        page = clients.sfn.list_executions(**kwargs)
    except AWS_ERRORS as err:
        if error_code(err) == "StateMachineDoesNotExist":
            raise FlowNotFoundError(f"flow {flow!r} is not deployed") from err
        if error_code(err) in ("InvalidToken", "ValidationException"):
            raise RequestError("query parameter next_token is invalid",
                               ("next_token: not a token this API returned for this flow and status "
                                "(tokens expire after 24 hours)",)) from err
        raise aws_error("Step Functions", "ListExecutions", arn, err) from err
    runs = [_run_summary(e) for e in page.get("executions", [])]
    return sorted(runs, key=lambda r: r["start_date"], reverse=True), page.get("nextToken") or None


TERMINATED_ERROR = "flowdrop.Terminated"
MAX_REASON_CHARS = 500


def terminate_run(flow: str, run: str, clients: Clients, settings: DeployerSettings, user: str | None,
                  reason: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Stop a running production run (StopExecution): it ends ABORTED, its running tasks are stopped
    (Step Functions terminates Batch jobs; workers find their heartbeats refused), and its status.json
    says so to the client API.

    RunEndedError (409) when it already ended; FlowNotFoundError (404) for an unknown flow or run.
    """
    if reason is not None and not isinstance(reason, str):
        raise RequestError("the terminate request is invalid", (f"reason must be a string, got {type(reason).__name__}",))
    name = run_ids.execution_name_of(run)
    arn = names.execution_arn(machine_arn(settings, flow), name)
    cause = f"terminated by {user or 'an API caller'}" + (f": {reason[:MAX_REASON_CHARS]}" if reason else "")
    try:
        status = clients.sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            raise RunEndedError(f"run {run_ids.run_id(name)} of {flow} already ended: {status}")
        clients.sfn.stop_execution(executionArn=arn, error=TERMINATED_ERROR, cause=cause)
    except AWS_ERRORS as err:
        if error_code(err) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise FlowNotFoundError(f"flow {flow!r} has no run {run_ids.run_id(name)!r}") from err
        raise aws_error("Step Functions", "StopExecution", arn, err) from err
    context = run_records.read_context(clients, arn)
    if context is not None:
        run_records.record_aborted(clients, context, now or datetime.now(timezone.utc), cause)
    return {"run_id": run_ids.run_id(name), "status": "ABORTED", "cause": cause}


def run_status(flow: str, run: str, clients: Clients, settings: DeployerSettings,
               max_child_histories: int = MAX_CHILD_HISTORIES, with_steps: bool = True,
               with_marker: bool = False) -> dict[str, Any]:
    """A run's status and each step's state, its Distributed Map child executions included.

    `with_steps=False` answers from DescribeExecution alone: what a client
    polling for the end wants, without reading a history of thousands of events
    each time. The full answer, and the cheap one `with_marker`, carry
    `last_event_id`, the id of the execution's newest history event (for the
    cheap one: one more call, GetExecutionHistory newest first, whose AWS quota
    is smaller than DescribeExecution's, so only pollers that use it ask): it
    moves whenever anything happens in the run, so a poller fetches the full
    answer only when it moved (not while a Distributed Map's children alone
    make progress: their histories are their own).
    """
    name = run_ids.execution_name_of(run)
    arn = names.execution_arn(machine_arn(settings, flow), name)
    try:
        execution = clients.sfn.describe_execution(executionArn=arn)
        events = _history(clients, arn) if with_steps else _newest_events(clients, arn) if with_marker else None
    except AWS_ERRORS as err:
        if error_code(err) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist"):
            raise FlowNotFoundError(f"flow {flow!r} has no run {run_ids.run_id(name)!r}") from err
        raise aws_error("Step Functions", "DescribeExecution", arn, err) from err
    if not with_steps:
        out = _run_summary(execution)
        if events is not None:
            out["last_event_id"] = _last_event_id(events)
        for key in ("error", "cause"):
            if execution.get(key):
                out[key] = execution[key]
        return out
    fan_out = _read_fan_out(clients, arn, events, max_child_histories)
    out = {**_run_summary(execution), "last_event_id": _last_event_id(events)}
    # A step whose failure the @exit_hook path caught left its state through a Catch: it FAILED all the same.
    # Counts are what a view of foreach steps shows: done / failed / running of N.
    states, counts = step_view(events, execution["status"], fan_out.children, fan_out.unread)
    states, counts = with_exit_hook_failures(events, states), counts_with_exit_hook_failures(events, counts)
    out["steps"], out["step_counts"] = _with_datastore(clients, events, states, counts)
    out["foreach_widths"] = _widths(events, fan_out)
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


def _widths(events: list[dict[str, Any]], fan_out: _FanOut) -> dict[str, int]:
    """Foreach step -> items, from the Map states' starts; a Distributed Map's run counts its items
    when the history gives no length."""
    widths = foreach_widths(events, fan_out.children)
    wide: Counter[str] = Counter()
    for run in fan_out.map_runs:
        step = state_names.step_of(str(run.get("state") or ""))
        if step.isidentifier():
            wide[step] += int(run.get("executions", {}).get("total") or 0)
    return {**widths, **{step: n for step, n in wide.items() if not widths.get(step)}}


def _with_datastore(clients: Clients, events: list[dict[str, Any]], states: dict[str, str],
                    counts: dict[str, dict[str, int]]) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Step states and task counts, with what the datastore knows better: a step Step Functions calls
    ABORTED or FAILED whose tasks all succeeded (their done.json says so) SUCCEEDED, e.g. a branch
    stopped, or a task failed as the branch was cancelled, after its task had finished. A step outside
    any foreach has one task, named after it; a foreach step's tasks are those its step lists, and it
    is corrected only when as many succeeded as Step Functions counted tasks (at most
    MAX_DONE_READS of them are read). A step whose failure @catch recorded stays FAILED."""
    run = run_records.RunContext.from_history(events)
    if run is None:
        return states, counts
    ds = run_records.flow_datastore(clients, run.datastore_root, run.flow_name)
    out_states, out_counts = dict(states), dict(counts)
    for step, state in states.items():
        if state not in ("ABORTED", "FAILED") or not step.isidentifier():
            continue
        try:
            done = _succeeded_tasks(ds, run.run_id, step, sum(counts.get(step, {}).values()))
        except (*AWS_ERRORS, ValueError, KeyError, TypeError):
            continue  # unreadable: Step Functions' word stands
        if done is not None:
            out_states[step] = "SUCCEEDED"
            if step in counts:
                out_counts[step] = {"succeeded": done, "failed": 0, "running": 0, "aborted": 0}
    return out_states, out_counts


MAX_DONE_READS = 1000


def _succeeded_tasks(ds: Any, run_id: str, step: str, counted: int) -> int | None:
    """How many tasks of `step` succeeded, when all it ran did (else None)."""
    single = ds.read_done_record(run_id, step, step)
    if single is not None:  # outside any foreach: the one task, named after its step
        return 1 if single.get("status") == "succeeded" else None
    if counted <= 0 or counted > MAX_DONE_READS:
        return None
    tasks = ds.list_tasks(run_id, step)
    if len(tasks) < counted:
        return None  # some task Step Functions counted never wrote anything
    succeeded = 0
    for task_id in tasks:
        done = ds.read_done_record(run_id, step, task_id)
        if done is None or done.get("status") != "succeeded":
            return None
        succeeded += 1
    return succeeded


def _history(clients: Clients, arn: str) -> list[dict[str, Any]]:
    return list(_pages(clients.sfn.get_execution_history, "events", executionArn=arn, maxResults=1000))


def _newest_events(clients: Clients, arn: str) -> list[dict[str, Any]]:
    """The execution's newest history event, one (the embedded stack's moto honours reverseOrder and
    maxResults through local/moto/compat.py; a stock moto answers the whole history, read the same)."""
    return clients.sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1).get("events", [])


def _last_event_id(events: list[dict[str, Any]]) -> int:
    """The id of the newest event (ids count up from 1 in the order Step Functions records them); 0 for none."""
    return max((int(e["id"]) for e in events), default=0)


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
        started = map_runs_started(parent_events)  # no Distributed Map entered: no call
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


def _run_summary(execution: Mapping[str, Any]) -> dict[str, Any]:
    name = str(execution["name"])
    out = {
        "run_id": run_ids.run_id(name),
        "execution_arn": execution["executionArn"],
        "status": execution["status"],
        "start_date": _iso(execution.get("startDate")),
        "stop_date": _iso(execution.get("stopDate")),
    }
    tick = run_ids.scheduled_time(out["run_id"])
    if tick is not None:
        out["scheduled_time"] = tick.isoformat().replace("+00:00", "Z")
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None and hasattr(value, "isoformat") else value
