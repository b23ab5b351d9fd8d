"""A stand-in for EventBridge Scheduler's clock: fire the flows' schedules when they come due.

Owns: reading flowdrop's schedules (expression, time zone, target Input)
from the endpoint on every tick, computing the fire times due since the
last tick with model.schedule.fire_times_between (AWS cron with ?, L, W, #,
the year field, rate; in the schedule's time zone, DST included), and
invoking the scheduled handler once per due time with the target's Input,
its context attributes filled in as Scheduler fills them
(`<aws.scheduler.scheduled-time>` is the tick), so the execution name
derived from the tick makes a double delivery, or a restart in the same
minute, one run. Firing a flow's schedule now (`flowdrop schedule fire
FLOW`) goes through the same path. moto stores schedules but never fires
them (EMULATOR.md). Does not own: the schedules (the deployer writes them)
or the handler (app.py).

Like Scheduler, a schedule fires only for ticks after the clock first saw
it: nothing is caught up for the time before `flowdrop up` or a new
deployment (`flowdrop backfill` does that on request).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flowdrop.errors import FlowdropError, ScheduleNotFoundError
from flowdrop.local.loop import RepeatingThread
from flowdrop.model import names
from flowdrop.model.schedule import Schedule, fire_times_between, scheduler_input

log = logging.getLogger(__name__)

# At most this many ticks of one rule per clock tick (a laptop back from
# sleep does not start a day of per-minute runs at once).
MAX_FIRES_PER_TICK = 10


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ScheduleRule:
    """One enabled schedule and the Input its scheduled-handler target is given (context attributes unfilled)."""

    name: str
    expression: str
    inputs: tuple[str, ...]  # the target's Input, when the target is the scheduled function
    timezone: str | None = None
    arn: str = ""


@dataclass(frozen=True)
class Firing:
    """One invocation of the scheduled handler by the clock."""

    rule: str
    time: datetime
    event: dict[str, Any]
    result: Any = None
    error: str | None = None


class ScheduleClock:
    """Ticks every `interval` seconds of real time; what time it is comes from `now` (injectable)."""

    def __init__(self, scheduler: Any, scheduled_function_arn: str, invoke: Callable[[dict[str, Any]], Any], *,
                 group: str = names.SCHEDULE_GROUP, now: Callable[[], datetime] = utc_now, interval: float = 2.0):
        self.scheduler = scheduler
        self.scheduled_function_arn = scheduled_function_arn
        self.invoke = invoke
        self.group = group
        self.now = now
        self.interval = interval
        self.firings: list[Firing] = []
        self._cursors: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._loop = RepeatingThread("flowdrop-clock", self.tick, pause=interval)

    def start(self) -> ScheduleClock:
        """Start ticking in a background thread (schedules present now fire from now on)."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop ticking."""
        self._loop.stop(timeout)

    # --- reading schedules --------------------------------------------------------

    def rules(self) -> list[ScheduleRule]:
        """flowdrop's enabled schedules, with the Input of the target when it is the scheduled function."""
        found: list[ScheduleRule] = []
        kwargs: dict[str, Any] = {"GroupName": self.group}
        while True:
            page = self.scheduler.list_schedules(**kwargs)
            for summary in page.get("Schedules", []):
                if summary.get("State") != "ENABLED":
                    continue
                schedule = self.scheduler.get_schedule(Name=summary["Name"], GroupName=self.group)
                found.append(self._rule(schedule))
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]

    def _rule(self, schedule: dict[str, Any]) -> ScheduleRule:
        target = schedule.get("Target") or {}
        inputs: tuple[str, ...] = ()
        if target.get("Arn") == self.scheduled_function_arn:
            inputs = (target.get("Input") or "{}",)
        else:
            log.warning("schedule %s: target %s is not the scheduled function; the local clock skips it",
                        schedule.get("Name"), target.get("Arn"))
        return ScheduleRule(schedule["Name"], schedule.get("ScheduleExpression", ""), inputs,
                            schedule.get("ScheduleExpressionTimezone") or None, schedule.get("Arn", ""))

    # --- firing -------------------------------------------------------------------

    def tick(self) -> list[Firing]:
        """Fire every schedule whose fire times fell since the last tick; returns the firings."""
        now = self.now()
        fired: list[Firing] = []
        rules = self.rules()
        with self._lock:
            seen = {rule.name for rule in rules}
            for gone in set(self._cursors) - seen:
                del self._cursors[gone]
            for rule in rules:
                since = self._cursors.setdefault(rule.name, now)
                if now <= since:
                    continue
                try:
                    due = fire_times_between(Schedule(rule.expression, rule.timezone), since, now, limit=1000)
                except FlowdropError as err:
                    log.error("schedule %s: %s; the local clock skips it", rule.name, err)
                    self._cursors[rule.name] = now
                    continue
                self._cursors[rule.name] = now
                for moment in due[-MAX_FIRES_PER_TICK:]:
                    fired += self._fire(rule, moment)
        return fired

    def fire_now(self, flow: str, at: datetime | None = None) -> list[Firing]:
        """Fire `flow`'s schedule as if it came due this minute, or at `at` (a redelivery of that tick).

        FlowdropError when the flow has no enabled schedule.
        """
        name = names.schedule_name(flow)
        rules = {rule.name: rule for rule in self.rules()}
        if name not in rules:
            raise ScheduleNotFoundError(f"flow {flow!r} has no enabled schedule ({self.group}/{name}); "
                                        "deploy it with @schedule first")
        moment = (at or self.now()).astimezone(timezone.utc).replace(second=0, microsecond=0)
        return self._fire(rules[name], moment)

    def _fire(self, rule: ScheduleRule, moment: datetime) -> list[Firing]:
        out = []
        for text in rule.inputs:
            try:
                event = scheduler_input(text, moment, rule.arn, execution_id=str(uuid.uuid4()))
            except ValueError as err:
                log.warning("schedule %s: %s; skipped", rule.name, err)
                continue
            try:
                firing = Firing(rule.name, moment, event, result=self.invoke(event))
                log.info("rule %s fired for %s: %s", rule.name, moment.isoformat(), firing.result)
            except Exception as err:  # noqa: BLE001 - one failing flow must not stop the others
                log.exception("rule %s: the scheduled handler failed for %s", rule.name, moment.isoformat())
                firing = Firing(rule.name, moment, event, error=f"{type(err).__name__}: {err}")
            self.firings.append(firing)
            out.append(firing)
        return out
