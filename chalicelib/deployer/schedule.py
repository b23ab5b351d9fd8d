"""The scheduled Lambda's service: one production run per schedule tick, overlap rules, backfill.

Owns: start_scheduled_run (what a tick does), drain_queued_ticks (start a
queued tick once the runs before it ended) and backfill (one run per tick
of a past window). A flow's EventBridge Scheduler schedule invokes the
scheduled Lambda with `{"flow", "scheduled_time", "attempt"}`, Scheduler
filling in the tick's own time (`<aws.scheduler.scheduled-time>`); an
EventBridge rule from before schedules sends `{"flow"}` and the embedded
stack's clock adds `"time"`. The tick is that time, else the latest fire
time of the flow's schedule at or before now, else now to the minute.

The execution name comes from the tick (`sched-20261125T1000Z`), so
redeliveries, Scheduler's retries and a backfill of a tick that already
ran all land on one run. Does not own: the schedules themselves (plan.py,
publish.py) or run views (runs.py).

Overlap (the deployment's `--overlap`, model.schedule.OVERLAPS): a tick that
finds another scheduled run of the flow still going starts nothing
(`skip`), is remembered and started once no scheduled run is going
(`queue`: every tick, and every run that ends, drains the queue in tick
order), or starts anyway (`allow`). Backfill ignores it: asking for six
runs starts six.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error, error_code
from flowdrop.deployer.records import Release
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.deployer.trigger import machine_arn, production_release, start_execution
from flowdrop.errors import RequestError, TriggerError
from flowdrop.model import names
from flowdrop.model import runs as run_ids
from flowdrop.model.excerpts import short_repr
from flowdrop.model.schedule import Schedule, fire_times_between

DEFAULT_INPUT = json.dumps({"Parameters": "{}"})
MAX_BACKFILL_TICKS = 1000
# Windows searched, smallest first, for the latest fire time before now: a
# per-minute cron finds it in the first, a yearly one in the last.
_LOOKBACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367))

STARTED, EXISTING, SKIPPED, QUEUED = "started", "existing", "skipped", "queued"


@dataclass(frozen=True)
class TickOutcome:
    """What one tick did: started its run, found it started, skipped or queued it."""

    flow: str
    tick: datetime
    outcome: str  # STARTED | EXISTING | SKIPPED | QUEUED
    run_id: str
    execution_arn: str | None = None
    blocked_by: str | None = None  # the scheduled run still going, for SKIPPED and QUEUED
    drained: tuple[str, ...] = field(default=())  # queued runs this invocation started first

    @property
    def started(self) -> bool:
        return self.outcome == STARTED

    def to_dict(self) -> dict[str, Any]:
        """The handler's answer."""
        out: dict[str, Any] = {"flow": self.flow, "tick": _iso(self.tick), "outcome": self.outcome,
                               "run_id": self.run_id, "started": self.started}
        if self.execution_arn:
            out["execution_arn"] = self.execution_arn
            out["status_url"] = f"/flows/{self.flow}/runs/{self.run_id}"
        if self.blocked_by:
            out["blocked_by"] = self.blocked_by
        if self.drained:
            out["drained"] = list(self.drained)
        return out


def start_scheduled_run(event: Mapping[str, Any], clients: Clients, settings: DeployerSettings,
                        now: datetime) -> TickOutcome:
    """Do what the tick this invocation stands for asks (see the module docstring)."""
    flow = event.get("flow") or (event.get("detail") or {}).get("flow")
    if not isinstance(flow, str) or not flow:
        raise TriggerError(f"scheduled event names no flow (expected the schedule's Input {{\"flow\": ...}}): "
                           f"{json.dumps(event, default=str)[:200]}")
    store = DeploymentStore(clients.dynamodb, settings.deployments_table)
    release = production_release(store, flow)
    schedule = Schedule.from_dict(release.schedule) if release.schedule else None
    tick = scheduled_tick(event.get("scheduled_time") or event.get("time"), schedule, now)
    return run_tick(flow, tick, release, clients, settings, store)


def run_tick(flow: str, tick: datetime, release: Release, clients: Clients, settings: DeployerSettings,
             store: DeploymentStore) -> TickOutcome:
    """Start the run of `tick` as the release's overlap policy says."""
    base = machine_arn(settings, flow)
    name = names.scheduled_execution_name(tick)
    run_id = run_ids.run_id(name)
    if release.overlap == "allow":
        return _start(clients, flow, tick, base, name)
    drained = drain_queued_ticks(flow, clients, settings, store) if release.overlap == "queue" else ()
    going = _scheduled_runs_going(clients, base)
    if name in going:
        return TickOutcome(flow, tick, EXISTING, run_id, names.execution_arn(base, name), drained=drained)
    if going:
        blocker = run_ids.run_id(sorted(going)[0])
        if release.overlap == "queue":
            store.queue_tick(flow, _iso(tick))
            return TickOutcome(flow, tick, QUEUED, run_id, blocked_by=blocker, drained=drained)
        return TickOutcome(flow, tick, SKIPPED, run_id, blocked_by=blocker, drained=drained)
    outcome = _start(clients, flow, tick, base, name)
    return TickOutcome(outcome.flow, tick, outcome.outcome, run_id, outcome.execution_arn, drained=drained)


def drain_queued_ticks(flow: str, clients: Clients, settings: DeployerSettings,
                       store: DeploymentStore | None = None) -> tuple[str, ...]:
    """Start the oldest queued tick of `flow` if no scheduled run is going; the run ids started.

    A tick's run starts before the tick leaves the queue: an invocation killed in between leaves a tick
    whose run exists, which the next drain drops (the run's name is taken) before going on. The other
    order loses the tick. Two drains at once start one run: its name is the tick's.
    """
    store = store or DeploymentStore(clients.dynamodb, settings.deployments_table)
    base = machine_arn(settings, flow)
    for tick_text in store.queued_ticks(flow):
        if _scheduled_runs_going(clients, base):
            return ()
        tick = datetime.fromisoformat(tick_text.replace("Z", "+00:00"))
        outcome = _start(clients, flow, tick, base, names.scheduled_execution_name(tick))
        store.remove_queued_tick(flow, tick_text)
        if outcome.started:
            return (outcome.run_id,)
    return ()


def backfill(flow: str, start: Any, end: Any, clients: Clients, settings: DeployerSettings,
             now: datetime) -> dict[str, Any]:
    """One run per tick of `flow`'s schedule from `start` to `end` (both included) that has no run yet."""
    first, last = _moment("from", start), _moment("to", end)
    problems = []
    if first is not None and last is not None and first > last:
        problems.append(f"from ({_iso(first)}) is after to ({_iso(last)})")
    if last is not None and last > now:
        problems.append(f"to ({_iso(last)}) is in the future (now is {_iso(now)}); the clock starts those ticks")
    if first is None or last is None or problems:
        missing = [f"{key} is required: an ISO 8601 time like 2026-11-25T09:00:00Z"
                   for key, value in (("from", first), ("to", last)) if value is None]
        raise RequestError("the backfill request is invalid", tuple(missing + problems))
    store = DeploymentStore(clients.dynamodb, settings.deployments_table)
    release = production_release(store, flow)
    if not release.schedule:
        raise RequestError(f"flow {flow!r} has no @schedule; there are no ticks to backfill", ())
    schedule = Schedule.from_dict(release.schedule)
    ticks = fire_times_between(schedule, first - timedelta(microseconds=1), last, limit=MAX_BACKFILL_TICKS + 1)
    if len(ticks) > MAX_BACKFILL_TICKS:
        raise RequestError("the backfill request is invalid",
                           (f"the window holds more than {MAX_BACKFILL_TICKS} ticks of {schedule.expression}; "
                            "backfill it in parts",))
    base = machine_arn(settings, flow)
    started: list[str] = []
    existing: list[str] = []
    for tick in ticks:
        name = names.scheduled_execution_name(tick)
        if _execution_exists(clients, base, name):
            existing.append(run_ids.run_id(name))
            continue
        outcome = _start(clients, flow, tick, base, name)
        (started if outcome.started else existing).append(outcome.run_id)
    return {"flow": flow, "from": _iso(first), "to": _iso(last), "ticks": [_iso(t) for t in ticks],
            "started": started, "existing": existing}


def scheduled_tick(time: Any, schedule: Schedule | None, now: datetime) -> datetime:
    """The tick an invocation stands for, to the minute (see the module docstring)."""
    if isinstance(time, str) and time:
        try:
            moment = datetime.fromisoformat(time.replace("Z", "+00:00"))
        except ValueError as err:
            raise TriggerError(f"scheduled event time {time!r} is not ISO 8601") from err
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return _minute(moment)
    if schedule is not None:
        end = now.astimezone(timezone.utc)
        for window in _LOOKBACK:
            times = fire_times_between(schedule, end - window, end)
            if times:
                return _minute(times[-1])
    return _minute(now)


# -- plumbing -----------------------------------------------------------------------------------


def _start(clients: Clients, flow: str, tick: datetime, base: str, name: str) -> TickOutcome:
    started = start_execution(clients, flow, base, name, DEFAULT_INPUT)
    return TickOutcome(flow, tick, STARTED if started.started else EXISTING, started.run_id, started.execution_arn)


def _scheduled_runs_going(clients: Clients, base: str) -> set[str]:
    """Execution names of the flow's scheduled runs that are RUNNING."""
    going: set[str] = set()
    kwargs: dict[str, Any] = {"stateMachineArn": base, "statusFilter": "RUNNING", "maxResults": 1000}
    while True:
        try:
            page = clients.sfn.list_executions(**kwargs)
        except AWS_ERRORS as err:
            if error_code(err) in ("StateMachineDoesNotExist", "ResourceNotFound"):
                return going
            raise aws_error("Step Functions", "ListExecutions", base, err) from err
        going |= {e["name"] for e in page.get("executions", []) if names.scheduled_tick_of(e["name"]) is not None}
        if not page.get("nextToken"):
            return going
        kwargs["nextToken"] = page["nextToken"]


def _execution_exists(clients: Clients, base: str, name: str) -> bool:
    arn = names.execution_arn(base, name)
    try:
        clients.sfn.describe_execution(executionArn=arn)
    except AWS_ERRORS as err:
        if error_code(err) in ("ExecutionDoesNotExist", "StateMachineDoesNotExist", "ResourceNotFound"):
            return False
        raise aws_error("Step Functions", "DescribeExecution", arn, err) from err
    return True


def _moment(key: str, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as err:
            raise RequestError("the backfill request is invalid",
                               (f"{key} {short_repr(value, 60)} is not an ISO 8601 time like 2026-11-25T09:00:00Z",)) from err
    else:
        raise RequestError("the backfill request is invalid", (f"{key} must be an ISO 8601 string, got {short_repr(value, 60)}",))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(second=0, microsecond=0)
