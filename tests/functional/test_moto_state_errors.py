"""A foreach (Map) or branch (Parallel) whose task fails with a `States.*` error fails with that error.

On AWS a failed iteration's or branch's error and cause reach the Map or
Parallel state as they are: `States.TaskFailed` with the job's description
from a Batch job that exited non-zero, `States.Timeout` from a task that
timed out. moto 5.2.5 lost both (the execution failed with `States.Runtime`,
"Custom Error Names MUST NOT begin with the prefix 'States.'", and a Catch on
`States.TaskFailed` did not match); local/moto/state_errors.py mends it.
Against the session's moto server over HTTP (through local/moto/main.py),
plus a canary on stock moto's class.
"""

from __future__ import annotations

import json
import sys
import time

import pytest

from tests.functional.test_moto_batch_jobs import _queue_and_definition

ROLE = "arn:aws:iam::123456789012:role/flowdrop-test"


def _inside(kind: str, task: dict) -> dict:
    inner = {"StartAt": "T", "States": {"T": {**task, "End": True}}}
    if kind == "map":
        processor = {**inner, "ProcessorConfig": {"Mode": "INLINE"}}
        return {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor}
    return {"Type": "Parallel", "Branches": [inner, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}]}


def _run(aws, name: str, state: dict, catch: str | None = None) -> dict:
    sfn = aws.client("stepfunctions")
    if catch:
        states = {"S": {**state, "Catch": [{"ErrorEquals": [catch], "ResultPath": "$.caught", "Next": "C"}],
                        "Next": "C"},
                  "C": {"Type": "Pass", "End": True}}
    else:
        states = {"S": {**state, "End": True}}
    arn = sfn.create_state_machine(name=name, definition=json.dumps({"StartAt": "S", "States": states}),
                                   roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2]}))["executionArn"]
    for _ in range(600):
        desc = sfn.describe_execution(executionArn=execution)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.05)
    raise AssertionError(f"{execution} still RUNNING after 30 s")


@pytest.fixture(scope="module")
def failing_job(aws) -> dict:
    """A Batch task whose job writes to stderr and exits 3."""
    queue, definition = _queue_and_definition(
        aws, [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], {})
    return {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
            "Parameters": {"JobName": "fails", "JobQueue": queue, "JobDefinition": definition}}


@pytest.mark.parametrize("kind", ["map", "parallel"])
def test_a_failed_batch_job_fails_the_state_with_states_task_failed_and_the_jobs_cause(
        aws, unique_name, failing_job, kind):
    desc = _run(aws, unique_name, _inside(kind, failing_job))

    assert desc["status"] == "FAILED"
    assert desc["error"] == "States.TaskFailed", (desc["error"], desc["cause"])
    assert "Custom Error Names" not in desc["cause"]
    job = json.loads(desc["cause"])  # the job's description, in Step Functions' PascalCase as on AWS
    assert (job["Status"], job["Container"]["ExitCode"]) == ("FAILED", 3)


@pytest.mark.parametrize("kind", ["map", "parallel"])
def test_a_catch_on_states_task_failed_catches_a_failed_job_inside(aws, unique_name, failing_job, kind):
    desc = _run(aws, unique_name, _inside(kind, failing_job), catch="States.TaskFailed")

    assert desc["status"] == "SUCCEEDED", (desc.get("error"), desc.get("cause"))
    assert json.loads(desc["output"])["caught"]["Error"] == "States.TaskFailed"


def test_a_task_that_times_out_in_a_foreach_fails_it_with_states_timeout(aws, unique_name):
    queue = aws.client("sqs").create_queue(QueueName=unique_name)["QueueUrl"]
    task = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "TimeoutSeconds": 1,
            "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}}

    desc = _run(aws, unique_name, _inside("map", task))

    assert (desc["status"], desc["error"]) == ("FAILED", "States.Timeout"), (desc.get("error"), desc.get("cause"))


def test_a_custom_error_inside_is_unchanged(aws, unique_name):
    desc = _run(aws, unique_name, _inside("map", {"Type": "Fail", "Error": "flowdrop.TaskFailed", "Cause": "why"}))

    assert (desc["status"], desc["error"]) == ("FAILED", "flowdrop.TaskFailed")
    assert "why" in desc["cause"]


def test_canary_stock_moto_still_refuses_a_states_error_name():
    # When this fails, moto takes the reserved names there itself and state_errors.py can go.
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName

    with pytest.raises(ValueError, match="MUST NOT begin with the prefix 'States.'"):
        CustomErrorName(error_name="States.TaskFailed")
