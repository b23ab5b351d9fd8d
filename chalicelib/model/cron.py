"""EventBridge's cron and rate expression grammar, checked by AWS's rules.

Owns: normalising and validating `cron(...)` (six fields: minutes hours
day-of-month month day-of-week year, with AWS's ? L W # forms) and
`rate(...)` expressions, each problem naming the field; moto validates
nothing (EMULATOR.md). Does not own: what @schedule means or fire times
(schedule.py). Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flowdrop.errors import DecoratorError


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
    parse_cron(fields)
    return f"cron({fields})"


def validate_expression(expression: str) -> None:
    """Raise DecoratorError naming every bad field of a cron or rate expression."""
    normalize_expression(expression)


_RATE = re.compile(r"^rate\((\S+) (\S+)\)$")


def parse_rate(text: str) -> tuple[int, str]:
    """(value, unit) of `rate(5 minutes)`; DecoratorError naming what is wrong."""
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
    value, unit = parse_rate(text)
    return f"rate({value} {unit if value == 1 else unit + 's'})"


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
class CronSpec:
    """Six AWS cron fields in croniter's dialect, plus what croniter cannot express."""

    croniter_expression: str
    years: tuple[int, ...]
    day_or: bool = True
    last_weekday: bool = False  # 'LW': filtered here, croniter has no such form


class _FieldProblem(Exception):
    pass


def parse_cron(fields6: str) -> CronSpec:
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
    return CronSpec(expression, tuple(sorted(years)), day_or=not last_weekday, last_weekday=last_weekday)


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
