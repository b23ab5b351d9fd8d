"""Reading one flow class out of Python source with `ast`.

Owns: finding the FlowSpec subclass, and turning its @step methods,
decorators and the class's Parameters into plain records (FlowSource,
StepSource), plus the problems found on the way, each naming file, line and
step. Does not own: reading a step's `self.next(...)` (transitions.py), the
graph's structure (joins, splits, cycles, reachability: lint.py) or the entry
points (parse.py).

Never imports or runs the user's code: the deployer that reads flows holds
IAM rights the flow's author does not, so decorator arguments and parameter
defaults are taken only when they are literals.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from flowdrop.graph.transitions import Transition, describe, is_next_call, next_attributes, read_transition
from flowdrop.model.configs import ConfigSpec
from flowdrop.model.decorators import Decorator
from flowdrop.model.parameters import ParameterSpec

# Parameter(type=...) names, as the manifest and the trigger API spell them.
PARAMETER_TYPE_NAMES = {"str": "str", "int": "int", "float": "float", "bool": "bool", "JSONType": "json"}

# What ast.literal_eval raises on something that is not a literal.
_NOT_LITERAL = (ValueError, TypeError, SyntaxError, MemoryError, RecursionError)


@dataclass
class Problems:
    """Every problem found in one file, kept with its line so they print in source order."""

    file: str
    found: list[tuple[int, str]] = field(default_factory=list)

    def step(self, line: int, step: str, text: str) -> None:
        """Record a problem with one step."""
        self.found.append((line, f"{self.file}:{line}: step '{step}': {text}"))

    def flow(self, line: int, flow: str, text: str) -> None:
        """Record a problem with the flow as a whole."""
        self.found.append((line, f"{self.file}:{line}: flow '{flow}': {text}"))

    def source(self, line: int, text: str) -> None:
        """Record a problem with the file itself (no flow class, a syntax error)."""
        self.found.append((line, f"{self.file}:{line}: {text}"))

    def messages(self) -> list[str]:
        """The messages, ordered by line (stable for problems on one line)."""
        return [msg for _, msg in sorted(self.found, key=lambda item: item[0])]

    def __bool__(self) -> bool:
        return bool(self.found)


@dataclass(frozen=True)
class StepSource:
    """One @step method as written: what the graph needs, before any structural check.

    `transition_ok` is False when the step's `self.next` is missing or
    malformed; structural checks that need the whole shape then stay quiet
    rather than report consequences of a problem already reported.
    """

    name: str
    lineno: int
    num_args: int
    decorators: tuple[Decorator, ...] = ()
    doc: str | None = None
    transition: Transition | None = None
    transition_ok: bool = True

    @property
    def takes_inputs(self) -> bool:
        """True when the signature is `(self, inputs)`: Metaflow's mark of a join."""
        return self.num_args >= 2


@dataclass(frozen=True)
class FlowSource:
    """The flow class as written: steps in source order, parameters, flow decorators."""

    name: str
    file: str
    lineno: int
    doc: str | None
    steps: tuple[StepSource, ...]
    parameters: tuple[ParameterSpec, ...]
    decorators: tuple[Decorator, ...]
    plain_methods: frozenset[str] = frozenset()
    configs: tuple[ConfigSpec, ...] = ()


def last_name(expr: ast.expr) -> str | None:
    """`step` for `step` and `metaflow.step`; None for anything else."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def flow_classes(tree: ast.Module) -> list[ast.ClassDef]:
    """The module-level classes that subclass FlowSpec, directly or through a flow class defined above them."""
    flows: dict[str, ast.ClassDef] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            last_name(base) == "FlowSpec" or (isinstance(base, ast.Name) and base.id in flows) for base in node.bases
        ):
            flows[node.name] = node
    return list(flows.values())


def read_flow(cls: ast.ClassDef, file: str, problems: Problems,
              bases: tuple[ast.ClassDef, ...] = ()) -> FlowSource:
    """Read the flow class `cls` into a FlowSource, recording problems as found.

    `bases` are the flow classes `cls` inherits from (flow_ancestors), most basic first: their steps,
    parameters and flow decorators are the flow's too, unless a later class defines the same name.
    """
    flow = cls.name
    configs = read_configs((*bases, cls), flow, problems)
    found = {
        (deco.name, deco.lineno if deco.name == "exit_hook" else 0): deco  # several @exit_hook add up, as in Metaflow
        for owner in (*bases, cls)
        for expr in owner.decorator_list
        if (deco := _read_decorator(expr, problems, lambda line, text: problems.flow(line, flow, text),
                                    bool(configs))) is not None
    }
    decorators = tuple(found.values())
    steps: dict[str, StepSource] = {}
    plain_methods: set[str] = set()
    parameters: list[ParameterSpec] = []
    for owner in (*bases, cls):
        _read_body(owner, flow, problems, steps, plain_methods, parameters, bool(configs))
    return FlowSource(
        name=flow,
        file=file,
        lineno=cls.lineno,
        doc=ast.get_docstring(cls),
        steps=tuple(steps.values()),
        parameters=tuple(parameters),
        decorators=decorators,
        plain_methods=frozenset(plain_methods - set(steps)),
        configs=configs,
    )


def read_configs(owners: tuple[ast.ClassDef, ...], flow: str, problems: Problems) -> tuple[ConfigSpec, ...]:
    """The `attr = Config('name', ...)` declarations of the flow's classes (a subclass's replace a base's)."""
    found: dict[str, ConfigSpec] = {}
    for owner in owners:
        for stmt in owner.body:
            target, value = _assignment(stmt)
            if not (isinstance(target, ast.Name) and isinstance(value, ast.Call) and last_name(value.func) == "Config"):
                continue
            name_expr = value.args[0] if value.args else next((k.value for k in value.keywords if k.arg == "name"),
                                                              None)
            if not (isinstance(name_expr, ast.Constant) and isinstance(name_expr.value, str) and name_expr.value):
                problems.flow(stmt.lineno, flow, f"config `{target.id}`: the config name must be a string literal, "
                              f"write {target.id} = Config('{target.id}', ...).")
                continue
            found.pop(name_expr.value, None)
            found[name_expr.value] = ConfigSpec(name_expr.value, target.id, stmt.lineno)
    return tuple(found.values())


def _assignment(stmt: ast.stmt) -> tuple[ast.expr | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return stmt.targets[0], stmt.value
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return stmt.target, stmt.value
    return None, None


def _read_body(owner: ast.ClassDef, flow: str, problems: Problems, steps: dict[str, StepSource],
               plain_methods: set[str], parameters: list[ParameterSpec], has_configs: bool = False) -> None:
    # One class's body into steps/parameters; a name an earlier (base) class defined is overridden, as in Python.
    inherited = set(steps)
    inherited_parameters = {p.name for p in parameters}
    for stmt in owner.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            if not any(_is_step_decorator(d) for d in stmt.decorator_list):
                plain_methods.add(stmt.name)
                if stmt.name in inherited:  # a plain method replaces an inherited step
                    del steps[stmt.name]
                    inherited.discard(stmt.name)
                continue
            step = _read_step(stmt, problems, has_configs)
            if step.name in inherited:
                inherited.discard(step.name)
                del steps[step.name]
            elif step.name in steps:
                problems.step(
                    step.lineno,
                    step.name,
                    f"defined twice (also at line {steps[step.name].lineno}); Python keeps only the last one, "
                    "so rename one of them.",
                )
                del steps[step.name]  # keep source order of the surviving definition
            steps[step.name] = step
        elif (param := _read_parameter(stmt, flow, problems)) is not None:
            if param.name in inherited_parameters:  # a subclass's declaration replaces the base's
                inherited_parameters.discard(param.name)
                parameters[:] = [p for p in parameters if p.name != param.name]
            parameters.append(param)


def _is_step_decorator(expr: ast.expr) -> bool:
    return last_name(expr) == "step"


def _read_decorator(expr: ast.expr, problems: Problems, report, has_configs: bool = False) -> Decorator | None:
    """A Decorator from `@name` or `@name(key=literal, ...)`; None (and a problem) otherwise.

    In a flow that declares Configs, an argument that is not a literal (or `**config`) is kept as an
    expression, evaluated over the config values once they are known (graph/configs.py), as Metaflow
    evaluates config values at decoration time.
    """
    call = expr if isinstance(expr, ast.Call) else None
    name = last_name(call.func if call else expr)
    if name is None:
        report(expr.lineno, f"decorator `@{describe(expr)}` is not a plain name; write it as @name or @name(key=value).")
        return None
    attributes: dict[str, Any] = {}
    expressions: list[tuple[str | None, str]] = []
    for arg in call.args if call else ():
        report(arg.lineno, f"@{name} takes keyword arguments only, not `{describe(arg)}`; write @{name}(key=value).")
    for keyword in call.keywords if call else ():
        if keyword.arg is None and has_configs:
            expressions.append((None, ast.unparse(keyword.value)))
            continue
        if keyword.arg is None:
            report(keyword.value.lineno, f"@{name}(**{describe(keyword.value)}) cannot be read without running the flow; "
                   "spell the arguments out as literals.")
            continue
        if name == "exit_hook" and keyword.arg in ("on_success", "on_error"):
            attributes[keyword.arg] = _hook_names(keyword.value, keyword.arg, report)
            continue
        try:
            attributes[keyword.arg] = ast.literal_eval(keyword.value)
        except _NOT_LITERAL:
            if has_configs:
                expressions.append((keyword.arg, ast.unparse(keyword.value)))
                continue
            report(keyword.value.lineno, f"@{name}({keyword.arg}={describe(keyword.value)}) is not a literal; decorator "
                   "arguments are read without running the flow, so write the value itself (a number, string, or a "
                   "list or dict of them).")
    return Decorator(name, attributes, expr.lineno, tuple(expressions))


def _hook_names(expr: ast.expr, key: str, report) -> list[str]:
    """@exit_hook(on_success=[notify, 'name', module.fn]): the functions by name, as Metaflow records them."""
    if not isinstance(expr, ast.List | ast.Tuple):
        report(expr.lineno, f"@exit_hook({key}={describe(expr)}): {key} must be a list of functions, "
               f"like {key}=[notify].")
        return []
    names = []
    for position, item in enumerate(expr.elts, 1):
        if isinstance(item, ast.Constant) and isinstance(item.value, str):
            names.append(item.value)
        elif isinstance(item, ast.Name | ast.Attribute) and all(
                isinstance(n, ast.Name | ast.Attribute) for n in ast.walk(item) if not isinstance(n, ast.Load)):
            names.append(ast.unparse(item))
        else:
            report(item.lineno, f"@exit_hook({key}=[...]): item {position} `{describe(item)}` is not a function; "
                   "name a function defined or imported in the flow file (or write 'module.function').")
    return names


def _read_step(fn: ast.FunctionDef | ast.AsyncFunctionDef, problems: Problems, has_configs: bool = False) -> StepSource:
    name, line = fn.name, fn.lineno
    decorators = tuple(
        deco
        for expr in fn.decorator_list
        if not _is_step_decorator(expr)
        and (deco := _read_decorator(expr, problems, lambda ln, text: problems.step(ln, name, text),
                                     has_configs)) is not None
    )
    if isinstance(fn, ast.AsyncFunctionDef):
        problems.step(line, name, "a step cannot be `async def`; make it a plain `def`.")
    num_args = len(fn.args.posonlyargs) + len(fn.args.args)
    if num_args == 0:
        problems.step(line, name, f"the step is missing its `self` argument; write def {name}(self).")
    elif num_args > 2:
        problems.step(line, name, f"a step takes `self` (and `inputs` for a join), not {num_args} arguments.")

    tail = fn.body[-1]
    tail_call = tail.value if isinstance(tail, ast.Expr) and is_next_call(tail.value) else None
    misplaced = [
        node for stmt in fn.body for node in ast.walk(stmt) if is_next_call(node) and node is not tail_call
    ] if next_attributes(fn.body) > (tail_call is not None) else []
    doc = ast.get_docstring(fn)
    if name == "end":
        calls = ([tail_call] if tail_call is not None else []) + misplaced
        for call in calls:
            problems.step(call.lineno, name, "the end step must not call self.next(); the flow stops after end. "
                          "Remove the call, or add a step before end.")
        if num_args >= 2:
            problems.step(line, name, "end cannot be a join (it takes `inputs`); add a join step before end.")
        return StepSource(name, line, num_args, decorators, doc)

    for call in misplaced:
        problems.step(call.lineno, name, "self.next() must be the last statement of the step, not inside an if, a "
                      "loop or a try: a flow's graph is static. Decide inside the step, then end it with one self.next().")
    if tail_call is None:
        if not misplaced:
            problems.step(line, name, "the step has no self.next(); end it with self.next(self.<next step>) "
                          "(only the end step has none).")
        return StepSource(name, line, num_args, decorators, doc, None, transition_ok=False)
    transition, ok = read_transition(tail_call, name, problems)
    return StepSource(name, line, num_args, decorators, doc, transition, ok and not misplaced)


def _read_parameter(stmt: ast.stmt, flow: str, problems: Problems) -> ParameterSpec | None:
    """A ParameterSpec from `attr = Parameter('name', ...)` in the class body; None for other statements."""
    target, value = _assignment(stmt)
    if not (isinstance(target, ast.Name) and isinstance(value, ast.Call)
            and last_name(value.func) in ("Parameter", "IncludeFile")):
        return None
    kind = last_name(value.func)
    line, attribute = stmt.lineno, target.id

    def report(text: str) -> None:
        problems.flow(line, flow, f"parameter `{attribute}`: {text}")

    keywords = {kw.arg: kw.value for kw in value.keywords if kw.arg is not None}
    if any(kw.arg is None for kw in value.keywords):
        report("Parameter(**...) cannot be read without running the flow; spell the arguments out.")
    name_expr = value.args[0] if value.args else keywords.get("name")
    name = attribute
    if name_expr is None:
        report(f"Parameter() needs a name; write {attribute} = Parameter('{attribute}', ...).")
    elif isinstance(name_expr, ast.Constant) and isinstance(name_expr.value, str):
        name = name_expr.value
    else:
        report(f"the parameter name must be a string literal, not `{describe(name_expr)}`.")
    if len(value.args) > 1:
        report("Parameter() takes the name as its only positional argument; pass the rest as keywords "
               "(default=..., help=...).")

    default, has_default, deploy_time = None, False, False
    if "default" in keywords:
        has_default = True
        try:
            default = ast.literal_eval(keywords["default"])
        except _NOT_LITERAL:
            # A function (or any other expression): a deploy-time parameter,
            # evaluated by the uploader on the user's machine, never here.
            deploy_time = True

    include = None
    if kind == "IncludeFile":  # a path (str); the task gets the file's content
        include = {"is_text": _literal_keyword(keywords, "is_text", bool, True, report),
                   "encoding": _literal_keyword(keywords, "encoding", str, "utf-8", report)}
        keywords = {k: v for k, v in keywords.items() if k != "type"}
    type_name = _parameter_type(keywords.get("type"), default, report)
    required = _literal_keyword(keywords, "required", bool, False, report)
    help_text = _literal_keyword(keywords, "help", str, None, report)
    separator = _literal_keyword(keywords, "separator", str, None, report)
    return ParameterSpec(name=name, attribute=attribute, type=type_name, default=default, has_default=has_default,
                         deploy_time=deploy_time, required=required, help=help_text, lineno=line, separator=separator,
                         include=include)


def _parameter_type(expr: ast.expr | None, default: Any, report) -> str:
    if expr is None:
        # Metaflow infers the type from the default; bool before int, as True is an int.
        match default:
            case bool():
                return "bool"
            case float():
                return "float"
            case int():
                return "int"
            case dict() | list():
                return "json"
            case _:
                return "str"
    name = last_name(expr)
    if name in PARAMETER_TYPE_NAMES:
        return PARAMETER_TYPE_NAMES[name]
    report(f"type={describe(expr)} is not supported; use one of str, int, float, bool or JSONType.")
    return "str"


def _literal_keyword(keywords: dict[str, ast.expr], key: str, kind: type, fallback: Any, report) -> Any:
    if key not in keywords:
        return fallback
    try:
        value = ast.literal_eval(keywords[key])
    except _NOT_LITERAL:
        value = None
    if not isinstance(value, kind):
        report(f"{key}= must be a literal {kind.__name__}, not `{describe(keywords[key])}`.")
        return fallback
    return value
