"""@schedule as EventBridge schedule expressions: validation and fire times.

Owns: turning the @schedule decorator's arguments into an EventBridge
expression (`cron(...)` or `rate(...)`) plus an optional IANA time zone,
validating expressions by the AWS rules (moto validates nothing, see
EMULATOR.md), and computing when a schedule fires, for the embedded stack's
clock and for the deployer's "next runs" display. Does not own: creating
rules or Scheduler schedules (deployer/), or the clock itself (local/).

Pure: no clock (times are passed in), no I/O. Cron iteration is croniter's;
this module only translates AWS cron into croniter's dialect and filters
what croniter cannot express (the year field, `LW`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from flowdrop.errors import DecoratorError
from flowdrop.model.cron import normalize_expression, parse_cron, parse_rate, validate_expression

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

HOURLY = "cron(0 * * * ? *)"
DAILY = "cron(0 0 * * ? *)"
WEEKLY = "cron(0 0 ? * SUN *)"  # Metaflow: Sundays at midnight

# What a tick does when the flow's previous scheduled run is still going:
# start nothing (the default: a slow hourly flow never piles up), start the
# tick's run once the earlier ones end, or start it anyway.
OVERLAPS = ("skip", "queue", "allow")
DEFAULT_OVERLAP = "skip"

_SCHEDULE_ARGS = ("hourly", "daily", "weekly", "cron", "timezone")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LAST_YEAR = 2199  # the top of AWS's year range: nothing fires after it


@dataclass(frozen=True)
class Schedule:
    """When a deployed flow runs: an EventBridge expression, evaluated in `timezone` (None: UTC)."""

    expression: str
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not self.expression.startswith(("cron(", "rate(")):
            raise DecoratorError(f"schedule expression {self.expression!r} must be 'cron(...)' or 'rate(...)'")
        validate_expression(self.expression)
        if self.timezone is not None:
            _zone(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as the manifest carries it."""
        return {"expression": self.expression, "timezone": self.timezone}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """Inverse of to_dict; raises DecoratorError for a bad expression or zone."""
        expression, zone = data.get("expression"), data.get("timezone")
        if not isinstance(expression, str):
            raise DecoratorError(f"schedule expression must be a string, got {expression!r}")
        if zone is not None and not isinstance(zone, str):
            raise DecoratorError(f"schedule timezone must be a string or null, got {zone!r}")
        return cls(expression, zone)


def schedule_from_attributes(attrs: Mapping[str, Any] | None) -> Schedule | None:
    """The Schedule for the @schedule decorator's keyword arguments.

    None (no decorator) -> None. As in Metaflow, a bare `@schedule` (no
    arguments, or only `timezone`) is daily, and all of hourly/daily/weekly
    set to False with no cron means no schedule. Setting more than one of
    hourly/daily/weekly/cron is an error here (Metaflow silently picks one).
    """
    if attrs is None:
        return None
    unknown = sorted(set(attrs) - set(_SCHEDULE_ARGS))
    if unknown:
        raise DecoratorError(
            f"@schedule: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(_SCHEDULE_ARGS)}"
        )
    for flag in ("hourly", "daily", "weekly"):
        if flag in attrs and not isinstance(attrs[flag], bool):
            raise DecoratorError(f"@schedule: {flag} must be True or False, got {attrs[flag]!r}")
    cron_text = attrs.get("cron")
    if cron_text is not None and not isinstance(cron_text, str):
        raise DecoratorError(f"@schedule: cron must be a string like '0 10 * * ? *', got {cron_text!r}")
    zone = attrs.get("timezone")
    if zone is not None:
        if not isinstance(zone, str):
            raise DecoratorError(f"@schedule: timezone must be an IANA zone name like 'Europe/Berlin', got {zone!r}")
        _zone(zone)

    chosen = [flag for flag in ("hourly", "daily", "weekly") if attrs.get(flag)]
    if cron_text is not None:
        chosen.append("cron")
    if len(chosen) > 1:
        raise DecoratorError(f"@schedule: use only one of hourly, daily, weekly or cron; got {', '.join(chosen)}")
    if not chosen:
        if any(flag in attrs for flag in ("hourly", "daily", "weekly")):
            return None  # explicitly switched off, e.g. @schedule(daily=False)
        chosen = ["daily"]  # Metaflow's default: a bare @schedule runs daily
    match chosen[0]:
        case "hourly":
            expression = HOURLY
        case "daily":
            expression = DAILY
        case "weekly":
            expression = WEEKLY
        case _:
            expression = normalize_expression(str(cron_text))
    return Schedule(expression, zone)


# -- fire times ---------------------------------------------------------------


def next_fire_times(schedule: Schedule, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` fire times strictly after `after`, as aware UTC datetimes."""
    return _fire_times(schedule, after, None, count)


def fire_times_between(schedule: Schedule, start: datetime, end: datetime, limit: int = 1000) -> list[datetime]:
    """Fire times t with start < t <= end, oldest first, at most `limit` of them (aware UTC)."""
    _require_aware(end, "end")
    return _fire_times(schedule, start, end, limit)


def _fire_times(schedule: Schedule, after: datetime, end: datetime | None, count: int) -> list[datetime]:
    _require_aware(after, "after")
    if count <= 0:
        return []
    if schedule.expression.startswith("rate("):
        times = _rate_times(schedule.expression, after, end, count)
    else:
        times = _cron_times(schedule, after, end, count)
    return times


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment.isoformat()}")


def _rate_times(expression: str, after: datetime, end: datetime | None, count: int) -> list[datetime]:
    # AWS starts a rate at rule creation; we align to multiples of the period
    # since the Unix epoch (UTC) so fire times, and the execution names derived
    # from them, are the same whenever and wherever they are computed.
    value, unit = parse_rate(expression)
    period_us = value * {"minute": 60, "hour": 3600, "day": 86400}[unit] * 1_000_000
    elapsed = (after - _EPOCH) // timedelta(microseconds=1)
    k = elapsed // period_us + 1
    times: list[datetime] = []
    while len(times) < count:
        moment = _EPOCH + timedelta(microseconds=k * period_us)
        if end is not None and moment > end:
            break
        times.append(moment)
        k += 1
    return times


def _cron_times(schedule: Schedule, after: datetime, end: datetime | None, count: int) -> list[datetime]:
    # croniter walks naive wall-clock time in the schedule's zone; each wall
    # time is then placed in the zone the way EventBridge Scheduler does on a
    # DST change: a wall time that does not exist (spring forward) is skipped,
    # one that happens twice (fall back) fires once, at its first occurrence.
    from croniter import croniter  # imported here: a flow without a cron schedule never pays for it
    from croniter.croniter import CroniterError

    spec = parse_cron(schedule.expression[len("cron(") : -1])
    zone = _zone(schedule.timezone) if schedule.timezone else timezone.utc
    utc_after = after.astimezone(timezone.utc)
    utc_end = end.astimezone(timezone.utc) if end is not None else None
    cursor = utc_after.astimezone(zone).replace(tzinfo=None, fold=0)
    it = croniter(spec.croniter_expression, cursor, day_or=spec.day_or)
    times: list[datetime] = []
    while len(times) < count:
        try:
            wall = it.get_next(datetime)
        except CroniterError:  # e.g. 'cron(0 0 30 2 ? *)': never fires
            break
        if wall.year not in spec.years:
            later = [y for y in spec.years if y > wall.year]
            if not later:
                break
            it = croniter(spec.croniter_expression, datetime(min(later), 1, 1) - timedelta(seconds=1), day_or=spec.day_or)
            continue
        if spec.last_weekday and wall.day != _last_weekday(wall.year, wall.month):
            continue
        moment = _place(wall, zone)
        if moment is None or moment <= utc_after:
            continue
        if utc_end is not None and moment > utc_end:
            break
        times.append(moment)
    return times


def _place(wall: datetime, zone: Any) -> datetime | None:
    """The UTC instant of a wall-clock time in `zone`; None when DST skips it."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    if first.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return first


def _last_weekday(year: int, month: int) -> int:
    import calendar  # imported when a schedule is iterated, not by every process that reads OVERLAPS

    day = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, day) >= 5:  # Saturday, Sunday
        day -= 1
    return day


def _zone(name: str) -> ZoneInfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # as calendar above

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise DecoratorError(
            f"@schedule: timezone {name!r} is not a known IANA time zone (e.g. 'Europe/Berlin', 'America/New_York')"
        ) from err


# -- rate ---------------------------------------------------------------------


# -- cron ---------------------------------------------------------------------


def scheduler_input(text: str, moment: datetime, schedule_arn: str = "", attempt: int = 1,
                    execution_id: str = "") -> dict[str, Any]:
    """A target's Input as Scheduler delivers it for the tick `moment`: context attributes filled in, parsed.

    ValueError when the Input is not a JSON object.
    """
    filled = (text.replace("<aws.scheduler.scheduled-time>", moment.astimezone(timezone.utc).strftime(
                  "%Y-%m-%dT%H:%M:%SZ"))
              .replace("<aws.scheduler.attempt-number>", str(attempt))
              .replace("<aws.scheduler.execution-id>", execution_id)
              .replace("<aws.scheduler.schedule-arn>", schedule_arn))
    try:
        value = json.loads(filled)
    except json.JSONDecodeError as err:
        raise ValueError(f"target Input is not JSON ({err})") from err
    if not isinstance(value, dict):
        raise ValueError("target Input is not a JSON object")
    return value
