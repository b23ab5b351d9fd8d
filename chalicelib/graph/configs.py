"""A flow graph with its config expressions evaluated: Metaflow's config values at decoration time.

Owns: resolve_configs, which takes a graph read from source (decorator
arguments that read Configs kept as expressions) and the run's or the
deployment's config values, and returns the graph with those arguments as
plain attributes, checked as written literals are. The local CLI, the task
runner and the deployer all call it, so `@resources(cpu=config_expr("cfg.cpu"))`
means the same thing everywhere. Does not own: computing config values
(flowdrop/user_configs.py) or the evaluator (model/configs.py). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flowdrop.errors import FlowConfigError
from flowdrop.model.configs import ExpressionError, evaluate_expression
from flowdrop.model.decorators import Decorator, decorator_problems
from flowdrop.model.graph import Graph


def config_names(graph: Graph, values: Mapping[str, Any]) -> dict[str, Any]:
    """What a config expression may name: each config by its name and by the class attribute holding it."""
    names: dict[str, Any] = {}
    for spec in graph.configs:
        names[spec.attribute] = values.get(spec.name)
        names[spec.name] = values.get(spec.name)
    return names


def config_value_problems(graph: Graph, values: Mapping[str, Any]) -> list[str]:
    """Config values that do not match the flow's declarations (unknown or missing names), each naming the file."""
    declared = {spec.name for spec in graph.configs}
    problems = [f"{graph.file}: flow '{graph.flow_name}': config {name!r} is not declared by the flow "
                f"(it declares: {', '.join(sorted(declared)) or 'no configs'})"
                for name in sorted(set(values) - declared)]
    problems += [f"{graph.file}:{spec.lineno}: flow '{graph.flow_name}': config {spec.name!r} has no value"
                 for spec in graph.configs if spec.name not in values]
    return problems


def resolve_configs(graph: Graph, values: Mapping[str, Any]) -> Graph:
    """`graph` with every decorator expression evaluated over `values`; FlowConfigError lists every problem."""
    if not graph.configs and not values:
        return graph
    problems = config_value_problems(graph, values)
    if problems:
        raise FlowConfigError(problems)
    names = config_names(graph, values)
    flow_decorators = tuple(_resolved(deco, names, f"{graph.file}:{deco.lineno}: flow '{graph.flow_name}'", problems)
                            for deco in graph.flow_decorators)
    nodes = tuple(
        replace(node, decorators=tuple(_resolved(deco, names, f"{graph.file}:{deco.lineno}: step '{node.name}'",
                                                 problems) for deco in node.decorators))
        for node in graph.nodes
    )
    if problems:
        raise FlowConfigError(problems)
    return replace(graph, nodes=nodes, flow_decorators=flow_decorators)


def _resolved(deco: Decorator, names: Mapping[str, Any], where: str, problems: list[str]) -> Decorator:
    if not deco.expressions:
        return deco
    attributes = dict(deco.attributes)
    for key, text in deco.expressions:
        label = f"@{deco.name}({'**' + text if key is None else key + '=' + text})"
        try:
            value = evaluate_expression(text, names)
        except ExpressionError as err:
            problems.append(f"{where}: {label}: {err}")
            continue
        if key is None:
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                problems.append(f"{where}: {label}: ** needs a config that is an object with string keys, "
                                f"got {type(value).__name__}")
                continue
            attributes.update({k: _plain(v) for k, v in value.items()})
        else:
            attributes[key] = _plain(value)
    out = Decorator(deco.name, attributes, deco.lineno)
    problems += [f"{where}: {text} (from the flow's configs)" for text in decorator_problems(out)]
    return out


def _plain(value: Any) -> Any:
    """Config values as a literal would give them: dicts and lists of plain values (ConfigValue is a dict)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
