"""The user-facing decorators: @step, @retry, @catch, @timeout, @resources,
@batch, @environment on steps; @schedule, @project, @trigger,
@trigger_on_finish and @exit_hook on flows.

Owns: recording metadata and checking arguments when the flow module is
imported (a bad cron expression fails right there). Does not own what the
decorators mean: the runtime and the compiler read them from the static
graph (graph.py) through model.effective_decorators, so the deployer, which
never imports user code, sees the same thing.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable

from flowdrop.errors import DecoratorError
from flowdrop.model.decorators import Decorator, decorator_problems
from flowdrop.model.frozen import FrozenRecord

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any

STEP_DECORATORS_ATTR = "_flowdrop_decorators"
FLOW_DECORATORS_ATTR = "_flowdrop_flow_decorators"


def step(func: Callable) -> Callable:
    """Mark a method of a FlowSpec as a step."""
    func._flowdrop_step = True  # type: ignore[attr-defined]
    func.name = func.__name__  # type: ignore[attr-defined]  # as Metaflow's: `for step in flow: step.name`
    func.is_step = True  # type: ignore[attr-defined]
    if not hasattr(func, STEP_DECORATORS_ATTR):
        setattr(func, STEP_DECORATORS_ATTR, [])
    return func


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def definition_error(message: str) -> DecoratorError:
    """A DecoratorError naming where the flow's source wrote it: the first frame outside flowdrop.

    Decorators run while the flow file's class body executes, before any
    flowdrop command could print the error, so the location makes it read
    like the graph's own errors (file:line: ...). And when that file is the
    script being run (`python flow.py ...`, not a module a test or the task
    runner loads), the message is printed and the process exits 1 right
    here with 2 (the input was wrong, as for every other flow error: cli/exits.py): a user sees one line,
    not a traceback through flowdrop.
    """
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}: " if frame is not None else ""
    flowspec = sys.modules.get("flowdrop.flowspec")
    if (frame is not None and frame.f_globals.get("__name__") == "__main__"
            and not getattr(flowspec, "CLI_DEFERRED", False)):
        print(where + message, file=sys.stderr)
        raise SystemExit(2)
    return DecoratorError(where + message)


def _config_unpacked(name: str, unpacked: dict[str, Any]) -> dict[str, Any]:
    """`**cfg` in a decorator call while the class body runs: allowed (a config expression), nothing else is."""
    from flowdrop.user_configs import UNPACK_KEY

    for key in unpacked:
        if not key.startswith(UNPACK_KEY):
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
    return unpacked


def _step_decorator(name: str, func: Callable | None, attributes: dict[str, Any],
                    unpacked: dict[str, Any] | None = None) -> Any:
    from flowdrop.user_configs import is_delayed

    _config_unpacked(name, unpacked or {})
    # The same check the static graph, the manifest and `--with` use, so a
    # bad argument fails here with a message, not later with a TypeError.
    # Arguments over the flow's configs are checked once their values are known (graph/configs.py).
    problems = decorator_problems(Decorator(name, {k: v for k, v in attributes.items() if not is_delayed(v)}))
    if problems:
        raise definition_error("; ".join(problems))

    def apply(f: Callable) -> Callable:
        if not getattr(f, "_flowdrop_step", False):
            raise definition_error(f"@{name} on {getattr(f, '__name__', f)!r}: put @{name} above @step")
        getattr(f, STEP_DECORATORS_ATTR).append(Decorator(name, attributes))
        return f

    return apply(func) if func is not None else apply


def retry(func: Callable | None = None, *, times: int = 3, minutes_between_retries: int = 2, **unpacked: Any) -> Any:
    """Retry a failing step `times` more times, waiting `minutes_between_retries` between tries."""
    return _step_decorator("retry", func, {"times": times, "minutes_between_retries": minutes_between_retries},
                           unpacked)


def catch(func: Callable | None = None, *, var: str | None = None, print_exception: bool = True,
          **unpacked: Any) -> Any:
    """After a step's final failure, store the exception in artifact `var` and go on."""
    return _step_decorator("catch", func, {"var": var, "print_exception": print_exception}, unpacked)


def timeout(func: Callable | None = None, *, seconds: int = 0, minutes: int = 0, hours: int = 0,
            **unpacked: Any) -> Any:
    """Fail the step (then retry or catch) when it runs longer than the given time."""
    return _step_decorator("timeout", func, {"seconds": seconds, "minutes": minutes, "hours": hours}, unpacked)


def resources(func: Callable | None = None, *, cpu: int = 1, gpu: int = 0, memory: int = 4096,
              **unpacked: Any) -> Any:
    """What the step needs when it runs remotely (vCPUs, GPUs, memory in MB)."""
    return _step_decorator("resources", func, {"cpu": cpu, "gpu": gpu, "memory": memory}, unpacked)


def batch(
    func: Callable | None = None,
    *,
    cpu: int = 1,
    gpu: int = 0,
    memory: int = 4096,
    image: str | None = None,
    queue: str | None = None,
    **unpacked: Any,
) -> Any:
    """Run the step on AWS Batch, with these resources."""
    return _step_decorator("batch", func, {"cpu": cpu, "gpu": gpu, "memory": memory, "image": image, "queue": queue},
                           unpacked)


def environment(func: Callable | None = None, *, vars: dict[str, str] | None = None,  # noqa: A002
                **unpacked: Any) -> Any:
    """Set environment variables for the step's task."""
    return _step_decorator("environment", func, {"vars": {} if vars is None else vars}, unpacked)


def _flow_decorator(name: str, attributes: dict[str, Any]) -> Callable[[type], type]:
    def apply(cls: type) -> type:
        existing = list(cls.__dict__.get(FLOW_DECORATORS_ATTR, []))
        setattr(cls, FLOW_DECORATORS_ATTR, [*existing, Decorator(name, attributes)])
        return cls

    return apply


def schedule(
    cls: type | None = None,
    *,
    hourly: bool | None = None,
    daily: bool | None = None,
    weekly: bool | None = None,
    cron: str | None = None,
    timezone: str | None = None,
) -> Any:
    """Run the flow on a schedule once it is deployed (EventBridge cron, AWS six-field form); bare: daily."""
    from flowdrop.model.schedule import (
        schedule_from_attributes,  # imported here: only flows with @schedule pay for croniter
    )

    given = {"hourly": hourly, "daily": daily, "weekly": weekly, "cron": cron, "timezone": timezone}
    # Only what the user wrote, exactly as the static graph reads it from source.
    attributes = {k: v for k, v in given.items() if v is not None}
    try:
        schedule_from_attributes(attributes)
    except DecoratorError as err:  # names the bad field; say where it is written
        raise definition_error(str(err)) from None
    decorate = _flow_decorator("schedule", attributes)
    return decorate(cls) if cls is not None else decorate


def trigger(cls: type | None = None, *, event: Any = None, events: Any = None, options: Any = None) -> Any:
    """Start the deployed flow when an event arrives (Metaflow's forms: a name, {'name', 'parameters'}, a list)."""
    from flowdrop.model.triggers import trigger_events

    attributes = {k: v for k, v in {"event": event, "events": events, "options": options}.items() if v is not None}
    try:
        trigger_events(attributes)
    except DecoratorError as err:
        raise definition_error(str(err)) from None
    decorate = _flow_decorator("trigger", attributes)
    return decorate(cls) if cls is not None else decorate


def trigger_on_finish(cls: type | None = None, *, flow: Any = None, flows: Any = None, options: Any = None) -> Any:
    """Start the deployed flow when an upstream flow's production run succeeds (@project-aware)."""
    from flowdrop.model.triggers import finish_flows

    attributes = {k: v for k, v in {"flow": flow, "flows": flows, "options": options}.items() if v is not None}
    try:
        finish_flows(attributes, None, None)
    except DecoratorError as err:
        raise definition_error(str(err)) from None
    decorate = _flow_decorator("trigger_on_finish", attributes)
    return decorate(cls) if cls is not None else decorate


def exit_hook(cls: type | None = None, *, on_success: Any = None, on_error: Any = None, options: Any = None) -> Any:
    """Call these functions once when a run ends: `on_success` after a successful run, `on_error` after a failed one.

    As Metaflow's: each item is a function (or its name, or 'module.name'); a
    function taking `run` (or **kwargs) gets the run's client Run. A hook that
    raises is reported and changes nothing about the run. Several @exit_hook add up.
    """
    from flowdrop.model.exit_hooks import exit_hook_problems

    attributes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in (("on_success", on_success), ("on_error", on_error)):
        if value is None:
            continue
        if not isinstance(value, list | tuple):
            problems.append(f"@exit_hook({key}={value!r:.40}): {key} must be a list of functions")
            continue
        names = []
        for position, item in enumerate(value, 1):
            if isinstance(item, str) or callable(item):
                names.append(item if isinstance(item, str) else getattr(item, "__name__", repr(item)))
            else:
                problems.append(f"@exit_hook({key}=[...]): item {position} is {item!r:.40} ({type(item).__name__}), "
                                "not a function; give the function itself, or its name")
        attributes[key] = names
    if options is not None:
        attributes["options"] = options
    problems = problems or exit_hook_problems(attributes)
    if problems:
        raise definition_error("; ".join(problems))
    decorate = _flow_decorator("exit_hook", attributes)
    return decorate(cls) if cls is not None else decorate


_PROJECT_NAME = re.compile(r"^[a-z0-9_]{1,128}$")


def project(cls: type | None = None, *, name: Any = None, **unpacked: Any) -> Any:
    """Group flows of one project; deployments get per-user, test or prod branches."""
    from flowdrop.user_configs import is_delayed

    _config_unpacked("project", unpacked)
    if name is None and unpacked:  # @project(**cfg): the name comes from the config
        return _flow_decorator("project", {})
    if not is_delayed(name) and not _PROJECT_NAME.match(name or ""):
        raise definition_error(f"@project: name must be lowercase letters, digits and underscores, got {name!r}")
    decorate = _flow_decorator("project", {"name": name})
    return decorate(cls) if cls is not None else decorate


class ProjectInfo(FrozenRecord):
    """Where a @project flow deploys: Metaflow's user/test/prod branch naming."""

    _fields = ("project_name", "branch_name", "flow_name")
    project_name: str
    branch_name: str
    flow_name: str

    def __init__(self, project_name: str, branch_name: str, flow_name: str):
        self._set(project_name=project_name, branch_name=branch_name, flow_name=flow_name)

    @property
    def project_flow_name(self) -> str:
        """`<project>.<branch>.<Flow>`: the deployed (state machine) name."""
        return f"{self.project_name}.{self.branch_name}.{self.flow_name}"

    @property
    def is_production(self) -> bool:
        """True on the prod branch (and `prod.<name>` custom production branches)."""
        return self.branch_name == "prod" or self.branch_name.startswith("prod.")


def project_info(
    project_name: str, flow_name: str, user: str, branch: str | None = None, production: bool = False
) -> ProjectInfo:
    """The branch a deployment goes to: `user.<user>` by default, `test.<branch>` with --branch, `prod` with --production."""
    if production:
        branch_name = f"prod.{branch}" if branch else "prod"
    elif branch:
        branch_name = f"test.{branch}"
    else:
        branch_name = f"user.{user}"
    return ProjectInfo(project_name, branch_name, flow_name)


# -- Metaflow's decorators flowdrop accepts and ignores (model/ignored.py says why; `check` and `run` print it) --

def _ignored_step(name: str) -> Callable[..., Any]:
    def decorator(func: Callable | None = None, **attributes: Any) -> Any:
        return _step_decorator(name, func, attributes)

    decorator.__name__ = decorator.__qualname__ = name
    decorator.__doc__ = f"Metaflow's @{name}: accepted so the flow runs unchanged, not carried out by flowdrop."
    return decorator


def _ignored_flow(name: str) -> Callable[..., Any]:
    def decorator(cls: type | None = None, **attributes: Any) -> Any:
        decorate = _flow_decorator(name, attributes)
        return decorate(cls) if cls is not None else decorate

    decorator.__name__ = decorator.__qualname__ = name
    decorator.__doc__ = f"Metaflow's @{name}: accepted so the flow runs unchanged, not carried out by flowdrop."
    return decorator


card, pypi, conda, kubernetes, secrets = (_ignored_step(n) for n in ("card", "pypi", "conda", "kubernetes", "secrets"))
pypi_base, conda_base = _ignored_flow("pypi_base"), _ignored_flow("conda_base")
