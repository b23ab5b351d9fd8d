"""Helpers for the compiler's tests: example graphs, compile options, moto checks, and compiled flows run on moto.

`stack` is a module-scoped fixture (a bucket, the worker queue and a running
TaskWorker on the session's moto server); a test module that runs compiled
flows with `execute` imports it.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowdrop.compiler import BackendSettings, CompileOptions, compile_flow, definition_json
from flowdrop.datastore import open_storage
from flowdrop.datastore.flow import FlowDatastore
from flowdrop.local.worker import TaskWorker
from flowdrop.model.graph import Graph
from flowdrop.model.task import TaskPayload

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = ROOT / "tests" / "golden"
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


# -- compile options ---------------------------------------------------------------------------

GOLDEN_FLOWS = ["linear_flow", "branch_flow", "foreach_flow", "nested_foreach_flow", "decorated_flow",
                "parameter_flow"]
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/flowdrop-tasks"


def options(kind: str = "batch", **overrides) -> CompileOptions:
    # A task function large enough for decorated_flow's @resources(memory=4096).
    backend = BackendSettings(kind=kind, worker_queue_url=QUEUE_URL, task_function_memory=8192)
    base = dict(state_machine_name="TestFlow", backend=backend,
                code_package="s3://flowdrop-packages/packages/Flow/0f1e.tar.gz",
                datastore_root="s3://flowdrop-data/data")
    base.update(overrides)
    return CompileOptions(**base)


# -- compiled flows executed on moto ------------------------------------------------------------

# The steps of examples/nested_foreach_flow.py, in order.
NESTED_FOREACH_STEPS = ["start", "row", "cell", "join_cols", "join_rows", "end"]

FLOW_FILES = {example_graph(p.stem).flow_name: p for p in sorted(EXAMPLES.glob("*_flow.py"))
              if p.stem in ("linear_flow", "branch_flow", "foreach_flow", "nested_foreach_flow",
                            "decorated_flow", "parameter_flow")}


def resolve_flow_file(payload: TaskPayload) -> Path:
    return FLOW_FILES[payload.flow_name]


@pytest.fixture(scope="module")
def stack(aws, moto_server):
    """A bucket, the worker queue and a running TaskWorker on the session's moto server."""
    name = "x" + uuid.uuid4().hex[:10]
    s3, sqs, sfn = aws.client("s3"), aws.client("sqs"), aws.client("stepfunctions")
    s3.create_bucket(Bucket=name)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    env = {"FLOWDROP_AWS_ENDPOINT": moto_server.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": aws.region}
    worker = TaskWorker(aws.client("sqs"), aws.client("stepfunctions"), queue_url, resolve_flow_file,
                        max_tasks=8, heartbeat_interval=2.0, env=env)
    worker.start()
    yield {"sfn": sfn, "aws": aws, "queue_url": queue_url, "root": f"s3://{name}/data", "name": name}
    worker.stop(timeout=10)


def execute(stack, flow: str, execution_input: dict, timeout: float = 60.0, run: str = "run-1",
            **overrides) -> tuple[dict, FlowDatastore, str]:
    """Compile `flow` (with CompileOptions `overrides`), run it as execution `run`; the run must succeed."""
    graph = example_graph(flow)
    options = CompileOptions(state_machine_name=graph.flow_name, datastore_root=stack["root"],
                             backend=BackendSettings(kind="worker", worker_queue_url=stack["queue_url"],
                                                     heartbeat_seconds=30), **overrides)
    sfn = stack["sfn"]
    arn = sfn.create_state_machine(name=f"{stack['name']}-{flow}-{run}", roleArn=ROLE_ARN,
                                   definition=definition_json(compile_flow(graph, options)))["stateMachineArn"]
    result = run_to_end(sfn, arn, run, execution_input, timeout=timeout)
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    assert isinstance(json.loads(result["output"]), dict)
    datastore = FlowDatastore(open_storage(stack["root"], stack["aws"]), graph.flow_name)
    return result, datastore, f"sfn-{run}"
