"""The scheduled Lambda's service: one production run per schedule tick.

Owns: start_scheduled_run. A flow's EventBridge rule invokes the scheduled
Lambda with the rule target's Input `{"flow": ...}` (on AWS the Input
replaces the Scheduled Event, so its `time` is lost); the embedded stack's
clock may add `"time"`. The tick is that time, else the latest fire time of
the flow's schedule at or before now, else now rounded down to the minute.
The execution name is derived from the tick (`sched-20261125T1000Z`), so
EventBridge's at-least-once delivery (and Lambda's async retries) start one
run per tick. Does not own: the rules themselves (plan.py, publish.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from flowdrop.deployer.clients import Clients
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.deployer.trigger import RunStarted, machine_arn, production_release, start_execution
from flowdrop.errors import TriggerError
from flowdrop.model import names
from flowdrop.model.schedule import Schedule, fire_times_between

DEFAULT_INPUT = json.dumps({"Parameters": "{}"})
# Windows searched, smallest first, for the latest fire time before now: a
# per-minute cron finds it in the first, a yearly one in the last.
_LOOKBACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367))


def start_scheduled_run(event: Mapping[str, Any], clients: Clients, settings: DeployerSettings,
                        now: datetime) -> RunStarted:
    """Start the run of the tick this invocation stands for (or find the one already started)."""
    flow = event.get("flow") or (event.get("detail") or {}).get("flow")
    if not isinstance(flow, str) or not flow:
        raise TriggerError(f"scheduled event names no flow (expected the rule's Input {{\"flow\": ...}}): "
                           f"{json.dumps(event, default=str)[:200]}")
    release = production_release(DeploymentStore(clients.dynamodb, settings.deployments_table), flow)
    schedule = Schedule.from_dict(release.schedule) if release.schedule else None
    tick = scheduled_tick(event.get("time"), schedule, now)
    name = names.scheduled_execution_name(tick)
    return start_execution(clients, flow, machine_arn(settings, flow), name, DEFAULT_INPUT)


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


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(second=0, microsecond=0)
