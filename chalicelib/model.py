"""Pure data shared by every layer: the flow graph, its parameters and decorators.

Owns: the frozen shapes that the graph parser produces and the runtime,
compiler, packager and deployer consume, and their JSON form (the manifest
carries a graph). Does not own: parsing (graph.py), validation of values
(parameters.py), or anything that does I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# Node types, as Metaflow names them. A step's type says how it is entered
# (join) or left (split, foreach); `start` and `end` are the two ends.
START, LINEAR, SPLIT, FOREACH, JOIN, END = "start", "linear", "split", "foreach", "join", "end"
NODE_TYPES = (START, LINEAR, SPLIT, FOREACH, JOIN, END)

# Parameter types, by the name the manifest and the trigger API use.
PARAMETER_TYPES = ("str", "int", "float", "bool", "json")


@dataclass(frozen=True)
class Decorator:
    """A decorator applied to a step or a flow, with its literal keyword arguments."""

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    lineno: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "attributes": dict(self.attributes), "lineno": self.lineno}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decorator:
        """Inverse of to_dict."""
        return cls(data["name"], dict(data.get("attributes", {})), int(data.get("lineno", 0)))


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
        )


@dataclass(frozen=True)
class Node:
    """One step of a flow.

    `split_parents` lists the split and foreach steps enclosing this one,
    outermost first; `matching_join` is set on split and foreach steps.
    `foreach_depth` counts the foreach steps among the split parents: it is
    the number of indices in this step's task ids.
    """

    name: str
    type: str
    out_funcs: tuple[str, ...] = ()
    in_funcs: tuple[str, ...] = ()
    foreach_param: str | None = None
    is_join: bool = False
    decorators: tuple[Decorator, ...] = ()
    lineno: int = 0
    split_parents: tuple[str, ...] = ()
    matching_join: str | None = None
    foreach_depth: int = 0
    doc: str | None = None

    def decorator(self, name: str) -> Decorator | None:
        """The decorator called `name` on this step, if any."""
        for deco in self.decorators:
            if deco.name == name:
                return deco
        return None

    @property
    def is_split(self) -> bool:
        """True when the step fans out (a branch or a foreach)."""
        return self.foreach_param is not None or len(self.out_funcs) > 1

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "type": self.type,
            "out_funcs": list(self.out_funcs),
            "in_funcs": list(self.in_funcs),
            "foreach_param": self.foreach_param,
            "is_join": self.is_join,
            "decorators": [d.to_dict() for d in self.decorators],
            "lineno": self.lineno,
            "split_parents": list(self.split_parents),
            "matching_join": self.matching_join,
            "foreach_depth": self.foreach_depth,
            "doc": self.doc,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        """Inverse of to_dict."""
        return cls(
            name=data["name"],
            type=data["type"],
            out_funcs=tuple(data.get("out_funcs", ())),
            in_funcs=tuple(data.get("in_funcs", ())),
            foreach_param=data.get("foreach_param"),
            is_join=bool(data.get("is_join", False)),
            decorators=tuple(Decorator.from_dict(d) for d in data.get("decorators", ())),
            lineno=int(data.get("lineno", 0)),
            split_parents=tuple(data.get("split_parents", ())),
            matching_join=data.get("matching_join"),
            foreach_depth=int(data.get("foreach_depth", 0)),
            doc=data.get("doc"),
        )


@dataclass(frozen=True)
class Graph:
    """A validated flow: its steps in topological order, parameters and flow decorators."""

    flow_name: str
    file: str
    nodes: tuple[Node, ...]
    parameters: tuple[ParameterSpec, ...] = ()
    flow_decorators: tuple[Decorator, ...] = ()
    lineno: int = 0
    doc: str | None = None

    def __getitem__(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(node.name == name for node in self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def flow_decorator(self, name: str) -> Decorator | None:
        """The flow-level decorator called `name` (schedule, project), if any."""
        for deco in self.flow_decorators:
            if deco.name == name:
                return deco
        return None

    def parameter(self, name: str) -> ParameterSpec | None:
        """The parameter called `name`, if any."""
        for param in self.parameters:
            if param.name == name:
                return param
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as carried in the manifest."""
        return {
            "flow_name": self.flow_name,
            "file": self.file,
            "lineno": self.lineno,
            "doc": self.doc,
            "nodes": [n.to_dict() for n in self.nodes],
            "parameters": [p.to_dict() for p in self.parameters],
            "flow_decorators": [d.to_dict() for d in self.flow_decorators],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Graph:
        """Inverse of to_dict."""
        return cls(
            flow_name=data["flow_name"],
            file=data["file"],
            lineno=int(data.get("lineno", 0)),
            doc=data.get("doc"),
            nodes=tuple(Node.from_dict(n) for n in data["nodes"]),
            parameters=tuple(ParameterSpec.from_dict(p) for p in data.get("parameters", ())),
            flow_decorators=tuple(Decorator.from_dict(d) for d in data.get("flow_decorators", ())),
        )


def task_id_for(step: str, indices: tuple[int, ...] | list[int] = ()) -> str:
    """The deterministic task id of `step` at the given foreach indices.

    `start` -> "start"; the third item of foreach step `fit` -> "fit-2";
    nested foreach -> "inner-3-1". Locally and in Step Functions alike, so a
    join can name its inputs without a side table.
    """
    return step + "".join(f"-{int(i)}" for i in indices)


def indices_of(task_id: str) -> tuple[int, ...]:
    """The foreach indices encoded in a task id made by task_id_for."""
    # Step names are Python identifiers, so every '-' separates an index.
    return tuple(int(part) for part in task_id.split("-")[1:])


# Task modes: "run" executes the step; "catch" runs after a step's final
# failure under @catch and records that failure so the flow goes on.
TASK_MODES = ("run", "catch")


@dataclass(frozen=True)
class TaskPayload:
    """What every compute backend hands the task runner: one task to run.

    The same shape travels in a Batch job's environment, a task Lambda's
    event and a worker queue's message. Everything that is the same for
    every task of a deployment (package, datastore) comes from the
    deployment, and run identity from the execution (`sfn-<name>`).
    `parameters` is the JSON string of the execution input's `Parameters`
    key exactly as the seed shows it ("{}" or None: every default).
    """

    flow_name: str
    step: str
    run_id: str
    indices: tuple[int, ...] = ()
    parameters: str | None = None
    mode: str = "run"
    retry_count: int = 0
    code_package: str | None = None
    datastore_root: str | None = None

    @property
    def task_id(self) -> str:
        """The deterministic task id of this task."""
        return task_id_for(self.step, self.indices)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "flow_name": self.flow_name,
            "step": self.step,
            "run_id": self.run_id,
            "indices": list(self.indices),
            "parameters": self.parameters,
            "mode": self.mode,
            "retry_count": self.retry_count,
            "code_package": self.code_package,
            "datastore_root": self.datastore_root,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskPayload:
        """Inverse of to_dict."""
        return cls(
            flow_name=str(data["flow_name"]),
            step=str(data["step"]),
            run_id=str(data["run_id"]),
            indices=tuple(int(i) for i in data.get("indices") or ()),
            parameters=data.get("parameters"),
            mode=str(data.get("mode", "run")),
            retry_count=int(data.get("retry_count") or 0),
            code_package=data.get("code_package"),
            datastore_root=data.get("datastore_root"),
        )


# A foreach task's output tells Step Functions how many items to fan out to.
# Up to this many indices travel inline in the state output (an INLINE Map
# over them); past it only the count and an S3 location of the items do,
# for a DISTRIBUTED Map (keeping well under the 256 KB payload limit).
INLINE_FOREACH_LIMIT = 1000


def task_output(task_id: str, foreach_count: int | None = None, items_location: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON a task returns to Step Functions (SendTaskSuccess output, Lambda result)."""
    out: dict[str, Any] = {"task_id": task_id}
    if foreach_count is not None:
        out["foreach_count"] = foreach_count
        out["foreach_indices"] = list(range(foreach_count)) if foreach_count <= INLINE_FOREACH_LIMIT else []
        if items_location is not None:
            out["foreach_items"] = dict(items_location)
    return out


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
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


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
