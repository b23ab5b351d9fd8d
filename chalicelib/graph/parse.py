"""Flow source -> validated flow Graph.

Owns: the entry points parse_flow, parse_flow_file and find_flow_class_names,
and choosing the flow class in a file (a flow class that another one in the file
inherits from is read into it, and is no flow of its own unless named). Reading a class's steps, decorators
and parameters lives in source.py, the graph's structure and its checks in
lint.py. The user's code is read with `ast`, never imported or run: the
deployer calls this.

Every problem in a flow is reported at once, in one FlowError, each message
naming file, line and step: `flow.py:14: step 'join': a join needs 2 or
more inputs; it has 1. ...`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from flowdrop.errors import FlowError
from flowdrop.graph.lint import build_nodes
from flowdrop.graph.source import Problems, flow_classes, read_flow
from flowdrop.model.graph import Graph


def _parse_module(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as err:
        line = err.lineno or 1
        raise FlowError([f"{filename}:{line}: syntax error: {err.msg}; fix the file so Python can read it."]) from err
    except ValueError as err:  # source with NUL bytes
        raise FlowError([f"{filename}:1: syntax error: {err}; fix the file so Python can read it."]) from err
    except (RecursionError, MemoryError) as err:
        raise FlowError([_too_deep(source, filename, err)]) from err


def _too_deep(source: str, filename: str, err: BaseException) -> str:
    # The parser gives no line for these (`x = a.b.b...` 100k deep, `x = ----...1`);
    # the longest line is where such an expression almost always is.
    lines = source.splitlines() or [""]
    longest = max(range(len(lines)), key=lambda i: len(lines[i]))
    return (f"{filename}:{longest + 1}: Python cannot parse this file: an expression is nested too deeply for its "
            f"parser ({type(err).__name__}); line {longest + 1} is the longest ({len(lines[longest])} characters). "
            "Split deeply nested expressions into several statements.")


def flow_ancestors(cls: ast.ClassDef, classes: list[ast.ClassDef]) -> list[ast.ClassDef]:
    """The flow classes of the same file that `cls` inherits from, most basic first (so later ones override)."""
    by_name = {c.name: c for c in classes}
    order: list[ast.ClassDef] = []

    def visit(node: ast.ClassDef) -> None:
        for base in reversed(node.bases):  # the first base wins, as in Python's MRO for these simple trees
            parent = by_name.get(base.id) if isinstance(base, ast.Name) else None
            if parent is not None and parent is not node and parent not in order:
                visit(parent)
                order.append(parent)

    visit(cls)
    return order


def leaf_flow_classes(classes: list[ast.ClassDef]) -> list[ast.ClassDef]:
    """The flow classes no other flow class in the file inherits from: the flows the file defines."""
    bases = {base.id for cls in classes for base in cls.bases if isinstance(base, ast.Name)}
    return [cls for cls in classes if cls.name not in bases]


def find_flow_class_names(source: str) -> list[str]:
    """Names of the flows `source` defines (FlowSpec subclasses no other flow class inherits from), in source order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [cls.name for cls in leaf_flow_classes(flow_classes(tree))]


def parse_flow(source: str, filename: str, class_name: str | None = None) -> Graph:
    """Read the flow class in `source` into a validated Graph; FlowError lists every problem."""
    tree = _parse_module(source, filename)
    problems = Problems(filename)
    every = flow_classes(tree)
    classes = every if class_name is not None else leaf_flow_classes(every)  # a base flow is no flow of its own
    names = [cls.name for cls in classes]
    if class_name is not None:
        chosen = [cls for cls in classes if cls.name == class_name]
        if not chosen:
            found = ", ".join(names) if names else "none"
            raise FlowError([f"{filename}:1: no FlowSpec subclass named '{class_name}' (found: {found}); "
                             "check the flow's class name."])
    elif not classes:
        raise FlowError([f"{filename}:1: no FlowSpec subclass found; a flow is a class like "
                         "`class MyFlow(FlowSpec):` with @step methods."])
    elif len(classes) > 1:
        raise FlowError([f"{filename}:{classes[1].lineno}: {len(classes)} FlowSpec subclasses ({', '.join(names)}); "
                         "keep one flow per file, or name the one to use."])
    else:
        chosen = classes
    cls = chosen[-1]
    try:
        flow = read_flow(cls, filename, problems, tuple(flow_ancestors(cls, every)))
        nodes = build_nodes(flow, problems)
    except (RecursionError, MemoryError) as err:
        # A tree the parser built can still be too deep for code that walks it recursively.
        raise FlowError([_too_deep(source, filename, err)]) from err
    _check_hook_names(tree, flow.name, flow.decorators, problems)
    if problems:
        raise FlowError(problems.messages())
    return Graph(
        flow_name=flow.name,
        file=filename,
        nodes=nodes,
        parameters=flow.parameters,
        flow_decorators=flow.decorators,
        lineno=flow.lineno,
        doc=flow.doc,
        configs=flow.configs,
    )


def _check_hook_names(tree: ast.Module, flow: str, decorators: tuple, problems: Problems) -> None:
    """@exit_hook names a function the flow file must define or import: a typo would only show when a run ends.

    Lenient: a name bound anywhere in the file counts, a star import makes any name possible, and
    'module.function' is imported when the hook runs (as Metaflow does), so it is not checked here.
    """
    wanted = [(deco, key, name) for deco in decorators if deco.name == "exit_hook"
              for key in ("on_success", "on_error") for name in deco.attributes.get(key) or ()
              if isinstance(name, str) and "." not in name]
    if not wanted:
        return  # nothing to look up: no walk over the whole file (a third of parsing a 1,000-step flow)
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    for deco, key, name in wanted:
        if name not in bound:
            problems.flow(deco.lineno, flow, f"@exit_hook({key}=[...]): no function {name!r} in this file; "
                          "define or import it here, or name it as 'module.function'.")


def parse_flow_file(path: str | Path, class_name: str | None = None) -> Graph:
    """parse_flow on the file at `path`; the graph's file is `path` as given."""
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FlowError([f"{path}:1: cannot read the flow file: {err}"]) from err
    return parse_flow(source, str(path), class_name)


