"""What tests, the demo and the benchmarks share: driving the embedded stack as a user would.

Owns: the example flows' folder, a user's environment for commands against
a stack, running a command with its output kept, deploying a flow with
`python flow.py step-functions create`, waiting for a run through the API,
and generated graphs of any size for the compiler's tests and bench. Public:
projects that build on flowdrop may test with it too. Does not own: the
stack (local/) or the demo's story (cli/demo.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flowdrop.errors import DemoError
from flowdrop.local.stack import EmbeddedStack
from flowdrop.model.decorators import Decorator
from flowdrop.model.graph import FOREACH, JOIN, LINEAR, SPLIT, Graph, Node
from flowdrop.model.runs import TERMINAL_STATUSES


def examples_dir() -> Path:
    """The example flows of this checkout (examples/ beside chalicelib/; a wheel has none)."""
    folder = Path(__file__).resolve().parent.parent / "examples"  # flowdrop/testing.py -> the checkout
    if not folder.is_dir():
        raise DemoError(f"the example flows are not installed: no {folder}. They ship with flowdrop's source "
                        "tree: run the demo from a checkout (make demo).")
    return folder


def client_env(stack: EmbeddedStack, **extra: str) -> dict[str, str]:
    """A user's environment for commands against `stack`: only FLOWDROP_CONFIG (plus `extra`) of flowdrop's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDROP_")}
    return {**env, **stack.client_env(), **extra}


def run_command(args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 300) -> str:
    """Run a command; its stdout+stderr, or DemoError with their tail."""
    try:
        done = subprocess.run(list(args), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise DemoError(f"`{' '.join(args)}` did not finish within {timeout:.0f}s") from err
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise DemoError(f"`{' '.join(args)}` exited with {done.returncode}:\n{output[-3000:]}")
    return output


def deploy_flow(stack: EmbeddedStack, flow_file: Path, *extra: str, cwd: Path | None = None,
                backend: str | None = None, create_options: tuple[str, ...] = ()) -> str:
    """`python FLOW_FILE [extra...] step-functions create [--backend B] [create_options...]` against the stack."""
    cwd = cwd or stack.state_dir
    create = ["step-functions", "create", *(["--backend", backend] if backend else []), *create_options]
    return run_command([sys.executable, str(flow_file), *extra, *create], client_env(stack), cwd)


def wait_for_run(api: Any, flow: str, run_id: str, timeout: float = 180.0, poll: float = 0.1,
                 max_poll: float | None = None) -> dict[str, Any]:
    """Poll the run's status through the API until it ends; its last status (DemoError on timeout).

    `max_poll`: the pause between two looks grows from `poll` by half each look up to this (None: always
    `poll`). Each look costs about 17 ms of CPU (the API's handler, moto's DescribeExecution, the client):
    a wait that shares two cores with the run it waits for slows that run down when it looks 7 times a second.
    """
    deadline = time.monotonic() + timeout
    pause = poll
    while True:
        # Poll the cheap status; read every step's state once the run ended.
        answer = api.get_run(flow, run_id, steps=False)
        if answer.get("status") in TERMINAL_STATUSES:
            return api.get_run(flow, run_id)
        if time.monotonic() > deadline:
            raise DemoError(f"run {flow}/{run_id} still {answer.get('status')} after {timeout:.0f}s: "
                            f"steps {answer.get('steps')}")
        time.sleep(pause)
        if max_poll is not None:
            pause = min(max_poll, pause * 1.5)


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
