"""Compiled flows executed by moto's Step Functions interpreter, tasks run by TaskWorker.

Each flow is compiled for the worker backend, created on the session's moto
server and started with a name and the seed's input; a TaskWorker runs every
task through the real task runner with an S3 datastore on the same server.
Results are then read back from the datastore, as the client API would.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

from flowdrop.compiler import CompileOptions  # noqa: E402
from flowdrop.compiler.shapes import Compilation  # noqa: E402
from flowdrop.datastore.flow import FlowDatastore  # noqa: E402
from flowdrop.local.worker import TaskWorker  # noqa: E402
from flowdrop.model.task import TaskPayload  # noqa: E402
from tests.helpers.compiler import example_graph, execute, stack  # noqa: F401  (stack: the module's moto fixture)


def history(stack, result: dict) -> list[dict]:
    """The execution's events; moto returns them all in one page."""
    return stack["sfn"].get_execution_history(executionArn=result["executionArn"])["events"]


def maps_entered(events: list[dict]) -> list[str]:
    """Names of the Map states the execution entered, in order."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "MapStateEntered"]


def started(ds: FlowDatastore, run_id: str, step: str, task_id: str, attempt: int | None = None) -> str:
    attempts = ds.list_attempts(run_id, step, task_id)
    return ds.read_attempt(run_id, step, task_id, attempts[-1] if attempt is None else attempt)["started"]


def artifacts(ds: FlowDatastore, run_id: str, step: str, task_id: str | None = None) -> dict:
    return ds.load_task_artifacts(run_id, step, task_id or step)


@pytest.mark.slow
def test_linear_flow_runs_its_steps_in_order(stack):
    _, ds, run = execute(stack, "linear_flow", {"Parameters": "{\"base\": 5}"})
    order = ["start", "double", "increment", "end"]
    times = [started(ds, run, step, step) for step in order]
    assert times == sorted(times)
    end = artifacts(ds, run, "end")
    assert end["trail"] == order and end["value"] == 11


@pytest.mark.slow
def test_parameter_flow_sees_alpha_from_the_execution_input(stack):
    _, ds, run = execute(stack, "parameter_flow", {"Parameters": "{\"alpha\": 0.5}"})
    assert artifacts(ds, run, "start")["alpha"] == 0.5
    assert artifacts(ds, run, "end")["alpha"] == 0.5


@pytest.mark.slow
def test_branch_join_sees_every_branch(stack):
    _, ds, run = execute(stack, "branch_flow", {"Parameters": "{}"})
    join = artifacts(ds, run, "join")
    assert (join["a"], join["b"], join["c"], join["total_score"]) == (1, 2, 3, 60)
    branch_starts = [started(ds, run, s, s) for s in ("fetch_a", "fetch_b", "fetch_c")]
    assert started(ds, run, "start", "start") < min(branch_starts)
    assert max(branch_starts) < started(ds, run, "join", "join")


@pytest.mark.slow
def test_foreach_runs_one_task_per_item_and_the_join_sees_them_all(stack):
    result, ds, run = execute(stack, "foreach_flow", {})  # no Parameters key: every default (width=5)
    assert maps_entered(history(stack, result)) == ["start-map"]  # 5 <= its threshold, 1,000
    assert ds.list_tasks(run, "square") == [f"square-{i}" for i in range(5)]
    join = artifacts(ds, run, "join")
    assert join["items_seen"] == [0, 1, 2, 3, 4] and join["total"] == 30


@pytest.mark.slow
def test_a_foreach_past_its_threshold_runs_every_item_in_a_distributed_map(stack):
    # Threshold 3: 3 items stay inline, 4 go to the Distributed Map, whose
    # child executions run each item's task; the join must see every one.
    inline, _, _ = execute(stack, "foreach_flow", {"Parameters": "{\"width\": 3}"}, run="at-limit",
                           inline_foreach_limit=3)
    assert maps_entered(history(stack, inline)) == ["start-map"]
    result, ds, run = execute(stack, "foreach_flow", {"Parameters": "{\"width\": 4}"}, run="past-limit",
                              inline_foreach_limit=3)
    events = history(stack, result)
    assert maps_entered(events) == ["start-map-wide"]
    assert [e["type"] for e in events if e["type"].startswith("MapRun")] == ["MapRunStarted", "MapRunSucceeded"]
    # moto counts a failed item as a success (EMULATOR.md): check each item's own result.
    assert ds.list_tasks(run, "square") == [f"square-{i}" for i in range(4)]
    for i in range(4):
        assert artifacts(ds, run, "square", f"square-{i}")["squared"] == i * i
    join = artifacts(ds, run, "join")
    assert join["items_seen"] == [0, 1, 2, 3] and join["total"] == 0 + 1 + 4 + 9


@pytest.mark.slow
def test_history_estimate_bounds_what_an_inline_foreach_writes(stack):
    """moto writes what AWS does per inline iteration; the compiler's estimate must not be lower."""
    graph = example_graph("foreach_flow")
    budget = Compilation.of(graph, CompileOptions(state_machine_name="x")).foreach_budgets["start"]
    counts = {}
    for width in (1, 3):
        result, _, _ = execute(stack, "foreach_flow", {"Parameters": json.dumps({"width": width})},
                               run=f"width-{width}")
        counts[width] = len(history(stack, result))
    per_iteration = (counts[3] - counts[1]) / 2
    assert per_iteration == budget.events_per_iteration == 8


@pytest.mark.slow
def test_nested_foreach_runs_every_cell(stack):
    # 4 rows of up to 1,000 inline cells each could pass one history: the
    # rows' threshold is 2, so they run as child executions of a Distributed
    # Map, each with its cells in an inline Map.
    result, ds, run = execute(stack, "nested_foreach_flow", {"Parameters": "{}"})
    assert maps_entered(history(stack, result)) == ["start-map-wide"]
    assert sorted(ds.list_tasks(run, "cell")) == sorted(f"cell-{i}-{j}" for i in range(4) for j in range(3))
    assert sorted(ds.list_tasks(run, "join_cols")) == [f"join_cols-{i}" for i in range(4)]
    for i in range(4):
        assert artifacts(ds, run, "join_cols", f"join_cols-{i}")["row_sum"] == sum(i * 10 + j for j in range(3))
    final = artifacts(ds, run, "join_rows")
    assert final["cells"] == [(i, j) for i in range(4) for j in range(3)]
    assert final["total"] == sum(i * 10 + j for i in range(4) for j in range(3))


@pytest.mark.slow
def test_decorated_flow_retries_flaky_and_catches_risky(stack):
    _, ds, run = execute(stack, "decorated_flow", {"Parameters": "{}"})
    assert ds.read_done(run, "flaky", "flaky")["attempt"] == 2  # the third attempt is the one that counts
    assert [ds.read_attempt(run, "flaky", "flaky", n)["status"] for n in (0, 1, 2)] == ["failed", "failed",
                                                                                        "succeeded"]
    # risky: as Metaflow's @catch, its last (here only) attempt records the exception itself and succeeds;
    # the -catch fallback state is for tasks that die without one.
    assert ds.list_attempts(run, "risky", "risky") == [0]
    assert ds.read_attempt(run, "risky", "risky", 0)["status"] == "caught"
    assert artifacts(ds, run, "flaky")["attempts"] == 3
    end = artifacts(ds, run, "end")
    assert end["attempts"] == 3
    assert "ZeroDivisionError" in str(end["risky_failure"])
    assert started(ds, run, "risky", "risky") < started(ds, run, "end", "end")


class FakeSfn:
    """Records the token answers a worker sends."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def send_task_success(self, **kwargs):
        self.calls.append(("success", kwargs))

    def send_task_failure(self, **kwargs):
        self.calls.append(("failure", kwargs))

    def send_task_heartbeat(self, **kwargs):
        self.calls.append(("heartbeat", kwargs))


class FakeSqs:
    def __init__(self, bodies):
        self.messages = [{"Body": json.dumps(b), "ReceiptHandle": f"r{i}"} for i, b in enumerate(bodies)]
        self.deleted: list[str] = []

    def receive_message(self, QueueUrl, MaxNumberOfMessages, WaitTimeSeconds):
        taken, self.messages = self.messages[:MaxNumberOfMessages], self.messages[MaxNumberOfMessages:]
        return {"Messages": taken}

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)


def test_worker_answers_success_failure_and_heartbeats(tmp_path):
    script = ("import json, sys, time; step, out = sys.argv[1], sys.argv[2]\n"
              "time.sleep(0.4)\n"
              "if step == 'bad': sys.stderr.write('Traceback...\\nValueError: nope\\n'); sys.exit(3)\n"
              "open(out, 'w').write(json.dumps({'task_id': step}))\n")

    def command(flow_file, payload, output_file):
        return [sys.executable, "-c", script, payload.step, str(output_file)]

    bodies = [{"task_token": f"tok-{step}", "payload": TaskPayload("F", step, "sfn-x").to_dict()}
              for step in ("good", "bad")]
    sqs, sfn = FakeSqs(bodies), FakeSfn()
    worker = TaskWorker(sqs, sfn, "q", lambda p: tmp_path / "flow.py", max_tasks=1, heartbeat_interval=0.1,
                        task_command=command)
    deadline = time.monotonic() + 20
    while len([c for c in sfn.calls if c[0] != "heartbeat"]) < 2 and time.monotonic() < deadline:
        worker.poll_once()
        time.sleep(0.05)
    worker.stop()
    answers = {c[1]["taskToken"]: c for c in sfn.calls if c[0] != "heartbeat"}
    assert answers["tok-good"] == ("success", {"taskToken": "tok-good", "output": '{"task_id": "good"}'})
    kind, failure = answers["tok-bad"]
    assert kind == "failure" and failure["error"] == "TaskFailed"
    assert failure["cause"].startswith("bad (bad): exit code 3") and "ValueError: nope" in failure["cause"]
    assert any(c[0] == "heartbeat" for c in sfn.calls)
    assert sqs.deleted == ["r0", "r1"]
