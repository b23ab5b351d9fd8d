"""Step and flow decorators as data: defaults, argument rules, --with specs.

Owns: Decorator, Metaflow's default attributes, decorator_problems (the one
check the parser, the manifest, --with and import time share), and the
decorators in force on a step. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from flowdrop.model.excerpts import short_repr
from flowdrop.model.frozen import FrozenRecord
from flowdrop.model.ignored import IGNORED_STEP

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any
    from flowdrop.model.graph import Node


class Decorator(FrozenRecord):
    """A decorator applied to a step or a flow, with its literal keyword arguments.

    `expressions` are the arguments that read the flow's Configs, as source
    text: (keyword, expression), keyword None for `**config`. graph/configs.py
    turns them into attributes once the config values are known.
    """

    _fields = ("name", "attributes", "lineno", "expressions")
    name: str
    attributes: Mapping[str, Any]
    lineno: int
    expressions: tuple[tuple[str | None, str], ...]

    def __init__(self, name: str, attributes: Mapping[str, Any] | None = None, lineno: int = 0,
                 expressions: tuple[tuple[str | None, str], ...] = ()):
        self._set(name=name, attributes={} if attributes is None else attributes, lineno=lineno,
                  expressions=expressions)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = {"name": self.name, "attributes": dict(self.attributes), "lineno": self.lineno}
        if self.expressions:  # only when there are any: graphs of flows without configs keep their form
            out["expressions"] = [list(item) for item in self.expressions]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decorator:
        """Inverse of to_dict."""
        expressions = tuple((key, str(text)) for key, text in data.get("expressions") or ())
        return cls(data["name"], dict(data.get("attributes", {})), int(data.get("lineno", 0)), expressions)


# Step decorators' default attributes, as in Metaflow. The runtime and the
# compiler both read decorators through effective_decorators, so a flow means
# the same thing locally and in Step Functions.
DECORATOR_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "retry": {"times": 3, "minutes_between_retries": 2},
    "catch": {"var": None, "print_exception": True},
    "timeout": {"seconds": 0, "minutes": 0, "hours": 0},
    "resources": {"cpu": 1, "gpu": 0, "memory": 4096},
    "batch": {"cpu": 1, "gpu": 0, "memory": 4096, "image": None, "queue": None},
    "environment": {"vars": {}},
}


# Step decorators a flow may carry: flowdrop's own, Metaflow's others, which
# are accepted and ignored (model/ignored.py), and @parallel, which refuses when used. `--with`
# names outside this list are typing mistakes and are refused.
STEP_DECORATOR_NAMES: tuple[str, ...] = tuple(sorted({
    *DECORATOR_DEFAULTS, *IGNORED_STEP, "parallel", "pytorch_parallel",
}))


def unknown_step_decorator(name: str) -> str | None:
    """None for a known step decorator; else a message naming the closest known ones."""
    if name in STEP_DECORATOR_NAMES:
        return None
    import difflib

    close = difflib.get_close_matches(name, STEP_DECORATOR_NAMES, n=2)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return f"no step decorator named {name!r}.{hint} Known: {', '.join(STEP_DECORATOR_NAMES)}."


# Step Functions caps TimeoutSeconds (a Task's @timeout, a whole run's
# workflow_timeout) and a Retry's IntervalSeconds at 99,999,999 seconds.
MAX_SFN_SECONDS = 99_999_999


# Each retry reruns the whole task and, inside a foreach, adds its events to
# the execution's 25,000-event history for every item; past a handful of
# tries a step is broken, not flaky. Metaflow also caps its attempts.
MAX_RETRY_TIMES = 10


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def decorator_problems(decorator: Decorator) -> list[str]:
    """Every way a step decorator's literal arguments cannot work; [] when they can.

    One check for the static graph, the manifest's `--with` specs, the
    `--with` option and the decorators at import, so all four agree. Each
    problem names the argument as written: "@timeout(seconds='abc'): seconds
    must be ...". Decorators flowdrop does not know (a Metaflow flow's
    @conda, @kubernetes) are accepted and ignored, as a flow may carry them.
    """
    name, attributes = decorator.name, decorator.attributes
    known = DECORATOR_DEFAULTS.get(name)
    if known is None:
        return []
    problems: list[str] = []

    def bad(key: str, text: str) -> None:
        problems.append(f"@{name}({key}={_short_repr(attributes[key])}): {key} {text}")

    for key in attributes:
        if key not in known:
            problems.append(f"@{name}({key}=...): unknown argument {key!r}; @{name} takes {', '.join(known)}")
    values = {**known, **attributes}
    for key in attributes:
        if key not in known:
            continue
        value = attributes[key]
        match name, key:
            case "retry", "times":
                if not _is_int(value) or not 0 <= value <= MAX_RETRY_TIMES:
                    bad(key, f"must be a whole number from 0 to {MAX_RETRY_TIMES}")
            case "retry", "minutes_between_retries":
                if not _is_number(value) or not 0 <= value * 60 <= MAX_SFN_SECONDS:
                    bad(key, f"must be a number of minutes from 0 to {MAX_SFN_SECONDS // 60}")
            case "timeout", _:
                if not _is_int(value) or value < 0:
                    bad(key, f"must be a whole number of {key} >= 0")
            case ("resources" | "batch"), "cpu":
                if not _is_number(value) or value <= 0:
                    bad(key, "must be a number of vCPUs > 0")
            case ("resources" | "batch"), "gpu":
                if not _is_int(value) or value < 0:
                    bad(key, "must be a whole number of GPUs >= 0")
            case ("resources" | "batch"), "memory":
                if not _is_int(value) or value <= 0:
                    bad(key, "must be a whole number of megabytes > 0")
            case "batch", ("image" | "queue"):
                if value is not None and (not isinstance(value, str) or not value):
                    bad(key, "must be a non-empty string or None")
            case "catch", "var":
                if value is not None and (not isinstance(value, str) or not value.isidentifier()):
                    bad(key, "must be an artifact name (a Python identifier) or None")
            case "catch", "print_exception":
                if not isinstance(value, bool):
                    bad(key, "must be True or False")
            case "environment", "vars":
                if not isinstance(value, Mapping) or not all(
                    isinstance(k, str) and _ENV_NAME.fullmatch(k) and isinstance(v, str) for k, v in value.items()
                ):
                    bad(key, "must be a dict of environment variable names to strings, like {'MODE': 'fast'}")
    if name == "timeout" and not problems:
        total = timeout_seconds(values)
        if not 0 < total <= MAX_SFN_SECONDS:
            args = ", ".join(f"{k}={_short_repr(v)}" for k, v in attributes.items())
            where = f"@timeout({args})" if args else "@timeout"
            if total <= 0:
                problems.append(f"{where}: the total is 0 seconds; give a positive seconds=, minutes= or hours=")
            else:
                problems.append(f"{where}: the total is more than Step Functions' limit of {MAX_SFN_SECONDS} seconds")
    return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _short_repr(value: Any) -> str:
    return short_repr(value, 40)


def parse_with_spec(spec: str) -> Decorator:
    """A `--with` option value: "retry" or "retry:times=2,minutes_between_retries=0"."""
    name, _, args = spec.partition(":")
    name = name.strip()
    if not name.isidentifier():
        raise ValueError(f"--with {spec!r}: {name!r} is not a decorator name")
    attributes: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in args.split(","))):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"--with {spec!r}: expected key=value, got {part!r}")
        attributes[key.strip()] = _literal(raw.strip())
    return Decorator(name, attributes)


def _literal(raw: str) -> Any:
    import ast

    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def effective_decorators(node: Node, with_decorators: tuple[Decorator, ...] = ()) -> dict[str, dict[str, Any]]:
    """The decorators in force on a step, name -> attributes with defaults filled in.

    A step's own decorator wins over the same one given by `--with`; `--with`
    adds a decorator to every step that lacks it. `@retry(times=0)` is kept
    (times 0 means no retries, even under `--with retry`).
    """
    out: dict[str, dict[str, Any]] = {}
    for deco in (*with_decorators, *node.decorators):
        attrs = dict(DECORATOR_DEFAULTS.get(deco.name, {}))
        attrs.update(deco.attributes)
        out[deco.name] = attrs
    return out


def timeout_seconds(attributes: Mapping[str, Any]) -> int:
    """@timeout(seconds=, minutes=, hours=) as one number of seconds."""
    return int(attributes.get("seconds") or 0) + 60 * int(attributes.get("minutes") or 0) + 3600 * int(attributes.get("hours") or 0)
