"""Flow parameters as data, and how a value given for one is checked and converted.

Owns: ParameterSpec (a Parameter as the source declares it) and the pure
checks every entry point shares: the trigger API, the command line, the task
runner. Does not own: the Parameter class flow authors write (parameters.py
at the top) or running deploy-time functions (also there).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flowdrop.errors import ParameterError
from flowdrop.model.excerpts import short_repr

# Parameter types, by the name the manifest and the trigger API use.
PARAMETER_TYPES = ("str", "int", "float", "bool", "json")


@dataclass(frozen=True)
class ParameterSpec:
    """A flow Parameter as declared in the source.

    `default` holds the literal default when there is one. A callable default
    (a deploy-time parameter) has `deploy_time=True` and no literal default:
    its value is computed by the uploader or at run start, never by the
    deployer.
    """

    name: str
    attribute: str
    type: str = "str"
    default: Any = None
    has_default: bool = False
    deploy_time: bool = False
    required: bool = False
    help: str | None = None
    lineno: int = 0
    separator: str | None = None  # Metaflow's Parameter(separator=','): the value is a list, split on it
    # Metaflow's IncludeFile: the value is a path whose file's content becomes the artifact,
    # {"is_text": bool, "encoding": str}; None for a plain Parameter.
    include: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "attribute": self.attribute,
            "type": self.type,
            "default": self.default,
            "has_default": self.has_default,
            "deploy_time": self.deploy_time,
            "required": self.required,
            "help": self.help,
            "lineno": self.lineno,
            **({"separator": self.separator} if self.separator is not None else {}),
            **({"include": dict(self.include)} if self.include is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParameterSpec:
        """Inverse of to_dict."""
        return cls(
            name=data["name"],
            attribute=data.get("attribute", data["name"]),
            type=data.get("type", "str"),
            default=data.get("default"),
            has_default=bool(data.get("has_default", False)),
            deploy_time=bool(data.get("deploy_time", False)),
            required=bool(data.get("required", False)),
            help=data.get("help"),
            lineno=int(data.get("lineno", 0)),
            separator=data.get("separator"),
            include=dict(data["include"]) if isinstance(data.get("include"), Mapping) else None,
        )


_TRUE = {"true", "1", "yes", "y", "on"}


_FALSE = {"false", "0", "no", "n", "off"}


def convert_value(spec: ParameterSpec, raw: Any) -> Any:
    """Convert a raw value (a CLI string or a JSON value) to the parameter's type; ValueError says why."""
    kind = spec.type
    if kind == "json":
        if isinstance(raw, str):
            try:
                return json.loads(raw)
            except json.JSONDecodeError as err:
                raise ValueError(f"{_shown(raw)} is not valid JSON ({err.msg})") from err
        return raw
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError(f"{_shown(raw)} is not a boolean (use true or false)")
    if kind == "int":
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(f"{_shown(raw)} is not an integer")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{_shown(raw)} is not an integer") from None
    if kind == "float":
        if isinstance(raw, bool):
            raise ValueError(f"{_shown(raw)} is not a number")
        try:
            value = float(raw)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"{_shown(raw)} is not a number") from None
        if not math.isfinite(value):  # JSON has no inf or NaN: the run's input could not carry it
            raise ValueError(f"{_shown(raw)} is not a finite number")
        return value
    if isinstance(raw, (dict, list)):
        raise ValueError(f"{_shown(raw)} is not a string")
    return str(raw)


def _shown(value: Any) -> str:
    """A given value as errors quote it: an error never echoes a whole (maybe huge) input; None as the
    JSON null it came as in a trigger body."""
    return "null" if value is None else short_repr(value, 60)


def resolve_parameters(
    specs: Iterable[ParameterSpec],
    given: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    *,
    label: Callable[[str], str] = lambda name: f"parameter {short_repr(name, 60)}",
) -> dict[str, Any]:
    """Typed values for every parameter, by parameter name.

    `given` holds what the user passed (names as declared, e.g. 'alpha');
    `defaults` holds evaluated deploy-time defaults. Every problem is
    collected: unknown names, wrong types, missing required values.
    """
    specs = list(specs)
    defaults = defaults or {}
    known = {s.name for s in specs}
    problems = [
        f"unknown {label(name)}; the flow takes: {', '.join(sorted(known)) or 'no parameters'}"
        for name in sorted(set(given) - known)
    ]
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.name in given:
            raw, origin = given[spec.name], "given"
        elif spec.name in defaults:
            raw, origin = defaults[spec.name], "default"
        elif spec.has_default and not spec.deploy_time:
            raw, origin = spec.default, "default"
        elif spec.required:
            problems.append(f"{label(spec.name)} is required ({_type_words(spec.type)})")
            continue
        else:
            values[spec.name] = None
            continue
        if raw is None and origin == "default":
            values[spec.name] = None
            continue
        try:
            if spec.separator is not None and isinstance(raw, str):
                # As Metaflow: each part of the split value is converted to the parameter's type.
                values[spec.name] = [convert_value(spec, part) for part in raw.split(spec.separator)]
            else:
                values[spec.name] = convert_value(spec, raw)
        except ValueError as err:
            problems.append(f"{label(spec.name)} expects {_type_words(spec.type)}: {err}")
    if problems:
        raise ParameterError(problems)
    return values


def _type_words(kind: str) -> str:
    return {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean", "json": "JSON"}[kind]


def parse_parameters_input(text: str | None) -> dict[str, Any]:
    """The seed's execution input value: the JSON string under "Parameters" ("{}" or None: none given)."""
    if text is None or text == "":
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ParameterError([f"Parameters must be a JSON object string, e.g. \"{{\\\"alpha\\\": 0.5}}\": {err.msg}"]) from err
    if not isinstance(data, dict):
        raise ParameterError([f"Parameters must be a JSON object string, got {type(data).__name__}"])
    return data


def checked_deploy_value(spec: ParameterSpec, raw: Any) -> Any:
    """A deploy-time function's result as the manifest stores it; ValueError says why it cannot be."""
    value = convert_value(spec, raw)  # the same check a run applies to the value later
    if spec.type == "json":
        # Stored as JSON text: the task converts it exactly once, as it
        # converts a value given on the command line.
        return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True)
    json.dumps(value)
    return value
