"""HTTP request bodies and query values, checked at the edge before any service sees them.

Owns: reading a body as JSON whatever its Content-Type says (clients send
bodies without one, and curl -d declares form data; the routes accept every
type, so no header turns a JSON body into a 415 or drops it), bounded in size
(413) and depth (400, never a RecursionError), with finite numbers only (JSON
has no NaN or Infinity; Python's parser accepts them, and 1e309 becomes inf),
query values checked the same way (a fixed set, a bounded whole number, a
flag), and short excerpts of bad input in errors, never the input itself.
Does not own: what a body must contain (trigger.TriggerRequest, the routes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from flowdrop.errors import RequestError, RequestTooLargeError
from flowdrop.model.excerpts import short_repr, short_text

MAX_BODY_BYTES = 256 * 1024  # Step Functions' limit on an execution's input
MAX_DEPTH = 32
# Longer integers carry no meaning a run could use, and past 4,300 digits Python refuses to convert them.
MAX_INT_DIGITS = 100
EXCERPT = 80


def excerpt(value: Any) -> str:
    """A short, printable excerpt of a value from a request, for error messages."""
    return short_text(value, EXCERPT) if isinstance(value, str) else short_repr(value, EXCERPT)


def json_body(raw: bytes | str | None) -> Any:
    """The body as JSON (None when empty); RequestError (400) naming what is wrong."""
    if raw is None or raw == b"" or raw == "":
        return None
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    if len(data) > MAX_BODY_BYTES:
        raise RequestTooLargeError("the body is too large", (f"{len(data):,} bytes; the most is {MAX_BODY_BYTES:,}",))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError("the body is not UTF-8 JSON", (f"byte {err.start} is not UTF-8",)) from err
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                           parse_int=_short_int)
    except _NotFinite as err:
        raise RequestError("the body holds a number JSON cannot carry", (str(err),)) from err
    except json.JSONDecodeError as err:
        raise RequestError("the body is not JSON", (f"{err.msg} at line {err.lineno} column {err.colno}: "
                                                    f"{excerpt(text)!r}",)) from err
    except RecursionError as err:
        raise RequestError("the body is nested too deeply", (f"the most is {MAX_DEPTH} levels",)) from err
    if _depth(value) > MAX_DEPTH:
        raise RequestError("the body is nested too deeply", (f"the most is {MAX_DEPTH} levels",))
    return value


def json_object(raw: bytes | str | None, what: str) -> dict[str, Any]:
    """The body as a JSON object ({} when empty); RequestError when it is JSON of another kind."""
    body = json_body(raw)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise RequestError(f"the {what} request is invalid", (f"the body must be a JSON object, got {_kind(body)}",))
    return body


def choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """A query value that must be one of `allowed` (case-insensitive), upper-cased; None when absent."""
    if value is None:
        return None
    options = tuple(allowed)
    if value.upper() not in options:
        raise RequestError(f"query parameter {name} is invalid",
                           (f"{name}={excerpt(value)!r}: use one of {', '.join(options)}",))
    return value.upper()


def bounded_int(name: str, value: str | None, low: int, high: int, default: int) -> int:
    """A whole-number query value from `low` to `high`; `default` when absent."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise RequestError(f"query parameter {name} is invalid",
                           (f"{name}={excerpt(value)!r}: use a whole number from {low} to {high}",))
    return number


_FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def flag(name: str, value: str | None, default: bool) -> bool:
    """A true/false query value; `default` when absent."""
    if value is None or value == "":
        return default
    if value.lower() not in _FLAGS:
        raise RequestError(f"query parameter {name} is invalid", (f"{name}={excerpt(value)!r}: use true or false",))
    return _FLAGS[value.lower()]


def _kind(value: Any) -> str:
    """A JSON value's kind, in JSON's words."""
    match value:
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "null" if value is None else type(value).__name__


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"{excerpt(text)} is out of range for a number")
    return value


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotFinite(f"an integer of {len(text.lstrip('-')):,} digits is too long (the most is {MAX_INT_DIGITS})")
    return int(text)


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
