"""Reading a step's tail `self.next(...)` with `ast`: plain, foreach and switch transitions.

Owns: Transition (a step's targets, its foreach artifact or switch cases) and
read_transition, which reads one `self.next(...)` call and records each
problem with it, naming line and step; is_next_call/next_attributes, which
find such calls in a step's body. Does not own: the rest of a step or the
flow class (source.py), or whether the targets form a valid graph (lint.py).
Pure: never imports or runs the user's code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowdrop.graph.source import Problems


@dataclass(frozen=True)
class Transition:
    """A step's tail `self.next(...)`: its targets and, for a foreach, the artifact it iterates."""

    targets: tuple[str, ...]
    lineno: int
    foreach: bool = False
    foreach_param: str | None = None
    switch_cases: tuple[tuple[Any, str], ...] = ()  # (value, step) of a switch, in source order
    condition: str | None = None

    @property
    def switch(self) -> bool:
        """True for `self.next({...}, condition='attr')`."""
        return self.condition is not None


def describe(expr: ast.expr) -> str:
    try:
        text = ast.unparse(expr)
    except (RecursionError, ValueError):  # nested deeper than unparse recurses; an int past the digit limit
        return f"<{type(expr).__name__.lower()} nested too deeply to show>"
    return text if len(text) <= 40 else text[:37] + "..."


def is_next_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "next"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
    )


def next_attributes(body: list[ast.stmt]) -> int:
    """How many `<expr>.next` attributes `body` holds: a quick bound on its self.next() calls.

    A walk over the nodes' fields without ast.walk's generators, several times faster; only when it finds
    more than the tail call does source._read_step look for misplaced calls (in ast.walk's order, as reported).
    """
    count = 0
    stack: list[Any] = list(body)
    ast_node, attribute = ast.AST, ast.Attribute
    while stack:
        node = stack.pop()
        if type(node) is attribute and node.attr == "next":
            count += 1
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                stack.extend(item for item in value if isinstance(item, ast_node))
            elif isinstance(value, ast_node):
                stack.append(value)
    return count


def read_switch(call: ast.Call, step: str, problems: Problems) -> tuple[Transition, bool]:
    """`self.next({value: self.step, ...}, condition='attr')`: a switch, read as Metaflow's graph reads it."""
    line, ok = call.lineno, True
    cases: list[tuple[Any, str]] = []
    condition = None
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Dict) or not call.args[0].keys:
        problems.step(line, step, "a switch takes one non-empty dict of cases: "
                      "self.next({'a': self.a, 'b': self.b}, condition='attr').")
        return Transition((), line, condition="?"), False
    cases_node = call.args[0]
    for key, value in zip(cases_node.keys, cases_node.values):
        if key is None or not isinstance(key, ast.Constant) or isinstance(key.value, bytes):
            problems.step(line, step, f"switch case keys must be string or number literals, not "
                          f"`{describe(key) if key is not None else '**...'}`: the graph is read without running the flow.")
            ok = False
            continue
        if not (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "self"):
            problems.step(line, step, f"switch case {key.value!r} must name a step as self.<step>, not `{describe(value)}`.")
            ok = False
            continue
        if any(existing == key.value for existing, _ in cases):
            problems.step(line, step, f"switch case {key.value!r} is given twice; give each case once.")
            ok = False
            continue
        cases.append((key.value, value.attr))
    for keyword in call.keywords:
        if keyword.arg == "condition":
            if isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
                condition = keyword.value.value
            else:
                problems.step(line, step, f"condition= must be a string literal naming an artifact, "
                              f"not condition={describe(keyword.value)}.")
                ok = False
        else:
            label = keyword.arg if keyword.arg is not None else "**" + describe(keyword.value)
            problems.step(line, step, f"a switch takes only condition='<artifact>', not `{label}`; "
                          "a switch cannot be combined with foreach.")
            ok = False
    targets = tuple(dict.fromkeys(target for _, target in cases))
    if len(cases) < 2 and ok:
        problems.step(line, step, f"a switch needs at least 2 cases; this one has {len(cases)}. "
                      "Use self.next(self.<step>) for a single transition.")
        ok = False
    return Transition(targets, line, switch_cases=tuple(cases), condition=condition or "?"), ok


def read_transition(call: ast.Call, step: str, problems: Problems) -> tuple[Transition, bool]:
    if any(kw.arg == "condition" for kw in call.keywords) or (call.args and isinstance(call.args[0], ast.Dict)):
        if not any(kw.arg == "condition" for kw in call.keywords):
            problems.step(call.lineno, step, "self.next() with a dict of cases is a switch and needs "
                          "condition='<artifact>' naming the artifact whose value picks the case.")
            return Transition((), call.lineno, condition="?"), False
        return read_switch(call, step, problems)
    line = call.lineno
    ok = True
    targets: list[str] = []
    for arg in call.args:
        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "self":
            target = arg.attr
        elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            problems.step(line, step, f"self.next() takes steps as attributes: write self.next(self.{arg.value}), "
                          f"not self.next({arg.value!r}).")
            target, ok = arg.value, False
        else:
            problems.step(line, step, f"self.next() arguments must be steps written as self.<step>, "
                          f"not `{describe(arg)}`.")
            ok = False
            continue
        if target in targets:
            problems.step(line, step, f"self.next() names step '{target}' twice; name each next step once.")
            ok = False
            continue
        targets.append(target)
    if not call.args:
        problems.step(line, step, "self.next() names no step; write self.next(self.<next step>).")
        ok = False

    foreach, foreach_param = False, None
    for keyword in call.keywords:
        if keyword.arg == "foreach":
            foreach = True
            value = keyword.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                foreach_param = value.value
            else:
                problems.step(line, step, f"foreach= must be a string literal naming the artifact to iterate over, "
                              f"e.g. foreach='items', not foreach={describe(value)}.")
                ok = False
        else:
            label = keyword.arg if keyword.arg is not None else "**" + describe(keyword.value)
            problems.step(line, step, f"self.next() does not support `{label}`; the keywords are foreach='<artifact>' "
                          "and (with a dict of cases) condition='<artifact>'.")
            ok = False
    if foreach and len(targets) != 1:
        problems.step(line, step, f"a foreach goes to exactly one step; this one names {len(targets)} "
                      f"({', '.join(targets) or 'none'}). Branch inside the foreach body instead.")
        ok = False
    return Transition(tuple(targets), line, foreach, foreach_param), ok
