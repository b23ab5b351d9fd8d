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

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

from .errors import DecoratorError

HOURLY = "cron(0 * * * ? *)"
DAILY = "cron(0 0 * * ? *)"
WEEKLY = "cron(0 0 ? * SUN *)"  # Metaflow: Sundays at midnight

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


def normalize_expression(text: str) -> str:
    """The EventBridge form of `text`: six AWS cron fields, `cron(...)` or `rate(...)`; validated."""
    text = " ".join(text.split())
    if text.startswith("rate("):
        return _normalize_rate(text)
    if text.startswith("cron("):
        if not text.endswith(")"):
            raise DecoratorError(f"cron expression {text!r} is missing its closing ')'")
        return to_aws_cron(text[len("cron(") : -1])
    return to_aws_cron(text)


def to_aws_cron(fields6: str) -> str:
    """'0 10 * * ? *' -> 'cron(0 10 * * ? *)', after validating the six fields."""
    fields = " ".join(fields6.split())
    _parse_cron(fields)
    return f"cron({fields})"


def validate_expression(expression: str) -> None:
    """Raise DecoratorError naming every bad field of a cron or rate expression."""
    normalize_expression(expression)


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
    value, unit = _parse_rate(expression)
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
    spec = _parse_cron(schedule.expression[len("cron(") : -1])
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
    day = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, day) >= 5:  # Saturday, Sunday
        day -= 1
    return day


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise DecoratorError(
            f"@schedule: timezone {name!r} is not a known IANA time zone (e.g. 'Europe/Berlin', 'America/New_York')"
        ) from err


# -- rate ---------------------------------------------------------------------

_RATE = re.compile(r"^rate\((\S+) (\S+)\)$")


def _parse_rate(text: str) -> tuple[int, str]:
    match = _RATE.match(text)
    if not match:
        raise DecoratorError(f"rate expression {text!r} must look like 'rate(5 minutes)' or 'rate(1 hour)'")
    value_text, unit = match.groups()
    if not value_text.isdigit() or int(value_text) < 1:
        raise DecoratorError(f"rate expression {text!r}: value {value_text!r} must be a whole number >= 1")
    value = int(value_text)
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in ("minute", "hour", "day"):
        raise DecoratorError(f"rate expression {text!r}: unit {unit!r} must be minute(s), hour(s) or day(s)")
    expected = singular if value == 1 else singular + "s"
    if unit != expected:
        raise DecoratorError(f"rate expression {text!r}: with value {value} the unit must be {expected!r}")
    return value, singular


def _normalize_rate(text: str) -> str:
    value, unit = _parse_rate(text)
    return f"rate({value} {unit if value == 1 else unit + 's'})"


# -- cron ---------------------------------------------------------------------


@dataclass(frozen=True)
class _FieldRule:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i
    wildcards: str = ", - * /"


_MINUTES = _FieldRule("minutes", 0, 59)
_HOURS = _FieldRule("hours", 0, 23)
_DAY_OF_MONTH = _FieldRule("day-of-month", 1, 31, wildcards=", - * ? / L W")
_MONTH = _FieldRule("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
_DAY_OF_WEEK = _FieldRule("day-of-week", 1, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), ", - * ? L #")
_YEAR = _FieldRule("year", 1970, 2199)
_RULES = (_MINUTES, _HOURS, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK, _YEAR)
_FIELD_NAMES = " ".join(rule.name for rule in _RULES)


@dataclass(frozen=True)
class _CronSpec:
    croniter_expression: str
    years: tuple[int, ...]
    day_or: bool = True
    last_weekday: bool = False  # 'LW': filtered here, croniter has no such form


class _FieldProblem(Exception):
    pass


def _parse_cron(fields6: str) -> _CronSpec:
    """Validate six AWS cron fields and translate them for croniter; every problem is reported."""
    label = f"cron {fields6!r}"
    fields = fields6.split()
    if len(fields) != 6:
        raise DecoratorError(
            f"{label}: has {len(fields)} field(s); AWS cron needs 6: {_FIELD_NAMES} (e.g. '0 10 * * ? *' for 10:00 UTC daily)"
        )
    problems: list[str] = []
    parsed: list[Any] = []
    for rule, text in zip(_RULES, fields, strict=True):
        try:
            parsed.append(_parse_field(rule, text))
        except _FieldProblem as err:
            problems.append(str(err))
            parsed.append(None)
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        both = "both '?'" if dom == "?" else "both set"
        problems.append(
            f"day-of-month {dom!r} and day-of-week {dow!r} are {both}; exactly one of them must be '?' "
            "(e.g. '0 10 * * ? *' or '0 10 ? * MON *')"
        )
    if problems:
        raise DecoratorError(f"{label}: " + "; ".join(problems))
    minutes, hours, dom_c, month, dow_c, years = parsed
    last_weekday = dom_c == "LW"
    if last_weekday:
        # The last weekday of a month is always on day 26 or later.
        dom_c, dow_c = "26-31", "1-5"
    expression = " ".join([minutes, hours, dom_c, month, dow_c])
    return _CronSpec(expression, tuple(sorted(years)), day_or=not last_weekday, last_weekday=last_weekday)


def _parse_field(rule: _FieldRule, text: str) -> Any:
    """One field -> its croniter form (a set of ints for the year)."""
    if text == "?":
        if rule not in (_DAY_OF_MONTH, _DAY_OF_WEEK):
            raise _problem(rule, text, "'?' is only allowed in day-of-month and day-of-week")
        return "*"
    special = _parse_special(rule, text)
    if special is not None:
        return special
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(rule, text, item)
    if rule is _YEAR:
        return values
    if rule is _DAY_OF_WEEK:
        values = {v - 1 for v in values}  # AWS SUN=1..SAT=7 -> croniter SUN=0..SAT=6
        if len(values) == 7:
            return "*"
        return ",".join(str(v) for v in sorted(values))
    if len(values) == rule.high - rule.low + 1:
        return "*"
    return ",".join(str(v) for v in sorted(values))


def _parse_special(rule: _FieldRule, text: str) -> str | None:
    """The L, W and # forms, which AWS allows only as the whole field."""
    up = text.upper()
    if rule is _DAY_OF_MONTH and ("L" in up or "W" in up):
        if up in ("L", "LW"):
            return up
        if up.endswith("W") and up[:-1].isdigit():
            return f"{_value(rule, text, up[:-1])}W"
        raise _problem(rule, text, "'L', 'LW' and 'nW' (the weekday nearest day n) must stand alone")
    if rule is _DAY_OF_WEEK and ("L" in up or "#" in up):
        if up == "L":
            return "6"  # the last day of the week: Saturday
        if any(mark in up for mark in ",-/*"):
            raise _problem(rule, text, "'nL' and 'n#k' must stand alone, e.g. '6L' (last Friday) or '2#1' (first Monday)")
        if up.endswith("L"):
            return f"L{_value(rule, text, up[:-1]) - 1}"  # croniter's 'last <weekday> of the month'
        day_text, _, nth = up.partition("#")
        day = _value(rule, text, day_text)
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise _problem(rule, text, f"'#{nth}' must be 1-5 (the nth such weekday of the month)")
        return f"{day - 1}#{int(nth)}"
    return None


def _parse_item(rule: _FieldRule, text: str, item: str) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) < 1:
            raise _problem(rule, text, f"increment {step_text!r} must be a whole number >= 1")
        step = int(step_text)
    if base == "*":
        low, high = rule.low, rule.high
    elif "-" in base:
        start_text, _, stop_text = base.partition("-")
        low, high = _value(rule, text, start_text), _value(rule, text, stop_text)
        if low > high:
            raise _problem(rule, text, f"range {base!r} runs backwards; write it as two ranges")
    else:
        low = _value(rule, text, base)
        high = rule.high if slash else low  # '5/15': from 5, every 15
    return set(range(low, high + 1, step))


def _value(rule: _FieldRule, text: str, token: str) -> int:
    if token.upper() in rule.names:
        return rule.low + rule.names.index(token.upper())
    if not token.isdigit():
        allowed = f"numbers {rule.low}-{rule.high}"
        if rule.names:
            allowed += f" or {rule.names[0]}-{rule.names[-1]}"
        raise _problem(rule, text, f"{token!r} is not allowed; use {allowed} with {rule.wildcards}")
    value = int(token)
    if not rule.low <= value <= rule.high:
        if token == text:
            raise _FieldProblem(f"{rule.name} field {text!r} is out of range {rule.low}-{rule.high}")
        raise _problem(rule, text, f"{value} is out of range {rule.low}-{rule.high}")
    return value


def _problem(rule: _FieldRule, text: str, what: str) -> _FieldProblem:
    return _FieldProblem(f"{rule.name} field {text!r}: {what}")
