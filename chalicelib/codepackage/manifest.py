"""The manifest: the versioned description of a deployment inside every code package.

Owns: the manifest's shape and its validation at the edge. The deployer
reads packages that anyone with write access to the bucket can drop, so
from_dict checks every field and reports every problem with its path
(`options.max_workers`, `parameters[1].type`) before anything else trusts
it. Does not own: building the graph (graph.py), evaluating deploy-time
parameters (the uploader), or the tarball around it (archive.py).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowdrop.codepackage.archive import path_problem
from flowdrop.errors import DecoratorError, PackageError
from flowdrop.model.alerts import alerts_problems
from flowdrop.model.backends import BACKENDS, DEFAULT_BACKEND
from flowdrop.model.decorators import MAX_SFN_SECONDS, decorator_problems, parse_with_spec
from flowdrop.model.graph import Graph
from flowdrop.model.parameters import PARAMETER_TYPES
from flowdrop.model.schedule import DEFAULT_OVERLAP, OVERLAPS, Schedule

MANIFEST_VERSION = 1

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Step Functions state machine names: 1-80 characters, none of these.
_BAD_SFN_CHARS = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_FIELDS = (
    "version", "flow_name", "flow_class", "flow_file", "state_machine_name", "graph", "parameters",
    "deploy_time_values", "decorators", "schedule", "project", "branch", "options", "user", "created",
    "code_sha256", "sdk_version",
)  # fmt: skip
# Fields added since: a manifest without them means their default (and a deployment without one writes none).
_LATER_FIELDS = ("configs",)
_OPTIONS = ("max_workers", "workflow_timeout", "with_decorators", "tags", "backend")
# Options added since: a manifest without them means their default.
_LATER_OPTIONS = ("schedule_overlap", "alerts", "distributed_map")


@dataclass(frozen=True)
class Manifest:
    """What the uploader knows about a deployment that the deployer must not compute itself."""

    version: int
    flow_name: str
    flow_class: str
    flow_file: str  # path inside code/
    state_machine_name: str
    graph: dict[str, Any]  # Graph.to_dict() form
    parameters: list[dict[str, Any]]  # ParameterSpec.to_dict() plus "value" for deploy-time parameters
    deploy_time_values: dict[str, Any]
    decorators: dict[str, Any]  # flow decorators
    schedule: dict[str, Any] | None  # cron.Schedule.to_dict()
    project: str | None
    branch: str | None
    options: dict[str, Any]  # max_workers, workflow_timeout, with_decorators, tags, backend
    user: str
    created: str  # ISO 8601, UTC
    code_sha256: str
    sdk_version: str
    configs: dict[str, Any] = field(default_factory=dict)  # Config values, frozen at deploy time, by name

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as written to manifest.json."""
        out = {name: copy.deepcopy(getattr(self, name)) for name in _FIELDS}
        if self.configs:
            out["configs"] = copy.deepcopy(self.configs)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Validate untrusted JSON; raises PackageError listing every problem with its field path."""
        if not isinstance(data, Mapping):
            raise PackageError(f"manifest.json: must be a JSON object, got {type(data).__name__}")
        version = data.get("version")
        if type(version) is not int or version != MANIFEST_VERSION:
            raise PackageError(
                f"manifest.json: version {version!r} is not supported; this flowdrop reads version "
                f"{MANIFEST_VERSION}. Deploy with a matching flowdrop."
            )
        try:
            problems = _problems(data)
            if problems:
                raise PackageError("\n".join(f"manifest.json: {p}" for p in problems))
            return cls(**{name: copy.deepcopy(data[name]) for name in _FIELDS},
                       configs=copy.deepcopy(data.get("configs") or {}))
        except RecursionError as err:
            # JSON nested a few hundred deep reads fine but is too deep to check or copy.
            raise PackageError("manifest.json: a value is nested too deeply to check; "
                               "rebuild the package with the uploader") from err

    def graph_model(self) -> Graph:
        """The flow graph as model objects."""
        return Graph.from_dict(self.graph)

    def schedule_model(self) -> Schedule | None:
        """The schedule as a cron.Schedule, or None."""
        return Schedule.from_dict(self.schedule) if self.schedule is not None else None


# -- validation ---------------------------------------------------------------------


def _got(value: Any) -> str:
    text = repr(value)
    return f"got {text[:80] + '...' if len(text) > 80 else text}"


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int to Python, not to a manifest


def _problems(data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    missing = [name for name in _FIELDS if name not in data]
    problems += [f"{name} is missing" for name in missing]
    problems += [f"{name} is not a manifest field" for name in sorted(set(data) - set(_FIELDS) - set(_LATER_FIELDS),
                                                                      key=str)]
    checks: dict[str, Callable[[str, Any], list[str]]] = {
        "flow_name": _identifier,
        "flow_class": _identifier,
        "flow_file": _relative_path,
        "state_machine_name": _state_machine_name,
        "graph": _graph,
        "parameters": _parameters,
        "deploy_time_values": _string_keyed,
        "decorators": _string_keyed,
        "schedule": _schedule,
        "project": _optional_text,
        "branch": _optional_text,
        "options": _options,
        "user": _text,
        "created": _created,
        "code_sha256": _sha256,
        "sdk_version": _text,
        "configs": _string_keyed,
    }
    for name, check in checks.items():
        if name in data:
            problems += check(name, data[name])
    return problems


def _text(path: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{path} must be a non-empty string, {_got(value)}"]
    return []


def _optional_text(path: str, value: Any) -> list[str]:
    return [] if value is None else _text(path, value)


def _identifier(path: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not value.isidentifier():
        return [f"{path} must be a Python identifier (the flow's class name), {_got(value)}"]
    return []


def _relative_path(path: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"{path} must be a path inside code/, {_got(value)}"]
    problem = path_problem(value)
    return [f"{path} must be a path inside code/: {problem}, {_got(value)}"] if problem else []


def _state_machine_name(path: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not 1 <= len(value) <= 80 or _BAD_SFN_CHARS.search(value):
        return [f"{path} must be 1-80 characters without spaces, brackets, wildcards or punctuation, {_got(value)}"]
    return []


def _string_keyed(path: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path} must be an object, {_got(value)}"]
    return [f"{path} keys must be strings, {_got(key)}" for key in value if not isinstance(key, str)]


def _graph(path: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path} must be an object (a flow graph), {_got(value)}"]
    try:
        Graph.from_dict(value)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        what = f"missing key {err}" if isinstance(err, KeyError) else str(err)
        return [f"{path} is not a valid flow graph: {what}"]
    return []


def _parameters(path: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        return [f"{path} must be a list, {_got(value)}"]
    problems: list[str] = []
    names: set[str] = set()
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be an object, {_got(item)}")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name must be a non-empty string, {_got(name)}")
        elif name in names:
            problems.append(f"{where}.name {name!r} is declared twice")
        else:
            names.add(name)
        if item.get("type", "str") not in PARAMETER_TYPES:
            problems.append(f"{where}.type must be one of {', '.join(PARAMETER_TYPES)}, {_got(item.get('type'))}")
        for flag in ("has_default", "deploy_time", "required"):
            if flag in item and not isinstance(item[flag], bool):
                problems.append(f"{where}.{flag} must be true or false, {_got(item[flag])}")
        # The deployer never runs user code: a deploy-time default travels as its value.
        if item.get("deploy_time") is True and "value" not in item:
            problems.append(f"{where}.value is missing: deploy-time parameter {name!r} must be evaluated by the uploader")
    return problems


def _schedule(path: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{path} must be an object or null, {_got(value)}"]
    try:
        Schedule.from_dict(value)
    except DecoratorError as err:
        return [f"{path}: {err}"]
    return []


def _options(path: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path} must be an object, {_got(value)}"]
    problems = [f"{path}.{key} is missing" for key in _OPTIONS if key not in value]
    known = set(_OPTIONS) | set(_LATER_OPTIONS)
    problems += [f"{path}.{key} is not an option" for key in sorted(set(value) - known, key=str)]
    workers = value.get("max_workers", 1)
    if not _is_int(workers) or workers < 1:
        problems.append(f"{path}.max_workers must be an int >= 1, {_got(workers)}")
    timeout = value.get("workflow_timeout")
    if timeout is not None and (not _is_int(timeout) or not 1 <= timeout <= MAX_SFN_SECONDS):
        problems.append(f"{path}.workflow_timeout must be null or an int from 1 to {MAX_SFN_SECONDS} "
                        f"(seconds; Step Functions' limit), {_got(timeout)}")
    specs = value.get("with_decorators", [])
    if not isinstance(specs, list):
        problems.append(f"{path}.with_decorators must be a list of --with specs, {_got(specs)}")
    else:
        for i, spec in enumerate(specs):
            problems += [f"{path}.with_decorators[{i}]: {p}" for p in _with_spec_problems(spec)]
    tags = value.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) and tag for tag in tags):
        problems.append(f"{path}.tags must be a list of non-empty strings, {_got(tags)}")
    backend = value.get("backend", DEFAULT_BACKEND)
    if backend not in BACKENDS:
        problems.append(f"{path}.backend must be one of {', '.join(BACKENDS)}, {_got(backend)}")
    overlap = value.get("schedule_overlap", DEFAULT_OVERLAP)
    if overlap not in OVERLAPS:
        problems.append(f"{path}.schedule_overlap must be one of {', '.join(OVERLAPS)}, {_got(overlap)}")
    if "alerts" in value:
        problems += alerts_problems(f"{path}.alerts", value["alerts"])
    if not isinstance(value.get("distributed_map", False), bool):
        problems.append(f"{path}.distributed_map must be true or false, {_got(value['distributed_map'])}")
    return problems


def _with_spec_problems(spec: Any) -> list[str]:
    if not isinstance(spec, str):
        return [f"must be a string like 'retry:times=2', {_got(spec)}"]
    try:
        decorator = parse_with_spec(spec)
    except ValueError as err:
        return [str(err)]
    return [f"--with {spec!r}: {problem}" for problem in decorator_problems(decorator)]


def _created(path: str, value: Any) -> list[str]:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() != timedelta(0):
        return [f"{path} must be an ISO 8601 time in UTC like '2026-11-03T10:00:00+00:00', {_got(value)}"]
    return []


def _sha256(path: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not _SHA256.match(value):
        return [f"{path} must be 64 lowercase hex digits (package.code_sha256), {_got(value)}"]
    return []
