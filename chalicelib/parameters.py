"""Flow parameters: the `Parameter` declaration and turning raw values into typed ones.

Owns: the user-facing Parameter and JSONType, the deploy-time context handed
to callable defaults, and resolve_parameters, which checks given values
against a flow's ParameterSpecs (the same check serves `run --alpha 0.5`, an
execution's `{"Parameters": "..."}` input and the trigger API). Does not own:
reading parameters from source (graph.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from flowdrop.current import current
from flowdrop.errors import ParameterError
from flowdrop.model.excerpts import short_repr
from flowdrop.model.frozen import FrozenRecord

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any

    from flowdrop.model.graph import Graph
    from flowdrop.model.parameters import ParameterSpec


class JSONType:
    """Marks a Parameter whose value is JSON (given as a JSON string)."""


_TYPE_NAMES: Mapping[Any, str] = {str: "str", int: "int", float: "float", bool: "bool", JSONType: "json"}


class DeployTimeContext(FrozenRecord):
    """What a callable Parameter default receives, as in Metaflow."""

    _fields = ("flow_name", "user_name", "parameter_name", "logger", "configs")
    flow_name: str
    user_name: str
    parameter_name: str
    logger: Callable[[str], None]
    configs: Any  # the flow's config values by name (ctx.configs.cfg.x), as Metaflow's context has

    def __init__(self, flow_name: str, user_name: str, parameter_name: str, logger: Callable[[str], None] = print,
                 configs: Any = None):
        self._set(flow_name=flow_name, user_name=user_name, parameter_name=parameter_name, logger=logger,
                  configs=configs)


class Parameter:
    """A flow parameter: `alpha = Parameter('alpha', help='Learning rate', default=0.01)`.

    Declaring it records metadata only. On a running flow, `self.alpha` is the
    value for this run.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,  # noqa: A002 - Metaflow's keyword
        help: str | None = None,  # noqa: A002 - Metaflow's keyword
        required: bool = False,
        show_default: bool = True,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.default = default
        self.help = help
        self.required = required
        self.show_default = show_default
        self.kwargs = kwargs
        if type is None:
            type = _infer_type(default)
        if type not in _TYPE_NAMES:
            raise ParameterError([f"Parameter {name!r}: type must be str, int, float, bool or JSONType, got {type!r}"])
        self.type_name = _TYPE_NAMES[type]

    @property
    def deploy_time(self) -> bool:
        """True when the default is a function evaluated at deploy time or run start."""
        return callable(self.default)

    def __set_name__(self, owner: type, attribute: str) -> None:
        self._attribute = attribute

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        # A task keeps the run's value in the instance's __dict__; without it,
        # AttributeError sends the lookup on to FlowSpec.__getattr__, which
        # loads an inherited value from the datastore.
        attribute = getattr(self, "_attribute", self.name)
        if attribute in obj.__dict__:
            return obj.__dict__[attribute]
        raise AttributeError(f"Parameter {self.name!r} has no value outside a running flow")

    def __set__(self, obj: Any, value: Any) -> None:
        # As in Metaflow: a parameter is a constant of the run.
        raise AttributeError(f"Parameter {self.name!r} is read-only: its value is fixed for the run")

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, type={self.type_name}, default={self.default!r})"


def _infer_type(default: Any) -> Any:
    if callable(default) or default is None:
        return str
    for candidate in (bool, int, float):
        if isinstance(default, candidate):
            return candidate
    if isinstance(default, (dict, list)):
        return JSONType
    return str


def evaluate_deploy_time_parameters(
    flow_cls: type, graph: Graph, user: str, skip: Collection[str] = (), configs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Call each callable Parameter default once, now (but those named in `skip`); ParameterError lists every failure.

    The uploader calls it at deploy time, a local run at its start, a task only
    when neither left a value (a flow run without either, e.g. by hand).
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    project = graph.flow_decorator("project")
    # As Metaflow: the function may read current.project_name and current.flow_name (not a task's fields).
    saved = dict(current._values)
    current._set(flow_name=graph.flow_name, project_name=project.attributes.get("name") if project else None)
    try:
        _evaluate(flow_cls, graph, user, skip, values, problems, configs)
    finally:
        current._clear()
        current._set(**saved)
    if problems:
        raise ParameterError(problems)
    return values


def _evaluate(flow_cls: type, graph: Graph, user: str, skip: Collection[str], values: dict[str, Any],
              problems: list[str], configs: Mapping[str, Any] | None = None) -> None:
    from flowdrop.model.parameters import checked_deploy_value  # the graph model: not on `import flowdrop`
    from flowdrop.user_configs import ConfigValue

    config_context = ConfigValue({name: value for name, value in (configs or {}).items()})
    for spec in graph.parameters:
        if not spec.deploy_time or spec.name in skip:
            continue
        where = f"{graph.file}:{spec.lineno}: deploy-time parameter {spec.name!r}"
        live = getattr(flow_cls, spec.attribute, None)
        function = getattr(live, "default", None)
        if not isinstance(live, Parameter):
            problems.append(f"{where}: the flow class has no Parameter {spec.attribute!r}")
            continue
        if not callable(function):
            # A default computed when the flow module was imported (default=script_path('movies.csv'),
            # as Metaflow's tutorials write): read as written, its value is known only here.
            _computed_default(spec, live, where, values, problems)
            continue
        context = DeployTimeContext(flow_name=graph.flow_name, user_name=user, parameter_name=spec.name,
                                    configs=config_context)
        try:
            raw = function(context)
        except Exception as err:  # noqa: BLE001 - user code: report it, whatever it raised
            problems.append(f"{where}: its function raised {type(err).__name__}: {err}")
            continue
        try:
            values[spec.name] = checked_deploy_value(spec, raw)
        except (ValueError, TypeError) as err:
            problems.append(f"{where}: its function returned {raw!r}, which is not a valid {spec.type}: {err}")


def _computed_default(spec: ParameterSpec, live: Parameter, where: str, values: dict[str, Any],
                      problems: list[str]) -> None:
    """The value of a default expression the flow module computed at import, checked as a deploy-time value."""
    from flowdrop.model.parameters import checked_deploy_value

    value = live.default
    if value is None:
        if spec.required:
            problems.append(f"{where}: its default expression gave None and the parameter is required")
        return  # no default: as a parameter without one
    if live.type_name != spec.type:
        problems.append(f"{where}: its default expression gave {short_repr(value, 60)} ({live.type_name}), but the "
                        f"flow file is read as declaring a {spec.type} parameter (from its type= or the default "
                        f"as written); write type={_TYPE_SPELLING[live.type_name]} in the Parameter")
        return
    try:
        values[spec.name] = checked_deploy_value(spec, value)
    except (ValueError, TypeError) as err:
        problems.append(f"{where}: its default expression gave {short_repr(value, 60)}, which is not a valid "
                        f"{spec.type}: {err}")


_TYPE_SPELLING = {"str": "str", "int": "int", "float": "float", "bool": "bool", "json": "JSONType"}
