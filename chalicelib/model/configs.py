"""Metaflow's user configs as data: a Config as declared, reading a config's text, and config expressions.

Owns: ConfigSpec (a `Config(...)` as the source declares it), parse_config_text
(a config's JSON text -> its value, errors naming the config and where the text
came from), and evaluate_expression: the small, safe evaluator of the config
expressions a decorator argument holds (`config.cpu`, `config_expr("str(cfg.x)")`,
`**config_env`). The deployer evaluates those with the config values frozen in
the manifest, so the evaluator runs no user code: names are configs, calls are
a few pure builtins and methods of plain values. Does not own: computing config
values (defaults, parsers and files are the user's code: flowdrop/user_configs.py)
or putting resolved values into a graph (graph/configs.py). Pure: no I/O.
"""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowdrop.model.excerpts import short_text


@dataclass(frozen=True)
class ConfigSpec:
    """A flow Config as declared in the source: its name, the class attribute holding it, and where."""

    name: str
    attribute: str
    lineno: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "attribute": self.attribute, "lineno": self.lineno}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfigSpec:
        """Inverse of to_dict."""
        return cls(str(data["name"]), str(data.get("attribute", data["name"])), int(data.get("lineno", 0)))


def parse_config_text(name: str, text: str, origin: str) -> Any:
    """A config's JSON text as its value; ValueError names the config, where the text came from and the fault."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"config {name!r}: {origin} is not valid JSON: {err.msg} at line {err.lineno} column "
                         f"{err.colno} (near {short_text(text[max(err.pos - 10, 0):err.pos + 10], 30)!r}); "
                         "give a JSON object, or a parser= that reads this format") from None


class ExpressionError(ValueError):
    """A config expression that cannot be evaluated; the message says which part and why."""


# Builtins a config expression may call: pure functions of plain values.
_FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "str": str, "int": int, "float": float, "bool": bool, "len": len, "abs": abs, "round": round, "min": min,
    "max": max, "sorted": sorted, "list": list, "tuple": tuple, "dict": dict,
}
# Methods of plain values (str, dict, list) a config expression may call: none changes its object.
_METHODS = frozenset({
    "get", "keys", "values", "items", "upper", "lower", "strip", "lstrip", "rstrip", "split", "join", "replace",
    "startswith", "endswith", "format", "title", "capitalize", "count", "index",
})
_BINARY: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_COMPARE: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_MAX_DEPTH = 50


def evaluate_expression(text: str, names: Mapping[str, Any]) -> Any:
    """The value of the Python expression `text`, its names bound to `names` (config values by name).

    Raises ExpressionError for anything outside the safe subset: literals, names,
    attribute and item access (`cfg.a`, `cfg['a']`), list/tuple/dict displays,
    arithmetic, comparisons, `and`/`or`/`not`, `x if c else y`, f-strings, the
    builtins in _FUNCTIONS, the methods in _METHODS, and `config_expr('...')`.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"`{short_text(text, 60)}` is not a Python expression: {err.msg}") from None
    return _Evaluator(names).eval(tree.body, 0)


class _Evaluator:
    def __init__(self, names: Mapping[str, Any]):
        self.names = names

    def eval(self, node: ast.expr, depth: int) -> Any:  # noqa: C901 - one case per node type, flat
        if depth > _MAX_DEPTH:
            raise ExpressionError("the expression is nested too deeply")
        sub = lambda child: self.eval(child, depth + 1)  # noqa: E731
        match node:
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                if name in self.names:
                    return self.names[name]
                if name in ("True", "False", "None"):
                    return {"True": True, "False": False, "None": None}[name]
                known = ", ".join(sorted(self.names)) or "none"
                raise ExpressionError(f"name {name!r} is not a config of the flow (configs: {known})")
            case ast.Attribute(value=value, attr=attr):
                target = sub(value)
                if isinstance(target, Mapping) and attr in target:
                    return target[attr]
                if attr in _METHODS and isinstance(target, (str, dict, list, tuple)) and hasattr(target, attr):
                    return getattr(target, attr)
                raise ExpressionError(f"`{_shown(node)}`: {_shown(value)} has no field {attr!r}")
            case ast.Subscript(value=value, slice=index):
                target, key = sub(value), sub(index)
                try:
                    return target[key]
                except (KeyError, IndexError, TypeError) as err:
                    raise ExpressionError(f"`{_shown(node)}`: no item {key!r} ({type(err).__name__})") from None
            case ast.List(elts=elts):
                return [sub(e) for e in elts]
            case ast.Tuple(elts=elts):
                return tuple(sub(e) for e in elts)
            case ast.Dict(keys=keys, values=values):
                out: dict[Any, Any] = {}
                for key, value in zip(keys, values):
                    if key is None:  # {**cfg}
                        out.update(_mapping(sub(value), node))
                    else:
                        out[sub(key)] = sub(value)
                return out
            case ast.BinOp(left=left, op=op, right=right) if type(op) in _BINARY:
                return _apply(_BINARY[type(op)], node, sub(left), sub(right))
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not sub(operand)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return _apply(operator.neg, node, sub(operand))
            case ast.BoolOp(op=op, values=values):
                result: Any = None
                for value in values:
                    result = sub(value)
                    if (isinstance(op, ast.And) and not result) or (isinstance(op, ast.Or) and result):
                        return result
                return result
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                current = sub(left)
                for op, right in zip(ops, comparators):
                    if type(op) not in _COMPARE:
                        raise ExpressionError(f"`{_shown(node)}`: comparison {type(op).__name__} is not supported")
                    following = sub(right)
                    if not _apply(_COMPARE[type(op)], node, current, following):
                        return False
                    current = following
                return True
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return sub(body) if sub(test) else sub(orelse)
            case ast.JoinedStr(values=values):
                return "".join(str(self._formatted(v, depth)) for v in values)
            case ast.Call(func=func, args=args, keywords=keywords):
                return self._call(node, func, args, keywords, depth)
        raise ExpressionError(f"`{_shown(node)}` is not supported in a config expression (it is evaluated without "
                              "running the flow: use config fields, literals, arithmetic and simple builtins)")

    def _formatted(self, value: ast.expr, depth: int) -> Any:
        if isinstance(value, ast.FormattedValue):
            result = self.eval(value.value, depth + 1)
            spec = self.eval(value.format_spec, depth + 1) if value.format_spec is not None else ""
            return format(result, spec)
        return self.eval(value, depth + 1)

    def _call(self, node: ast.Call, func: ast.expr, args: list[ast.expr], keywords: list[ast.keyword],
              depth: int) -> Any:
        values = []
        for arg in args:
            if isinstance(arg, ast.Starred):
                values.extend(self.eval(arg.value, depth + 1))
            else:
                values.append(self.eval(arg, depth + 1))
        named: dict[str, Any] = {}
        for keyword in keywords:
            value = self.eval(keyword.value, depth + 1)
            if keyword.arg is None:
                named.update(_mapping(value, node))
            else:
                named[keyword.arg] = value
        if isinstance(func, ast.Name) and func.id == "config_expr":
            if len(values) != 1 or named or not isinstance(values[0], str):
                raise ExpressionError(f"`{_shown(node)}`: config_expr takes one string, the expression")
            return evaluate_expression(values[0], self.names)
        if isinstance(func, ast.Name) and func.id in _FUNCTIONS and func.id not in self.names:
            return _apply(_FUNCTIONS[func.id], node, *values, **named)
        if isinstance(func, ast.Attribute) and func.attr in _METHODS:
            method = self.eval(func, depth + 1)
            return _apply(method, node, *values, **named)
        allowed = ", ".join(sorted({*_FUNCTIONS, "config_expr"}))
        raise ExpressionError(f"`{_shown(node)}` calls {_shown(func)}, which a config expression cannot (it is "
                              f"evaluated without running the flow); it may call {allowed} and methods such as "
                              ".get() or .upper()")


def _apply(function: Callable[..., Any], node: ast.expr, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - any failure of a builtin on config data is the expression's fault
        raise ExpressionError(f"`{_shown(node)}` failed: {type(err).__name__}: {err}") from None


def _mapping(value: Any, node: ast.expr) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ExpressionError(f"`{_shown(node)}`: ** needs a mapping, got {type(value).__name__}")
    return value


def _shown(node: ast.expr) -> str:
    try:
        return short_text(ast.unparse(node), 60)
    except (ValueError, RecursionError):
        return f"<{type(node).__name__}>"
