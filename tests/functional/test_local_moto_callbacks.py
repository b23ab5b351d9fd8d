"""local/moto/callbacks.py: AWS's default task timeout, a fresh token per retried attempt; with canaries.

The test plays the worker by hand against the session's (patched) moto
server; the canary runs the same story on a stock moto server and checks
that moto still reuses the token, so the patch can go once it does not.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time

import pytest

from flowdrop.aws import AwsConfig
from flowdrop.local.moto import callbacks
from flowdrop.local.moto.server import MotoServer, free_port

ROLE = "arn:aws:iam::123456789012:role/flowdrop-test"


def _machine(queue_url: str) -> dict:
    return {"StartAt": "work", "States": {"work": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
        "HeartbeatSeconds": 30,
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1, "BackoffRate": 1.0}],
        "End": True}}}


def _take_token(sqs, queue_url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            return json.loads(message["Body"])["token"]
    raise AssertionError("no task message")


def _retry_story(aws: AwsConfig, name: str, wait: float = 20.0) -> tuple[str, str, str]:
    """Fail the first attempt, heartbeat the second, then succeed it: (token 1, token 2, final status)."""
    sqs, sfn = aws.client("sqs"), aws.client("stepfunctions")
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sfn.create_state_machine(name=name, definition=json.dumps(_machine(queue_url)), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="run", input="{}")["executionArn"]
    first = _take_token(sqs, queue_url)
    sfn.send_task_failure(taskToken=first, error="TaskFailed", cause="first attempt")
    second = _take_token(sqs, queue_url)
    try:
        sfn.send_task_heartbeat(taskToken=second)
        time.sleep(0.5)  # a stale outcome would fail the attempt on this heartbeat
        sfn.send_task_success(taskToken=second, output=json.dumps({"ok": True}))
    except sfn.exceptions.ClientError:
        pass
    deadline = time.monotonic() + wait
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return first, second, status


@pytest.mark.slow
def test_a_retried_callback_task_gets_a_new_token_and_waits_for_its_worker(aws, unique_name):
    first, second, status = _retry_story(aws, unique_name)
    assert first != second
    assert status == "SUCCEEDED"


@pytest.fixture(scope="module")
def stock_moto(tmp_path_factory):
    """moto's own server, without flowdrop's patches."""
    port = free_port()
    env = dict(os.environ, MOTO_PORT=str(port), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = MotoServer(port=port, process=process)
    import urllib.request

    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2).read()
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "stock moto did not start"
            time.sleep(0.1)
    request = urllib.request.Request(f"{server.endpoint_url}/moto-api/config", method="POST",
                                     data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    yield server
    server.stop()


@pytest.mark.slow
def test_canary_stock_moto_still_reuses_the_token_of_a_retried_callback_task(stock_moto, unique_name):
    first, second, status = _retry_story(AwsConfig(endpoint_url=stock_moto.endpoint_url), unique_name, wait=3.0)
    # When this fails, moto gives retries their own token: drop that patch from local/moto/callbacks.py.
    assert first == second
    assert status != "SUCCEEDED"


HEARTBEAT_ONLY = {"StartAt": "w", "States": {"w": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
    "HeartbeatSeconds": 30, "End": True}}}


def _task_timeout() -> int:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(json.dumps(HEARTBEAT_ONLY))
    return program.states.states["w"].timeout.timeout_seconds


def test_a_task_with_only_heartbeat_seconds_has_aws_default_timeout(monkeypatch):
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

    from flowdrop.local.moto import callbacks as moto_callbacks

    monkeypatch.setattr(ExecutionState, "from_state_props", moto_callbacks.from_state_props)
    assert _task_timeout() == 99999999


def test_canary_stock_moto_still_times_heartbeat_tasks_out_after_60_seconds(monkeypatch):
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

    from flowdrop.local.moto import callbacks as moto_callbacks

    monkeypatch.setattr(ExecutionState, "from_state_props", moto_callbacks.ORIGINAL_FROM_STATE_PROPS)
    # When this fails, moto uses AWS's default: drop that patch from local/moto/callbacks.py.
    assert _task_timeout() == 60


def test_stock_moto_still_leaves_a_stopped_execution_waiting_for_its_callbacks():
    # Canaries: when these fail, moto wakes waiting tasks on StopExecution and keeps a stopped
    # execution ABORTED itself, and those two patches can go.
    assert "callback" not in inspect.getsource(callbacks.ORIGINAL_STOP)
    assert "ProgramStopped" not in inspect.getsource(callbacks.ORIGINAL_SET_ERROR)
