"""Metaflow's user configs: `Config`, `config_expr`, and the values a run or a deployment fixes for them.

Owns: the Config declaration flow authors write (`cfg = Config('cfg',
default='cfg.json', parser=...)`), ConfigValue (a config's value: an
immutable dict whose keys read as attributes, `cfg.nested.value`),
DelayEvaluator / config_expr (what `cfg.cpu` or `config_expr('str(cfg.x)')`
is while the class body runs, before any value exists), and
compute_config_values: the values of a run or a deployment, from
`--config NAME PATH`, `--config-value NAME JSON`, their environment forms,
then the declared defaults, through the config's parser. That runs the user's
code (defaults, parsers), so only the laptop calls it: at run start and at
`step-functions create`; tasks and the deployer get the values it made.
Does not own: decorator arguments over configs in the static graph
(graph/configs.py, with the safe evaluator of model/configs.py).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from flowdrop.errors import FlowConfigError

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any

    from flowdrop.model.graph import Graph

UNPACK_KEY = "_flowdrop_unpacked_config_"  # what `**cfg` yields while a class body runs
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Metaflow's environment variables for --config / --config-value (JSON objects by config name), and ours.
CONFIG_FILES_ENV = ("FLOWDROP_FLOW_CONFIG", "METAFLOW_FLOW_CONFIG")
CONFIG_VALUES_ENV = ("FLOWDROP_FLOW_CONFIG_VALUE", "METAFLOW_FLOW_CONFIG_VALUE")


class ConfigValue(dict):
    """A config's value: read-only, its keys also attributes (`cfg.nested.value` == `cfg['nested']['value']`)."""

    def __init__(self, data: Mapping[Any, Any]):
        dict.__init__(self, {k: _wrapped(v) for k, v in data.items()})

    def to_dict(self) -> dict[Any, Any]:
        """A plain, mutable copy."""
        return {k: v.to_dict() if isinstance(v, ConfigValue) else _unwrapped(v) for k, v in self.items()}

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"config has no field {key!r} (fields: {', '.join(map(str, self))})") from None

    def _immutable(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a Config's value is immutable")

    __setattr__ = __delattr__ = __setitem__ = __delitem__ = _immutable
    clear = update = setdefault = pop = popitem = __ior__ = _immutable  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return ConfigValue, (self.to_dict(),)

    def __copy__(self) -> ConfigValue:
        return self

    def __deepcopy__(self, memo: Any) -> ConfigValue:
        return self


def _wrapped(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, ConfigValue):
        return ConfigValue(value)
    if isinstance(value, list):
        return tuple(_wrapped(v) for v in value)  # immutable too, as Metaflow's
    return value


def _unwrapped(value: Any) -> Any:
    if isinstance(value, ConfigValue):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_unwrapped(v) for v in value]
    return value


class DelayEvaluator(Mapping):
    """A config expression before config values exist: `cfg.a.b`, `config_expr('...')`, `**cfg`.

    Decorator arguments holding one are evaluated from the static graph
    (graph/configs.py); a Parameter default holding one is called at deploy
    time or run start with the config values, as Metaflow does.
    """

    def __init__(self, expression: str, saved_globals: Mapping[str, Any] | None = None,
                 access: tuple[Any, ...] = ()):
        object.__setattr__(self, "_expression", expression)
        object.__setattr__(self, "_globals", saved_globals)
        object.__setattr__(self, "_access", access)

    def _with(self, key: Any) -> DelayEvaluator:
        if self._access is None:
            raise AttributeError(key)
        return DelayEvaluator(self._expression, self._globals, (*self._access, key))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._with(name)

    def __getitem__(self, key: Any) -> Any:
        if key == f"{UNPACK_KEY}{id(self)}":
            return self
        return self._with(key)

    def __iter__(self) -> Iterator[str]:
        yield f"{UNPACK_KEY}{id(self)}"

    def __len__(self) -> int:
        return 1

    @property
    def expression(self) -> str:
        """The whole expression as Python text."""
        text = self._expression if _IDENTIFIER.match(self._expression) else f"({self._expression})"
        for key in self._access:
            text += f".{key}" if isinstance(key, str) and _IDENTIFIER.match(key) else f"[{key!r}]"
        return text

    def __call__(self, ctx: Any = None, deploy_time: bool = False) -> Any:
        configs = getattr(ctx, "configs", None)
        if configs is None:
            raise FlowConfigError([f"config expression {self.expression!r} has no config values to read here: "
                                   "configs are read in the flow class that declares them and its decorators"])
        names = {name: value for name, value in dict.items(configs)}
        try:
            return eval(self.expression, dict(self._globals or {}), names)  # noqa: S307 - the user's own expression
        except Exception as err:  # noqa: BLE001 - user code: say which expression failed
            raise FlowConfigError([f"config expression {self.expression!r} could not be evaluated: "
                                   f"{type(err).__name__}: {err}"]) from err

    def __repr__(self) -> str:
        return f"config_expr({self.expression!r})"


def config_expr(expr: str) -> DelayEvaluator:
    """A Python expression over the flow's configs, evaluated once their values are known (Metaflow's name)."""
    caller = sys._getframe(1)  # the frame calling config_expr, whose globals the expression sees
    return DelayEvaluator(expr, caller.f_globals if caller is not None else None)


def is_delayed(value: Any) -> bool:
    """True for a config expression, or a list/dict holding one: a value known only once configs are."""
    if isinstance(value, (DelayEvaluator, Config)):
        return True
    if isinstance(value, Mapping):
        return any(is_delayed(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_delayed(v) for v in value)
    return False


class Config(Mapping):
    """A flow's configuration, fixed at run start or at deploy time: `cfg = Config('cfg', default='cfg.json')`.

    `default` is a path (or a function of the context returning one), `default_value` a value (a dict,
    JSON text, or a function returning either); give one, not both. `parser` turns the text into a dict
    (a function, or its dotted name). In a step, `self.cfg` is a ConfigValue; in the class body, `cfg.x`
    and `**cfg` are config expressions decorators may take.
    """

    IS_CONFIG_PARAMETER = True

    def __init__(self, name: str, default: Any = None, default_value: Any = None, help: str | None = None,  # noqa: A002
                 required: bool | None = None, parser: str | Callable[[str], Any] | None = None,
                 plain: bool = False, **kwargs: Any) -> None:
        if default is not None and default_value is not None:
            raise FlowConfigError([f"config {name!r}: give default (a path) or default_value, not both"])
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "default_value", default_value)
        object.__setattr__(self, "help", help)
        object.__setattr__(self, "required", bool(required))
        object.__setattr__(self, "parser", parser)
        object.__setattr__(self, "plain", plain)
        object.__setattr__(self, "kwargs", kwargs)

    def __set_name__(self, owner: type, attribute: str) -> None:
        object.__setattr__(self, "_attribute", attribute)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        attribute = self.__dict__.get("_attribute", self.name)
        if attribute in obj.__dict__:
            return obj.__dict__[attribute]
        raise AttributeError(f"Config {self.name!r} has no value outside a running flow")

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"Config {self.name!r} is read-only: its value is fixed for the run")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(DelayEvaluator(self.name), name)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and key.startswith(UNPACK_KEY):
            return DelayEvaluator(self.name)
        return DelayEvaluator(self.name)[key]

    def __iter__(self) -> Iterator[str]:
        yield f"{UNPACK_KEY}{id(self)}"

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return f"Config({self.name!r})"


def declared_configs(flow_cls: type, graph: Graph) -> dict[str, Config]:
    """The Config objects of the flow class, by config name (as the static graph lists them)."""
    found = {spec.name: declared_attribute(flow_cls, spec.attribute, Config) for spec in graph.configs}
    return {name: config for name, config in found.items() if config is not None}


def declared_attribute(flow_cls: type, attribute: str, kind: type) -> Any:
    """The `kind` object (a Config, an IncludeFile) the flow class or a base declares as `attribute`, or None."""
    for klass in flow_cls.__mro__:
        value = klass.__dict__.get(attribute)
        if isinstance(value, kind):
            return value
    return None


def function_named(path: str) -> Any:
    """What a parser's dotted path names ('package.module.function'; a leading '.' is relative to flowdrop, as
    Metaflow's are to metaflow): Config's and IncludeFile's `parser=`. ImportError, AttributeError or ValueError
    when it names nothing."""
    module_name, _, attribute = (("flowdrop" + path) if path.startswith(".") else path).rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def config_requests(files: Mapping[str, str] | None = None, values: Mapping[str, str] | None = None,
                    env: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(paths, JSON texts) by config name: the environment's objects, then the command line's, which win."""
    import json  # not on `import flowdrop`: only commands that compute configs get here

    env = os.environ if env is None else env
    paths: dict[str, str] = {}
    texts: dict[str, str] = {}
    problems: list[str] = []
    for names, into in ((CONFIG_FILES_ENV, paths), (CONFIG_VALUES_ENV, texts)):
        for var in reversed(names):
            if not env.get(var):
                continue
            try:
                data = json.loads(env[var])
            except json.JSONDecodeError as err:
                problems.append(f"${var} must be a JSON object by config name: {err.msg}")
                continue
            if not isinstance(data, dict):
                problems.append(f"${var} must be a JSON object by config name, got {type(data).__name__}")
                continue
            for name, item in data.items():
                if into is paths and not isinstance(item, str):
                    problems.append(f"${var}: config {name!r} must map to a path, got {type(item).__name__}")
                    continue
                into[name] = item if isinstance(item, str) else json.dumps(item)
    if problems:
        raise FlowConfigError(problems)
    for name, path in (files or {}).items():  # the command line wins over the environment, name by name
        paths[name] = path
        if name not in (values or {}):
            texts.pop(name, None)
    for name, text in (values or {}).items():
        texts[name] = text
        if name not in (files or {}):
            paths.pop(name, None)
    return paths, texts


def compute_config_values(flow_cls: type, graph: Graph, paths: Mapping[str, str], texts: Mapping[str, str],
                          context: Any = None, folder: Path | None = None) -> dict[str, Any]:
    """Every config's value by name (JSON data), as Metaflow fixes them; FlowConfigError lists every problem."""
    configs = declared_configs(flow_cls, graph)
    problems = [f"--config {name}: the flow has no config {name!r} (it has: {', '.join(sorted(configs)) or 'none'})"
                for name in sorted(set(paths) | set(texts)) if name not in configs]
    values: dict[str, Any] = {}
    for spec in graph.configs:
        config = configs.get(spec.name)
        if config is None:
            problems.append(f"{graph.file}:{spec.lineno}: config {spec.name!r}: no Config object on the flow class")
            continue
        try:
            values[spec.name] = _value_of(config, paths, texts, context, folder or Path.cwd())
        except (ValueError, OSError, TypeError) as err:
            problems.append(f"{graph.file}:{spec.lineno}: {err}")
    if problems:
        raise FlowConfigError(problems)
    return values


def _value_of(config: Config, paths: Mapping[str, str], texts: Mapping[str, str], context: Any, folder: Path) -> Any:
    import json  # not on `import flowdrop`: only commands that compute configs get here

    name = config.name
    if name in paths and name in texts:
        raise ValueError(f"config {name!r}: give a file (--config) or a value (--config-value), not both")
    if name in texts:
        return _parsed(config, texts[name], "--config-value")
    if name in paths:
        return _parsed(config, _read(name, folder / paths[name], "--config"), f"file {paths[name]}")
    value: Any = None
    if config.default is not None:
        path = config.default(context) if callable(config.default) else config.default
        if path is not None and (folder / str(path)).is_file():
            value = _parsed(config, _read(name, folder / str(path), "default"), f"default file {path}")
    elif config.default_value is not None:
        raw = config.default_value(context) if callable(config.default_value) else config.default_value
        value = _parsed(config, raw, "default_value") if isinstance(raw, str) else raw
    if value is None and config.required:
        raise ValueError(f"config {name!r} is required and has no value: give --config {name} FILE or "
                         f"--config-value {name} JSON")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config {name!r}: its value must be JSON data (dicts, lists, strings, numbers), "
                         f"so a deployment can freeze it: {err}") from None
    return value


def _read(name: str, path: Path, how: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"config {name!r}: cannot read {how} file {path}: {err}") from None


def _parsed(config: Config, text: str, origin: str) -> Any:
    parser = config.parser
    if parser is None:
        from flowdrop.model.configs import parse_config_text  # not on `import flowdrop`

        return text if config.plain else parse_config_text(config.name, text, origin)
    if isinstance(parser, str):
        try:
            parser = function_named(parser)
        except (ImportError, AttributeError, ValueError) as err:
            raise ValueError(f"config {config.name!r}: cannot find its parser {config.parser!r}: {err}") from None
    try:
        value = parser(text)
    except Exception as err:  # noqa: BLE001 - the user's parser: report what it raised
        raise ValueError(f"config {config.name!r}: its parser raised {type(err).__name__}: {err} "
                         f"(reading {origin})") from None
    if not config.plain and not isinstance(value, Mapping):
        raise ValueError(f"config {config.name!r}: its parser returned {type(value).__name__}, not a dict")
    return value


def config_artifact(config: Config | None, value: Any) -> Any:
    """What `self.<config>` is in a step: a ConfigValue for a dict (the value itself with plain=True)."""
    if value is None or (config is not None and config.plain) or not isinstance(value, Mapping):
        return value
    return ConfigValue(value)
