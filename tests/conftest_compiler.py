"""Helpers for the compiler's tests and bench: example graphs, generated graphs, moto checks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flowdrop.model import FOREACH, JOIN, LINEAR, SPLIT, Decorator, Graph, Node

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
ROLE_ARN = "arn:aws:iam::123456789012:role/flowdrop-state-machine"


def example_graph(name: str) -> Graph:
    """The parsed graph of examples/<name>.py."""
    from flowdrop.graph import parse_flow_file

    return parse_flow_file(EXAMPLES / f"{name}.py")


def synthetic_graph(steps: int, foreach: int = 0, branches: int = 0, name: str = "GeneratedFlow",
                    step_decorators: tuple[Decorator, ...] = ()) -> Graph:
    """A valid flow of about `steps` steps: `foreach` foreach blocks (3 steps each),
    `branches` 2-way branch blocks (4 steps each), linear steps for the rest."""
    specs: list[tuple[str, str, tuple[str, ...], dict[str, Any]]] = []  # name, type, outs, extra

    def add(node_name: str, node_type: str, **extra: Any) -> None:
        specs.append((node_name, node_type, (), extra))

    add("start", "start")
    for i in range(foreach):
        add(f"fan{i}", FOREACH, foreach_param="items", matching_join=f"gather{i}", block=("foreach", i))
        add(f"work{i}", LINEAR, split_parents=(f"fan{i}",), foreach_depth=1)
        add(f"gather{i}", JOIN, is_join=True)
    for i in range(branches):
        add(f"split{i}", SPLIT, matching_join=f"merge{i}", block=("branch", i))
        add(f"left{i}", LINEAR, split_parents=(f"split{i}",))
        add(f"right{i}", LINEAR, split_parents=(f"split{i}",))
        add(f"merge{i}", JOIN, is_join=True)
    for i in range(max(0, steps - len(specs) - 1)):
        add(f"step{i}", LINEAR)
    add("end", "end")
    order = [s[0] for s in specs]
    outs: dict[str, tuple[str, ...]] = {}
    position = 0
    while position < len(order) - 1:
        current = order[position]
        extra = specs[position][3]
        if extra.get("block", ("",))[0] == "branch":
            left, right, merge = order[position + 1:position + 4]
            outs[current], outs[left], outs[right] = (left, right), (merge,), (merge,)
            position += 3
            continue
        outs[current] = (order[position + 1],)
        position += 1
    ins: dict[str, list[str]] = {n: [] for n in order}
    for src, dsts in outs.items():
        for dst in dsts:
            ins[dst].append(src)
    nodes = []
    for node_name, node_type, _, extra in specs:
        extra = {k: v for k, v in extra.items() if k != "block"}
        nodes.append(Node(name=node_name, type=node_type, out_funcs=outs.get(node_name, ()),
                          in_funcs=tuple(ins[node_name]), decorators=step_decorators, **extra))
    return Graph(flow_name=name, file=f"{name.lower()}.py", nodes=tuple(nodes))


def iter_states(machine: dict[str, Any]):
    """Every (name, state) of a definition, bodies of Parallel and Map included."""
    for name, state in machine["States"].items():
        yield name, state
        for branch in state.get("Branches", ()):
            yield from iter_states(branch)
        if "ItemProcessor" in state:
            yield from iter_states(state["ItemProcessor"])


def all_states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> state over the whole definition."""
    return dict(iter_states(machine))


def run_to_end(sfn, arn: str, name: str, execution_input: dict, timeout: float = 30.0) -> dict:
    """Start a named execution and wait for it to leave RUNNING."""
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(execution_input))
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.1)
