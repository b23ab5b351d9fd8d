"""Helpers for the compiler's tests and bench: example graphs, generated graphs, moto checks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flowdrop.model.graph import Graph

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
ROLE_ARN = "arn:aws:iam::123456789012:role/flowdrop-state-machine"


def example_graph(name: str) -> Graph:
    """The parsed graph of examples/<name>.py."""
    from flowdrop.graph import parse_flow_file

    return parse_flow_file(EXAMPLES / f"{name}.py")


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
