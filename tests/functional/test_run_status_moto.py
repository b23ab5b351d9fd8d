"""run_status of a compiled nested_foreach_flow run (its Distributed Map's body) and step_tasks of a decorated_flow
run (attempts, exceptions, log tails, artifacts), end to end on the moto server and its TaskWorker."""

from __future__ import annotations

import pytest

from flowdrop.deployer.clients import Clients  # noqa: E402
from flowdrop.deployer.runs import run_status
from flowdrop.deployer.step_tasks import step_tasks
from flowdrop.errors import FlowNotFoundError, RequestError
from flowdrop.deployer.settings import DeployerSettings  # noqa: E402
from tests.helpers.compiler import NESTED_FOREACH_STEPS as STEPS
from tests.helpers.compiler import ROLE_ARN, execute, stack  # noqa: F401  (stack: the module's moto fixture)


@pytest.mark.slow
def test_run_status_of_a_nested_foreach_shows_the_distributed_body(stack):  # noqa: F811
    result, _, run = execute(stack, "nested_foreach_flow", {"Parameters": "{}"}, run="status-1")
    flow = result["stateMachineArn"].rsplit(":", 1)[1]
    settings = DeployerSettings(bucket=stack["name"], deployments_table="d", idempotency_table="i",
                                state_machine_role_arn=ROLE_ARN, scheduled_function_arn="f", aws=stack["aws"])
    answer = run_status(flow, run, Clients.from_config(stack["aws"]), settings)
    assert answer["status"] == "SUCCEEDED"
    assert answer["steps"] == dict.fromkeys(STEPS, "SUCCEEDED")
    assert list(answer["steps"]) == STEPS
    (map_run,) = answer["map_runs"]
    assert map_run["state"] == "start-map-wide" and map_run["executions"]["succeeded"] == 4
    # moto 5.2.5 keeps no child executions and answers ListExecutions by mapRunArn
    # with HTTP 500 (shared/EMULATOR.md): the body's states come from the map
    # run's counts, and the answer says so. Fails once moto lists children.
    assert answer["partial"] is True and map_run["histories_read"] == 0
    assert "ListExecutions" in " ".join(answer["partial_reasons"])


@pytest.mark.slow
def test_step_tasks_of_a_real_run_give_attempts_exceptions_logs_and_artifacts(stack):  # noqa: F811
    result, _, run = execute(stack, "decorated_flow", {"Parameters": "{}"}, run="tasks-1")
    flow = result["stateMachineArn"].rsplit(":", 1)[1]
    settings = DeployerSettings(bucket=stack["name"], deployments_table="d", idempotency_table="i",
                                state_machine_role_arn=ROLE_ARN, scheduled_function_arn="f", aws=stack["aws"])
    clients = Clients.from_config(stack["aws"])
    flaky = step_tasks(flow, run, "flaky", clients, settings)
    assert (flaky["run_id"], flaky["step"], flaky["task_count"]) == (run, "flaky", 1)
    (task,) = flaky["tasks"]
    assert task["task_id"] == "flaky" and task["status"] == "succeeded"
    assert [(a["attempt"], a["status"]) for a in task["attempts"]] == [(0, "failed"), (1, "failed"), (2, "succeeded")]
    assert task["attempts"][0]["exception_message"] == "transient failure on attempt 0"
    assert "exception_type" not in task["attempts"][2]
    # The exception shown is the latest failed attempt's, traceback and all.
    assert task["exception"]["exception_type"] == "RuntimeError"
    assert task["exception"]["exception_message"] == "transient failure on attempt 1"
    traceback = task["exception"]["exception"]
    assert "decorated_flow.py" in traceback and "line 17, in flaky" in traceback
    assert [a["name"] for a in task["artifacts"]] == ["attempts"] and task["artifacts"][0]["size"] > 0

    (risky,) = step_tasks(flow, run, "risky", clients, settings)["tasks"]
    assert risky["status"] == "caught" and risky["exception"]["exception_type"] == "ZeroDivisionError"
    assert "@catch caught an exception from step 'risky'" in risky["stderr"]

    (end,) = step_tasks(flow, run, "end", clients, settings)["tasks"]
    assert end["exception"] is None and end["stderr"] == ""
    assert end["stdout"].startswith("flaky took 3 attempts; risky failed with Traceback")
    assert end["stdout"].endswith("ZeroDivisionError: division by zero")  # the tail, its last line last
    sizes = {a["name"]: a["size"] for a in end["artifacts"]}
    assert list(sizes) == ["attempts", "risky_failure"] and sizes["risky_failure"] > sizes["attempts"] > 0
    assert not end["artifacts_truncated"]

    assert step_tasks(flow, run, "nope", clients, settings)["tasks"] == []
    with pytest.raises(RequestError, match="step name is invalid"):
        step_tasks(flow, run, "../end", clients, settings)
    with pytest.raises(FlowNotFoundError, match="sfn-nope"):
        step_tasks(flow, "sfn-nope", "end", clients, settings)
