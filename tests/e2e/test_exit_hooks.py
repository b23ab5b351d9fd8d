"""@exit_hook in production on the embedded stack: the deployed state machine calls the hooks once at the end.

A local run first (`python flow.py run`: the hooks run in the run's process once its
last task ended). Then one stack, one deployed flow (tests/flows/exit_hook_flow.py, on the default
Batch backend), two runs of it: one succeeds, one fails in its end step.
Each calls its hooks through the machine's final hook task; one hook raises
on both paths, which changes neither run's outcome, and the failed run's
execution still ends FAILED with the step's own error.
"""

from __future__ import annotations

import json
import shutil

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, wait_for_run
from tests.helpers.runtime import TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow

FLOW = "ExitHookFlow"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with EmbeddedStack(StackOptions(state_dir=tmp_path_factory.mktemp("exit-hooks"), max_tasks=4)) as running:
        yield running


WORKER_MACHINE = "ExitHookOnWorkers"  # the same flow deployed again, on the worker backend


@pytest.fixture(scope="module")
def api(stack, tmp_path_factory) -> ApiClient:
    folder = tmp_path_factory.mktemp("exit-hook-flow")
    flow_file = folder / "exit_hook_flow.py"
    shutil.copy(TEST_FLOWS / "exit_hook_flow.py", flow_file)
    deploy_flow(stack, flow_file)
    deploy_flow(stack, flow_file, backend="worker", create_options=("--name", WORKER_MACHINE))
    return ApiClient.from_config(stack.config)


def hooks_of(stack, run_id: str) -> dict:
    """What the hooks did, read as a user reads it: the client API on the production datastore."""
    from flowdrop.client import Run

    production_client(stack.config)
    return Run(f"{FLOW}/{run_id}").exit_hooks


def execution(stack, run_id: str, machine: str = FLOW) -> dict:
    sfn = stack.aws.client("stepfunctions")
    arn = next(e["executionArn"] for e in sfn.list_executions(stateMachineArn=_machine_arn(sfn, machine))["executions"]
               if f"sfn-{e['name']}" == run_id)
    return sfn.describe_execution(executionArn=arn)


def _machine_arn(sfn, machine: str) -> str:
    return next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == machine)


@pytest.mark.parametrize("fail", [False, True])
def test_a_local_run_calls_its_hooks_once_and_keeps_its_own_result(tmp_path, fail):
    done = run_flow(TEST_FLOWS / "exit_hook_flow.py", "run", *(["--fail", "true"] if fail else []),
                    datastore=tmp_path / "ds")
    assert done.returncode == (1 if fail else 0), done.stderr
    (run_folder,) = (tmp_path / "ds" / "ExitHookFlow" / "runs").iterdir()
    record = json.loads((run_folder / "exit-hooks.json").read_text())
    assert record["successful"] is (not fail)
    pathspec = f"ExitHookFlow/{run_folder.name}"
    if fail:
        assert [(h["name"], h["ok"]) for h in record["hooks"]] == [("broken_hook", False), ("report_error", True)]
        assert f"error hook: {pathspec} successful=False" in done.stdout
    else:
        assert [(h["name"], h["ok"]) for h in record["hooks"]] == [("report_success", True), ("broken_hook", False)]
        assert f"success hook: {pathspec} successful=True x=42" in done.stdout
    assert "[exit_hook] Hook 'broken_hook' failed with error: RuntimeError: this hook is broken" in done.stdout
    assert done.stdout.count("[exit_hook] Hook") == 1


def test_a_successful_run_calls_its_success_hooks_once_and_still_succeeds(stack, api):
    run_id = api.trigger(FLOW, {})["run_id"]
    assert wait_for_run(api, FLOW, run_id)["status"] == "SUCCEEDED"
    record = hooks_of(stack, run_id)
    assert record["successful"] is True
    (report, broken) = record["hooks"]
    assert report == {"name": "report_success", "ok": True, "error": None,
                      "output": f"success hook: {FLOW}/{run_id} successful=True x=42\n"}
    assert broken["name"] == "broken_hook" and broken["ok"] is False
    assert broken["error"] == "RuntimeError: this hook is broken"


def test_a_failed_run_calls_its_error_hooks_once_and_still_fails_with_the_steps_error(stack, api):
    run_id = api.trigger(FLOW, {"fail": True})["run_id"]
    status = wait_for_run(api, FLOW, run_id)
    assert status["status"] == "FAILED", status
    # The end step's task failed into the hook path's Catch; the run's status still says which step failed.
    assert status["steps"] == {"start": "SUCCEEDED", "end": "FAILED"}
    assert status["step_counts"]["end"] == {"succeeded": 0, "failed": 1, "running": 0, "aborted": 0}
    record = hooks_of(stack, run_id)
    assert record["successful"] is False
    assert [(h["name"], h["ok"]) for h in record["hooks"]] == [("broken_hook", False), ("report_error", True)]
    assert record["hooks"][1]["output"] == f"error hook: {FLOW}/{run_id} successful=False\n"
    described = execution(stack, run_id)
    assert described["status"] == "FAILED"
    # The Fail state repeats the caught error of the end step's task, not an error of the hook path.
    # The Fail state after the hook task: the run's own error, the end step's task failure, in its cause.
    assert described["error"] == "flowdrop.RunFailed", described
    assert described["cause"].startswith("States.TaskFailed: ") and "ExitHookFlow-end" in described["cause"]


def test_on_workers_a_failed_run_calls_its_error_hooks_too(stack, api):
    # moto drops a worker's failure cause (EMULATOR.md): the failure path's Fail state without a cause.
    run_id = api.trigger(WORKER_MACHINE, {"fail": True})["run_id"]
    status = wait_for_run(api, WORKER_MACHINE, run_id)
    assert (status["status"], status["steps"]) == ("FAILED", {"start": "SUCCEEDED", "end": "FAILED"}), status
    record = hooks_of(stack, run_id)
    assert [(h["name"], h["ok"]) for h in record["hooks"]] == [("broken_hook", False), ("report_error", True)]
    described = execution(stack, run_id, WORKER_MACHINE)
    assert described["error"] == "flowdrop.RunFailed" and described["cause"].startswith("TaskFailed"), described
