"""A stand-in for EventBridge's clock: fire the flows' schedule rules when they come due.

Owns: reading flowdrop's rules (and their targets' Input) from the endpoint
on every tick, computing the fire times due since the last tick with
cron.fire_times_between (AWS cron with ?, L, W, #, the year field; rate),
and invoking the scheduled handler once per due time with the target's
Input plus `"time"` (the fire time), so the execution name derived from the
tick makes a double delivery, or a restart in the same minute, one run.
Firing a flow's rule now (`flowdrop schedule fire FLOW`) goes through the
same path. moto stores rules but never fires them (EMULATOR.md).
Does not own: the rules (the deployer writes them) or the handler (app.py).

Like EventBridge, a rule fires only for ticks after the clock first saw it:
nothing is backfilled for the time before `flowdrop up` or a new deployment.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from flowdrop.errors import FlowdropError, ScheduleNotFoundError
from flowdrop.local.loop import RepeatingThread
from flowdrop.model import names
from flowdrop.model.schedule import Schedule, fire_times_between

log = logging.getLogger(__name__)

# At most this many ticks of one rule per clock tick (a laptop back from
# sleep does not start a day of per-minute runs at once).
MAX_FIRES_PER_TICK = 10


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ScheduleRule:
    """One enabled schedule rule and what its scheduled-handler target is given."""

    name: str
    expression: str
    inputs: tuple[dict[str, Any], ...]  # one per target that is the scheduled function


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

    def __init__(self, events: Any, scheduled_function_arn: str, invoke: Callable[[dict[str, Any]], Any], *,
                 now: Callable[[], datetime] = utc_now, interval: float = 2.0):
        self.events = events
        self.scheduled_function_arn = scheduled_function_arn
        self.invoke = invoke
        self.now = now
        self.interval = interval
        self.firings: list[Firing] = []
        self._cursors: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._loop = RepeatingThread("flowdrop-clock", self.tick, pause=interval)

    def start(self) -> ScheduleClock:
        """Start ticking in a background thread (rules present now fire from now on)."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop ticking."""
        self._loop.stop(timeout)

    # --- reading rules ------------------------------------------------------------

    def rules(self) -> list[ScheduleRule]:
        """flowdrop's enabled schedule rules, with the Input of each target that is the scheduled function."""
        found: list[ScheduleRule] = []
        kwargs: dict[str, Any] = {"NamePrefix": names.RULE_PREFIX}
        while True:
            page = self.events.list_rules(**kwargs)
            for rule in page.get("Rules", []):
                if rule.get("State") != "ENABLED" or not rule.get("ScheduleExpression"):
                    continue
                found.append(ScheduleRule(rule["Name"], rule["ScheduleExpression"], self._inputs(rule["Name"])))
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]

    def _inputs(self, rule: str) -> tuple[dict[str, Any], ...]:
        inputs = []
        for target in self.events.list_targets_by_rule(Rule=rule).get("Targets", []):
            if target.get("Arn") != self.scheduled_function_arn:
                log.warning("rule %s: target %s is not the scheduled function; the local clock skips it",
                            rule, target.get("Arn"))
                continue
            try:
                value = json.loads(target.get("Input") or "{}")
            except json.JSONDecodeError:
                log.warning("rule %s: target Input is not JSON; skipped", rule)
                continue
            inputs.append(value if isinstance(value, dict) else {"input": value})
        return tuple(inputs)

    # --- firing -------------------------------------------------------------------

    def tick(self) -> list[Firing]:
        """Fire every rule whose fire times fell since the last tick; returns the firings."""
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
                    due = fire_times_between(Schedule(rule.expression), since, now, limit=1000)
                except FlowdropError as err:
                    log.error("rule %s: %s; the local clock skips it", rule.name, err)
                    self._cursors[rule.name] = now
                    continue
                self._cursors[rule.name] = now
                for moment in due[-MAX_FIRES_PER_TICK:]:
                    fired += self._fire(rule, moment)
        return fired

    def fire_now(self, flow: str, at: datetime | None = None) -> list[Firing]:
        """Fire `flow`'s rule as if it came due this minute, or at `at` (a redelivery of that tick).

        FlowdropError when the flow has no enabled rule.
        """
        rule_name = names.rule_name(flow)
        rules = {rule.name: rule for rule in self.rules()}
        if rule_name not in rules:
            raise ScheduleNotFoundError(f"flow {flow!r} has no enabled schedule rule ({rule_name}); "
                                "deploy it with @schedule first")
        moment = (at or self.now()).astimezone(timezone.utc).replace(second=0, microsecond=0)
        return self._fire(rules[rule_name], moment)

    def _fire(self, rule: ScheduleRule, moment: datetime) -> list[Firing]:
        out = []
        for base in rule.inputs:
            event = {**base, "time": moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
            try:
                firing = Firing(rule.name, moment, event, result=self.invoke(event))
                log.info("rule %s fired for %s: %s", rule.name, moment.isoformat(), firing.result)
            except Exception as err:  # noqa: BLE001 - one failing flow must not stop the others
                log.exception("rule %s: the scheduled handler failed for %s", rule.name, moment.isoformat())
                firing = Firing(rule.name, moment, event, error=f"{type(err).__name__}: {err}")
            self.firings.append(firing)
            out.append(firing)
        return out
