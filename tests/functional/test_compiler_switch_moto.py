"""Switch flows compiled for the worker backend and executed by moto's Step Functions interpreter.

Each execution's tasks run through the real task runner (TaskWorker) with an
S3 datastore on the session's moto server; results are read back from the
datastore. The Choice states route on what each switch task returned.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from flowdrop.compiler import BackendSettings, CompileOptions, compile_flow, definition_json
from flowdrop.datastore import open_storage
from flowdrop.datastore.flow import FlowDatastore
from flowdrop.graph import parse_flow_file
from flowdrop.local.worker import TaskWorker
from flowdrop.model.task import TaskPayload
from tests.helpers.compiler import ROLE_ARN, run_to_end

pytestmark = pytest.mark.slow

FLOWS = Path(__file__).resolve().parents[1] / "flows"

# A recursive switch alone, and a switch whose task fails into @catch (so it returns no case).
LOOP_FLOW = '''
from flowdrop import FlowSpec, step


class LoopOnlyFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.state = "again" if self.count < 3 else "done"
        self.next({"again": self.loop, "done": self.end}, condition="state")

    @step
    def end(self):
        pass
'''

CAUGHT_FLOW = '''
from flowdrop import FlowSpec, catch, step


class CaughtSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.decide)

    @catch(var="failure", print_exception=False)
    @step
    def decide(self):
        raise ValueError("no decision today")
        self.next({"a": self.a, "b": self.b}, condition="choice")

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


# The same no-case switch in a flow with an error hook: the run must still call the hook on its way to FAILED.
HOOKED_FLOW = CAUGHT_FLOW.replace("CaughtSwitchFlow", "HookedSwitchFlow").replace(
    "from flowdrop import FlowSpec, catch, step", "from flowdrop import FlowSpec, catch, exit_hook, step\n\n\n"
    "def tell(run=None):\n    print('error hook ran')").replace(
    "class HookedSwitchFlow", "@exit_hook(on_error=[tell])\nclass HookedSwitchFlow")


@pytest.fixture(scope="module")
def stack(aws, moto_server, tmp_path_factory):
    """A bucket, the worker queue and a TaskWorker that runs the switch flows."""
    folder = tmp_path_factory.mktemp("switch-flows")
    files = {"SwitchFlow": FLOWS / "switch_flow.py"}
    for name, source in (("LoopOnlyFlow", LOOP_FLOW), ("CaughtSwitchFlow", CAUGHT_FLOW),
                         ("HookedSwitchFlow", HOOKED_FLOW)):
        files[name] = folder / f"{name.lower()}.py"
        files[name].write_text(textwrap.dedent(source))
    name = "x" + uuid.uuid4().hex[:10]
    s3, sqs = aws.client("s3"), aws.client("sqs")
    s3.create_bucket(Bucket=name)
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    env = {"FLOWDROP_AWS_ENDPOINT": moto_server.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": aws.region}

    def resolve(payload: TaskPayload) -> Path:
        return files[payload.flow_name]

    worker = TaskWorker(aws.client("sqs"), aws.client("stepfunctions"), queue_url, resolve,
                        max_tasks=4, heartbeat_interval=2.0, env=env)
    worker.start()
    yield {"sfn": aws.client("stepfunctions"), "aws": aws, "queue_url": queue_url, "root": f"s3://{name}/data",
           "name": name, "files": files}
    worker.stop(timeout=10)


def run(stack, flow: str, execution_input: dict, run_name: str, **overrides) -> tuple[dict, FlowDatastore, str]:
    graph = parse_flow_file(stack["files"][flow])
    options = CompileOptions(state_machine_name=flow, datastore_root=stack["root"],
                             backend=BackendSettings(kind="worker", worker_queue_url=stack["queue_url"],
                                                     heartbeat_seconds=30), **overrides)
    sfn = stack["sfn"]
    arn = sfn.create_state_machine(name=f"{stack['name']}-{flow}-{run_name}", roleArn=ROLE_ARN,
                                   definition=definition_json(compile_flow(graph, options)))["stateMachineArn"]
    result = run_to_end(sfn, arn, run_name, execution_input, timeout=90)
    return result, FlowDatastore(open_storage(stack["root"], stack["aws"]), flow), f"sfn-{run_name}"


def entered(stack, result: dict) -> list[str]:
    events = stack["sfn"].get_execution_history(executionArn=result["executionArn"])["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_switch_flow_takes_the_chosen_cases_loops_and_joins(stack):
    result, ds, run_id = run(stack, "SwitchFlow", {"Parameters": "{}"}, "all-shapes")
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    # The recursive step ran three times, each pass its own task, each fed by the one before.
    assert [ds.load_task_artifacts(run_id, "loop", t)["count"] for t in ("loop", "loop.1", "loop.2")] == [1, 2, 3]
    assert ds.read_attempt(run_id, "loop", "loop.2", 0)["input_paths"] == [f"{run_id}/loop/loop.1"]
    assert ds.read_attempt(run_id, "fan", "fan", 0)["input_paths"] == [f"{run_id}/loop/loop.2"]
    # In the foreach, item 0 took the vowel case, 1 and 2 the consonant one; the join saw each once.
    assert ds.read_done(run_id, "vowel", "vowel-0") and ds.read_done(run_id, "vowel", "vowel-1") is None
    assert ds.read_done(run_id, "consonant", "consonant-2")
    gather = ds.load_task_artifacts(run_id, "gather", "gather")
    assert gather["seen"] == ["C:b", "C:c", "V:a"] and gather["count"] == 3
    end = ds.load_task_artifacts(run_id, "end", "end")
    assert end["path"] == "quick"
    assert ds.read_attempt(run_id, "end", "end", 0)["input_paths"] == [f"{run_id}/quick/quick"]
    states = entered(stack, result)
    assert "careful" not in states and states.count("loop") == 3 and states.count("loop-switch") == 3


def test_the_other_case_runs_when_the_parameter_says_so(stack):
    result, ds, run_id = run(stack, "SwitchFlow", {"Parameters": "{\"mode\": \"slow\"}"}, "slow")
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    assert ds.load_task_artifacts(run_id, "end", "end")["path"] == "careful"
    assert ds.read_done(run_id, "quick", "quick") is None


def test_a_value_that_is_no_case_fails_the_execution_naming_step_and_value(stack):
    result, ds, run_id = run(stack, "SwitchFlow", {"Parameters": "{\"mode\": \"medium\"}"}, "medium")
    # The task itself refuses the value, as locally (moto drops SendTaskFailure's cause: read the attempt).
    assert result["status"] == "FAILED"
    failed = ds.read_attempt(run_id, "gather", "gather", 0)
    assert failed["status"] == "failed"
    assert failed["exception_message"] == ("step 'gather': switch condition self.mode is 'medium', which is none of "
                                           "the cases ['fast', 'slow']")
    assert not {"quick", "careful"} & set(entered(stack, result))


def test_a_switch_that_gives_no_case_fails_in_its_no_case_state(stack):
    # @catch records the failure, so the task returns without a case: the Choice sends it to the Fail state.
    result, ds, run_id = run(stack, "CaughtSwitchFlow", {"Parameters": "{}"}, "caught")
    assert result["status"] == "FAILED" and result["error"] == "flowdrop.SwitchNoCase"
    assert result["cause"].startswith("step decide: the switch on self.choice chose no case (task result: ")
    assert "its cases are \"a\" -> a, \"b\" -> b" in result["cause"]
    assert "decide-no-case" in entered(stack, result)


def test_a_switch_with_no_case_runs_the_error_hook_and_still_fails(stack):
    result, ds, run_id = run(stack, "HookedSwitchFlow", {"Parameters": "{}"}, "hooked")
    assert result["status"] == "FAILED" and result["error"] == "flowdrop.RunFailed"
    assert result["cause"].startswith("flowdrop.SwitchNoCase: step decide: the switch on self.choice chose no case")
    states = entered(stack, result)
    assert states.index("decide-no-case") < states.index("exit-hook-error")
    hooks = ds.read_exit_hooks(run_id)
    assert hooks is not None and "error hook ran" in str(hooks), hooks


def test_a_recursive_switch_past_its_bound_fails_clearly(stack):
    # inline_foreach_limit caps the repeats too: 1 repeat allowed, the flow wants 2.
    result, ds, run_id = run(stack, "LoopOnlyFlow", {"Parameters": "{}"}, "bounded", inline_foreach_limit=1)
    assert result["status"] == "FAILED" and result["error"] == "flowdrop.SwitchRepeatLimit"
    assert "step 'loop': the recursive switch on self.state wants to run the step again after 1 repeats" \
        in result["cause"]
    assert ds.read_done(run_id, "loop", "loop.1") and ds.read_done(run_id, "loop", "loop.2") is None
    result, ds, run_id = run(stack, "LoopOnlyFlow", {"Parameters": "{}"}, "unbounded")
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    assert ds.load_task_artifacts(run_id, "end", "end")["count"] == 3


def test_a_production_resume_reuses_switch_tasks_and_their_cases(stack):
    from datetime import datetime, timezone

    from flowdrop.deployer.resume import resumed_run_record

    result, ds, origin = run(stack, "SwitchFlow", {"Parameters": "{}"}, "resume-origin")
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    # As the deployer's resume writes it: every step before `quick` is reused from the origin.
    ds.write_run("sfn-resumed", resumed_run_record(ds.read_run(origin), "SwitchFlow", "sfn-resumed",
                                                   datetime.now(timezone.utc), "ada", origin, "quick"))
    result, ds, run_id = run(stack, "SwitchFlow", {"Parameters": "{}"}, "resumed")
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    # The reused switch tasks answered their origin's cases, so the same steps ran, the loop's passes included.
    assert ds.read_attempt(run_id, "loop", "loop.2", 0)["cloned_from"] == f"{origin}/loop/loop.2"
    assert ds.read_attempt(run_id, "gather", "gather", 0)["cloned_from"] == f"{origin}/gather/gather"
    assert "cloned_from" not in ds.read_attempt(run_id, "quick", "quick", 0)
    assert ds.load_task_artifacts(run_id, "end", "end")["seen"] == ["C:b", "C:c", "V:a"]


# Metaflow's own switch graphs (tests/metaflow_core), one case each: its flow asserts what each step must
# see (Metaflow's test code, run in the tasks). In production it must succeed and leave the local run's tasks.
CORE_CASES = [
    "BasicSwitchTest[simple_switch]", "NestedSwitchTest[nested_switch]", "BranchInSwitchTest[branch_in_switch]",
    "ForeachInSwitchTest[foreach_in_switch]", "SwitchInBranchTest[switch_in_branch]",
    "SwitchInForeachTest[switch_in_foreach]", "RecursiveSwitchFlowTest[recursive_switch]",
    "RecursiveSwitchInsideForeachFlowTest[recursive_switch_inside_foreach]",
]


def tasks_of(ds: FlowDatastore, run_id: str) -> dict[tuple[str, str], dict]:
    """Every succeeded task of a run: its user artifacts."""
    return {(step, task): {k: v for k, v in ds.load_task_artifacts(run_id, step, task).items() if not k.startswith("_")}
            for step in ds.list_steps(run_id) for task in ds.list_tasks(run_id, step)
            if ds.read_done(run_id, step, task) is not None}


@pytest.mark.parametrize("case_id", CORE_CASES)
def test_metaflow_switch_graphs_run_in_production_as_locally(stack, case_id, tmp_path, monkeypatch):
    from tests.helpers.runtime import run_flow
    from tests.metaflow_core import harness
    from tests.metaflow_core.test_core_suite import CASES

    case = CASES[case_id]
    monkeypatch.syspath_prepend(str(harness.SUPPORT))  # metaflow_test, for the tasks the worker forks
    flow_file = tmp_path / f"{case.file}.py"
    flow_file.write_text(case.flow_code)
    stack["files"][case.flow_name] = flow_file
    local_root = tmp_path / "local"
    done = run_flow(flow_file, "--no-pylint", "run", "--run-id-file", str(tmp_path / "run-id"), datastore=local_root,
                    env={"PYTHONPATH": str(harness.SUPPORT)})
    assert done.returncode == 0, done.stdout + done.stderr
    local = tasks_of(FlowDatastore(open_storage(str(local_root)), case.flow_name),
                     (tmp_path / "run-id").read_text().strip())
    result, ds, run_id = run(stack, case.flow_name, {"Parameters": "{}"}, f"core-{CORE_CASES.index(case_id)}")
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    assert tasks_of(ds, run_id) == local
