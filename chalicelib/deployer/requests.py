"""HTTP request bodies and query values, checked at the edge before any service sees them.

Owns: reading a body as JSON whatever its Content-Type says (API Gateway and
clients such as curl send bodies without one), bounded in size and depth,
with finite numbers only (JSON has no NaN or Infinity; Python's parser
accepts them, and 1e309 becomes inf), and short excerpts of bad input in
errors, never the input itself. Does not own: what a body must contain
(trigger.TriggerRequest, the routes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from flowdrop.errors import RequestError
from flowdrop.model.excerpts import short_repr, short_text

MAX_BODY_BYTES = 256 * 1024  # Step Functions' limit on an execution's input
MAX_DEPTH = 32
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
        raise RequestError("the body is too large", (f"{len(data):,} bytes; the most is {MAX_BODY_BYTES:,}",))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError("the body is not UTF-8 JSON", (f"byte {err.start} is not UTF-8",)) from err
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
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


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"{excerpt(text)} is out of range for a number")
    return value


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
