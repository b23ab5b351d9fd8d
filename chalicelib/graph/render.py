"""A graph's text and Graphviz forms, for `python flow.py show` and `output-dot`.

Owns: rendering a validated Graph for people and for `dot`. Does not own: parsing (parse.py).
"""

from __future__ import annotations

import textwrap

from flowdrop.model.decorators import Decorator
from flowdrop.model.graph import FOREACH, JOIN, Graph
from flowdrop.model.parameters import ParameterSpec


def _decorator_text(deco: Decorator) -> str:
    if not deco.attributes:
        return f"@{deco.name}"
    args = ", ".join(f"{key}={value!r}" for key, value in deco.attributes.items())
    return f"@{deco.name}({args})"


def _parameter_text(param: ParameterSpec) -> str:
    if param.deploy_time:
        default = "default computed at deploy time"
    elif param.has_default:
        default = f"default {param.default!r}"
    else:
        default = "no default"
    text = f"{param.name} ({param.type}, {'required, ' if param.required else ''}{default})"
    return f"{text}: {param.help}" if param.help else text


def _indented(text: str, prefix: str = "    ") -> list[str]:
    return textwrap.indent(text, prefix).splitlines()


def render_graph(graph: Graph) -> str:
    """The text `python flow.py show` prints: the flow, its parameters, then each step in order."""
    lines = [graph.flow_name]
    lines += [_decorator_text(deco) for deco in graph.flow_decorators]
    if graph.doc:
        lines += [""] + _indented(graph.doc)
    if graph.parameters:
        lines += ["", "Parameters"] + ["    " + _parameter_text(p) for p in graph.parameters]
    for node in graph.nodes:
        header = f"Step {node.name}" + (" (join)" if node.type == JOIN else "")
        lines += ["", header]
        lines += _indented(node.doc) if node.doc else ["    ?"]
        lines += ["    " + _decorator_text(deco) for deco in node.decorators]
        if node.is_switch:
            cases = ", ".join(f"{value!r} -> {step}" for value, step in node.switch_cases)
            lines.append(f"    => switch on '{node.condition}': {cases}")
        elif node.out_funcs:
            arrow = "    => " + ", ".join(node.out_funcs)
            if node.type == FOREACH:
                arrow += f" (foreach over '{node.foreach_param}')"
            lines.append(arrow)
    return "\n".join(lines) + "\n"


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: Graph) -> str:
    """The graph in Graphviz dot: one box per step (its type beside its name), one edge per transition."""
    lines = [f"digraph {_dot_id(graph.flow_name)} {{", "    rankdir=TB;", "    node [shape=box, style=rounded];"]
    for node in graph.nodes:
        lines.append(f"    {_dot_id(node.name)} [label={_dot_id(f'{node.name} ({node.type})')}];")
    for node in graph.nodes:
        if node.is_switch:  # one edge per case, labelled with the condition's value
            for value, child in node.switch_cases:
                label = _dot_id(f"{node.condition} == {value!r}")
                lines.append(f"    {_dot_id(node.name)} -> {_dot_id(child)} [label={label}, style=dashed];")
            continue
        for child in node.out_funcs:
            style = f" [label={_dot_id('foreach ' + node.foreach_param)}]" if node.type == FOREACH else ""
            lines.append(f"    {_dot_id(node.name)} -> {_dot_id(child)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_outline(graph: Graph) -> list[dict]:
    """The graph as the operator page draws it: each step's name, type and edges, foreach and switch
    details; small enough to keep in every release record."""
    out = []
    for node in graph.nodes:
        item: dict = {"name": node.name, "type": node.type, "out_funcs": list(node.out_funcs)}
        if node.foreach_param:
            item["foreach_param"] = node.foreach_param
        if node.matching_join:
            item["matching_join"] = node.matching_join
        if node.split_parents:
            item["split_parents"] = list(node.split_parents)
        if node.is_switch:
            item["condition"] = node.condition
            item["switch_cases"] = [[repr(value), step] for value, step in node.switch_cases]
        out.append(item)
    return out
