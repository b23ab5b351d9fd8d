"""@trigger and @trigger_on_finish as data: what starts a flow, and how an event's payload becomes parameters.

Owns: reading the two decorators' arguments in Metaflow's forms into
FlowTriggers (names validated, duplicate events refused, @project-aware
upstream flows resolved to the state machine they deploy as), the payload
-> parameter mapping (by default a parameter takes the payload field of its
own name; a missing field leaves the parameter to its default), and the
execution name a set of events starts (one run per event id, or per set of
ids for a multi-event trigger). Does not own: rules and queues
(deployer/plan.py), validating parameter values (model/parameters.py) or
starting runs (deployer/events.py). Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowdrop.errors import DecoratorError

# Where flowdrop's own events come from on the flowdrop bus (`flowdrop event publish`, POST /events, Event).
EVENT_SOURCE = "flowdrop.events"
# Step Functions' status events on the default bus (AWS emits them; the embedded stack's poller too).
STATUS_SOURCE = "aws.states"
STATUS_DETAIL_TYPE = "Step Functions Execution Status Change"

# A multi-event trigger starts a run when all its events arrived within this many seconds (options={'window': s}).
DEFAULT_WINDOW_SECONDS = 3600
MAX_WINDOW_SECONDS = 7 * 86400

# An event name is EventBridge's detail-type (at most 128 characters); Metaflow's
# names are dotted words (`table.prod_db.members`, `metaflow.Flow.end`).
MAX_EVENT_NAME = 128
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]*$")
_FLOW_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_TRIGGER_ARGS = ("event", "events", "options")
_ON_FINISH_ARGS = ("flow", "flows", "options")


@dataclass(frozen=True)
class EventTrigger:
    """One event a flow waits for, and which payload field fills which parameter (parameter -> field)."""

    name: str
    parameters: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "parameters": dict(self.parameters)}


@dataclass(frozen=True)
class FlowTrigger:
    """An upstream flow whose successful production run starts this one; `deployed` is its state machine."""

    flow: str
    deployed: str

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "deployed": self.deployed}


@dataclass(frozen=True)
class FlowTriggers:
    """Everything that starts a deployed flow besides the API and its schedule."""

    events: tuple[EventTrigger, ...] = ()
    flows: tuple[FlowTrigger, ...] = ()
    window_seconds: int = DEFAULT_WINDOW_SECONDS

    def __bool__(self) -> bool:
        return bool(self.events or self.flows)

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as the release records it."""
        return {"events": [e.to_dict() for e in self.events], "flows": [f.to_dict() for f in self.flows],
                "window_seconds": self.window_seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FlowTriggers:
        """Inverse of to_dict (None: no triggers)."""
        if not data:
            return cls()
        return cls(tuple(EventTrigger(e["name"], dict(e.get("parameters") or {})) for e in data.get("events", ())),
                   tuple(FlowTrigger(f["flow"], f["deployed"]) for f in data.get("flows", ())),
                   int(data.get("window_seconds", DEFAULT_WINDOW_SECONDS)))

    @property
    def keys(self) -> tuple[str, ...]:
        """What must arrive before a run starts: event names, and `flow:<state machine>` per upstream flow."""
        return tuple(e.name for e in self.events) + tuple(upstream_key(f.deployed) for f in self.flows)


def upstream_key(deployed: str) -> str:
    """The arrival key of an upstream flow's success."""
    return f"flow:{deployed}"


# -- reading the decorators ---------------------------------------------------------------


def trigger_events(attrs: Mapping[str, Any]) -> tuple[tuple[EventTrigger, ...], int]:
    """@trigger(event=... | events=[...], options=...) -> its events and window; DecoratorError names the fault."""
    _unknown("trigger", attrs, _TRIGGER_ARGS)
    event, events = attrs.get("event"), attrs.get("events")
    if event and events:
        raise DecoratorError("@trigger: specify only one of event or events")
    if event:
        found = (_event(event, "event"),)
    elif events:
        if not isinstance(events, (list, tuple)):
            raise DecoratorError("@trigger(events=...): events must be a list, like events=['foo', "
                                 "{'name': 'bar', 'parameters': {'alpha': 'beta'}}]")
        found = tuple(_event(e, f"events[{i}]") for i, e in enumerate(events))
    else:
        raise DecoratorError("@trigger: no event given; write @trigger(event='foo') or @trigger(events=['foo', 'bar'])")
    seen: set[str] = set()
    for item in found:
        if item.name in seen:
            raise DecoratorError(f"@trigger: event {item.name!r} is given twice; each event may appear once")
        seen.add(item.name)
    return found, _window("trigger", attrs.get("options"))


def _event(value: Any, where: str) -> EventTrigger:
    if isinstance(value, str):
        return EventTrigger(_event_name(value, where))
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"name", "parameters"})
        if unknown:
            raise DecoratorError(f"@trigger({where}=...): unknown key(s) {', '.join(map(repr, unknown))}; "
                                 "an event is {'name': ..., 'parameters': ...}")
        if "name" not in value:
            raise DecoratorError(f"@trigger({where}=...): the event is missing its 'name' key")
        name = _event_name(value["name"], where)
        return EventTrigger(name, _mapping(value.get("parameters") or {}, name))
    raise DecoratorError(f"@trigger({where}={value!r}): an event is a name or a dict, like 'foo' or "
                         "{'name': 'foo', 'parameters': {'alpha': 'beta'}}")


def _event_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise DecoratorError(f"@trigger({where}=...): the event name must be a non-empty string, got {name!r}")
    if len(name) > MAX_EVENT_NAME or not _EVENT_NAME.match(name):
        raise DecoratorError(f"@trigger({where}=...): event name {name!r} must be at most {MAX_EVENT_NAME} "
                             "letters, digits and . _ - : (starting with a letter, digit or _)")
    return name


def _mapping(parameters: Any, event: str) -> dict[str, str]:
    """Metaflow's parameter mappings: {param: field}, or a list of 'name' and ('param', 'field')."""
    out: dict[str, str] = {}
    if isinstance(parameters, Mapping):
        for key, value in parameters.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise DecoratorError(f"@trigger: the parameters of event {event!r} must map parameter names "
                                     f"(strings) to payload fields (strings), got {key!r}: {value!r}")
            out[key] = value
        return out
    if isinstance(parameters, (list, tuple)):
        for item in parameters:
            if isinstance(item, str):
                out[item] = item
            elif isinstance(item, (list, tuple)) and len(item) == 2 and all(isinstance(x, str) for x in item):
                out[item[0]] = item[1]
            else:
                raise DecoratorError(f"@trigger: the parameters of event {event!r} must be a list of names and "
                                     f"(parameter, field) pairs, got {item!r}")
        return out
    raise DecoratorError(f"@trigger: the parameters of event {event!r} must be a dict or a list, got {parameters!r}")


def finish_flows(attrs: Mapping[str, Any], project: str | None, branch: str | None) -> tuple[tuple[FlowTrigger, ...], int]:
    """@trigger_on_finish(flow=... | flows=[...]) -> upstream flows, @project-aware as in Metaflow.

    A bare flow name in a @project flow means the flow of the same project
    and branch; `project.branch.Flow` names one exactly; a dict may give
    'project' and 'project_branch', the rest taken from this flow's.
    """
    _unknown("trigger_on_finish", attrs, _ON_FINISH_ARGS)
    flow, flows = attrs.get("flow"), attrs.get("flows")
    if flow and flows:
        raise DecoratorError("@trigger_on_finish: specify only one of flow or flows")
    if flow:
        given = [(flow, "flow")]
    elif flows:
        if not isinstance(flows, (list, tuple)):
            raise DecoratorError("@trigger_on_finish(flows=...): flows must be a list, like flows=['FooFlow', 'BarFlow']")
        given = [(f, f"flows[{i}]") for i, f in enumerate(flows)]
    else:
        raise DecoratorError("@trigger_on_finish: no flow given; write @trigger_on_finish(flow='FooFlow')")
    found = tuple(_upstream(value, where, project, branch) for value, where in given)
    if len({f.deployed for f in found}) != len(found):
        raise DecoratorError("@trigger_on_finish: the same upstream flow is given twice")
    return found, _window("trigger_on_finish", attrs.get("options"))


def _upstream(value: Any, where: str, project: str | None, branch: str | None) -> FlowTrigger:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"name", "project", "project_branch"})
        if unknown:
            raise DecoratorError(f"@trigger_on_finish({where}=...): unknown key(s) {', '.join(map(repr, unknown))}; "
                                 "a flow is {'name': ..., 'project': ..., 'project_branch': ...}")
        name = value.get("name")
        if not isinstance(name, str) or not name or "." in name:
            raise DecoratorError(f"@trigger_on_finish({where}=...): 'name' must be a flow name without dots, "
                                 f"got {name!r}")
        for key in ("project", "project_branch"):
            if key in value and not isinstance(value[key], str):
                raise DecoratorError(f"@trigger_on_finish({where}=...): {key!r} must be a string, got {value[key]!r}")
        proj, br = value.get("project", project), value.get("project_branch", branch)
    elif isinstance(value, str):
        dots = value.count(".")
        if dots == 0:
            name, proj, br = value, project, branch
        elif dots >= 2:
            proj, tail = value.split(".", 1)
            br, name = tail.rsplit(".", 1)
        else:
            raise DecoratorError(f"@trigger_on_finish({where}={value!r}): give a flow name or a fully qualified "
                                 "project_name.branch_name.FlowName")
    else:
        raise DecoratorError(f"@trigger_on_finish({where}={value!r}): a flow is a name or a dict, like 'FooFlow' or "
                             "{'name': 'FooFlow', 'project_branch': 'prod'}")
    if not _FLOW_NAME.match(name):
        raise DecoratorError(f"@trigger_on_finish({where}=...): flow name {name!r} may hold only letters, digits "
                             "and underscores")
    if proj and br:
        return FlowTrigger(name, f"{proj}.{br}.{name}")
    return FlowTrigger(name, name)


def _window(decorator: str, options: Any) -> int:
    if options is None:
        return DEFAULT_WINDOW_SECONDS
    if not isinstance(options, Mapping):
        raise DecoratorError(f"@{decorator}(options=...): options must be a dict, like options={{'window': 600}}")
    window = options.get("window", DEFAULT_WINDOW_SECONDS)
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_SECONDS:
        raise DecoratorError(f"@{decorator}(options={{'window': {window!r}}}): window is the seconds within which "
                             f"all events must arrive, a whole number from 1 to {MAX_WINDOW_SECONDS}")
    return window


def _unknown(decorator: str, attrs: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(attrs) - set(allowed))
    if unknown:
        raise DecoratorError(f"@{decorator}: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def flow_triggers(trigger: Mapping[str, Any] | None, on_finish: Mapping[str, Any] | None,
                  project: str | None = None, branch: str | None = None) -> FlowTriggers:
    """The triggers of a flow from its two decorators' arguments (None: not used)."""
    events: tuple[EventTrigger, ...] = ()
    flows: tuple[FlowTrigger, ...] = ()
    windows = []
    if trigger is not None:
        events, window = trigger_events(trigger)
        windows.append(window)
    if on_finish is not None:
        flows, window = finish_flows(on_finish, project, branch)
        windows.append(window)
    return FlowTriggers(events, flows, min(windows) if windows else DEFAULT_WINDOW_SECONDS)


def split_deployed_name(deployed: str) -> tuple[str | None, str | None]:
    """(project, branch) of a `<project>.<branch>.<Flow>` state machine name; (None, None) for a bare one."""
    if deployed.count(".") < 2:
        return None, None
    project, tail = deployed.split(".", 1)
    branch, _ = tail.rsplit(".", 1)
    return project, branch


# -- events -> parameters -------------------------------------------------------------------


def mapped_parameters(triggers: FlowTriggers, payloads: Mapping[str, Mapping[str, Any]],
                      parameter_names: Iterable[str]) -> dict[str, Any]:
    """The parameter values the arrived events give: {parameter: payload value}.

    Each event's explicit mapping wins; a parameter no mapping names takes the
    payload field of its own name from any event that has one. A parameter
    no event gives is left out, so its default applies (or, when it is
    required, the parameter check says it is missing).
    """
    names = list(parameter_names)
    out: dict[str, Any] = {}
    for event in triggers.events:
        payload = payloads.get(event.name)
        if payload is None:
            continue
        for name in names:
            if name not in event.parameters and name in payload and name not in out:
                out[name] = payload[name]
    for event in triggers.events:
        payload = payloads.get(event.name) or {}
        for parameter, source in event.parameters.items():
            if source in payload:
                out[parameter] = payload[source]
    return out


def unmapped_parameters(triggers: FlowTriggers, parameter_names: Iterable[str]) -> list[str]:
    """Problems with the mappings: a mapping that names a parameter the flow does not have."""
    known = set(parameter_names)
    return [f"@trigger event {event.name!r} maps payload field {source!r} to parameter {parameter!r}, which the "
            f"flow does not have (its parameters: {', '.join(sorted(known)) or 'none'})"
            for event in triggers.events for parameter, source in event.parameters.items() if parameter not in known]


def event_execution_name(event_ids: Iterable[str]) -> str:
    """`evt-<hash>`: the same event (or set of events) always names the same execution, so redelivery is one run."""
    joined = "\n".join(sorted(event_ids))
    return "evt-" + hashlib.sha256(joined.encode("utf-8")).hexdigest()[:40]
