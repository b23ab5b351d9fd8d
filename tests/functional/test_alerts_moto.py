"""deployer/alerts.py against moto: status events -> one alert per run end, SNS and webhook, queued ticks drained.

Executions really run in moto: the worker task's token is answered here as a
worker would (failure or success), and the task's attempt record is written
to the S3 datastore as the task runner writes it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from flowdrop.datastore.flow import FlowDatastore
from flowdrop.datastore.s3 import S3Storage
from flowdrop.deployer import alerts
from flowdrop.deployer.alerts import STATUS_CHANGE, handle_status_batch
from flowdrop.deployer.clients import AWS_ERRORS
from flowdrop.deployer.deploy import deploy_package
from flowdrop.deployer.trigger import start_execution
from flowdrop.cli.uploader import DeployOptions
from flowdrop.model import names
from tests.helpers.deployer import DeployerStack, sqs_event, stack  # noqa: F401  (fixture)
from tests.helpers.webhook import WebhookReceiver, webhook_receiver

NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)
FLOW = '''\
from flowdrop import FlowSpec, step


class AlertFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''
TRACEBACK = ('Traceback (most recent call last):\n  File "alert_flow.py", line 7, in start\n    load()\n'
             'ValueError: no rows in input.csv\n')


def deploy(stack: DeployerStack, on_error: tuple[str, ...] = (), on_success: tuple[str, ...] = ()) -> str:
    options = DeployOptions(backend="worker", notify_on_error=on_error, notify_on_success=on_success)
    package = stack.package(FLOW, file_name="alert_flow.py", options=options)
    stack.upload(package.key, package.data)
    record = deploy_package(stack.bucket, package.key, stack.clients, stack.settings, NOW)
    assert record.status == "ACCEPTED", record
    return package.flow


def run_to_end(stack: DeployerStack, flow: str, name: str, fail: bool) -> str:
    """Start a run, answer its tasks as a worker would (failing the first if `fail`), wait until it ends; its ARN."""
    base = names.state_machine_arn("aws", "us-east-1", "123456789012", flow)
    started = start_execution(stack.clients, flow, base, name, json.dumps({"Parameters": "{}"}))
    sfn, sqs = stack.clients.sfn, stack.settings.aws.client("sqs")
    queue = stack.settings.backend.worker_queue_url
    answered: dict[str, tuple[dict[str, Any], float]] = {}
    deadline = time.monotonic() + 180  # generous: the machine is shared
    while time.monotonic() < deadline:
        if sfn.describe_execution(executionArn=started.execution_arn)["status"] != "RUNNING":
            return started.execution_arn
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            payload = body["payload"]
            if fail:
                write_failed_attempt(stack, payload["run_id"], payload["step"], payload.get("task_id") or "start")
            answered[body["task_token"]] = (body, 0.0)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        for token, (body, when) in list(answered.items()):
            # Answer each task, and again if the run has not moved on a few seconds later: under load,
            # moto can take an answer before its task waits for it, and then waits for ever.
            if not messages and time.monotonic() - when > 5:
                _answer(sfn, token, fail)
                answered[token] = (body, time.monotonic())
    raise AssertionError(f"{started.execution_arn} did not end")


def _answer(sfn: Any, token: str, fail: bool) -> None:
    try:
        if fail:
            sfn.send_task_failure(taskToken=token, error="flowdrop.TaskFailed",
                                  cause="step 'start' failed: ValueError: no rows in input.csv")
        else:
            sfn.send_task_success(taskToken=token, output=json.dumps({"ok": True}))
    except AWS_ERRORS:
        pass  # the task already took an earlier answer


def write_failed_attempt(stack: DeployerStack, run_id: str, step: str, task_id: str, attempt: int = 0,
                         message: str = "no rows in input.csv", finished: str = "2026-11-25T12:00:00Z") -> None:
    datastore = FlowDatastore(S3Storage(stack.clients.s3, stack.bucket, "data"), "AlertFlow")
    datastore.write_attempt(run_id, step, task_id, attempt, {
        "status": "failed", "finished": finished, "exception": TRACEBACK.replace("no rows in input.csv", message),
        "exception_type": "ValueError", "exception_class": "builtins.ValueError", "exception_message": message})


def status_event(stack: DeployerStack, execution_arn: str) -> dict[str, Any]:
    """The SQS event EventBridge's rule delivers for this execution's current status."""
    execution = stack.clients.sfn.describe_execution(executionArn=execution_arn)
    detail = {key: execution.get(key) for key in ("executionArn", "stateMachineArn", "name", "status", "error",
                                                  "cause")}
    envelope = {"version": "0", "id": "e1", "detail-type": STATUS_CHANGE, "source": "aws.states",
                "account": "123456789012", "region": "us-east-1", "resources": [execution_arn], "detail": detail}
    return record_event(envelope)


def record_event(body: dict[str, Any], message_id: str = "m1") -> dict[str, Any]:
    return sqs_event([{"messageId": message_id, "receiptHandle": "r", "body": json.dumps(body), "attributes": {},
                       "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                       "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:alerts", "awsRegion": "us-east-1"}])


@pytest.fixture
def hook():
    with webhook_receiver() as receiver:
        yield receiver


def test_a_failed_run_alerts_once_naming_step_and_exception(stack, hook: WebhookReceiver):
    flow = deploy(stack, on_error=(hook.url,))
    arn = run_to_end(stack, flow, "api-fails", fail=True)
    event = status_event(stack, arn)
    assert json.loads(event["Records"][0]["body"])["detail"]["status"] == "FAILED"
    assert handle_status_batch(event, stack.clients, stack.settings) == {"batchItemFailures": []}
    assert handle_status_batch(event, stack.clients, stack.settings) == {"batchItemFailures": []}  # redelivered
    assert len(hook.messages) == 1 and hook.paths == ["/hooks/flowdrop"]
    text = hook.messages[0]["text"]
    assert text.startswith("flowdrop: AlertFlow sfn-api-fails FAILED in step 'start'\n")
    assert "failed step: start (task start, attempt 0)" in text
    assert "exception: builtins.ValueError: no rows in input.csv" in text
    assert "  ValueError: no rows in input.csv\n" in text and "    load()" in text


def test_the_newest_failed_attempt_is_the_one_reported(stack, hook: WebhookReceiver):
    flow = deploy(stack, on_error=(hook.url,))
    arn = run_to_end(stack, flow, "api-retries", fail=True)
    # As @retry leaves it: an earlier attempt failed differently, a @catch-caught one is not a failure.
    write_failed_attempt(stack, "sfn-api-retries", "start", "start", 1, "the last try", "2026-11-25T12:05:00Z")
    datastore = FlowDatastore(S3Storage(stack.clients.s3, stack.bucket, "data"), "AlertFlow")
    datastore.write_attempt("sfn-api-retries", "start", "start", 2, {
        "status": "failed", "caught": True, "finished": "2026-11-25T12:09:00Z", "exception": "caught"})
    assert handle_status_batch(status_event(stack, arn), stack.clients, stack.settings) == {"batchItemFailures": []}
    text = hook.wait_for(1)[0]["text"]
    assert "failed step: start (task start, attempt 1)" in text
    assert "exception: builtins.ValueError: the last try" in text and "no rows" not in text


def test_a_succeeded_run_alerts_only_when_asked(stack, hook: WebhookReceiver):
    flow = deploy(stack, on_error=(hook.url,))
    arn = run_to_end(stack, flow, "api-works", fail=False)
    execution = stack.clients.sfn.describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    assert handle_status_batch(status_event(stack, arn), stack.clients, stack.settings) == {"batchItemFailures": []}
    assert hook.messages == [], hook.messages


def test_success_alerts_go_to_sns(stack, aws):
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name=f"{stack.name}-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName=f"{stack.name}-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    flow = deploy(stack, on_success=(topic,))
    arn = run_to_end(stack, flow, "api-good", fail=False)
    assert handle_status_batch(status_event(stack, arn), stack.clients, stack.settings) == {"batchItemFailures": []}
    got = sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", [])
    assert len(got) == 1
    envelope = json.loads(got[0]["Body"])  # the SNS JSON envelope
    assert envelope["Subject"] == "flowdrop: AlertFlow sfn-api-good SUCCEEDED"
    assert "run: sfn-api-good\nstatus: SUCCEEDED\n" in envelope["Message"]


def test_a_failed_delivery_fails_the_message_and_the_redelivery_sends_it(stack, hook: WebhookReceiver):
    flow = deploy(stack, on_error=(hook.url,))
    arn = run_to_end(stack, flow, "api-retried", fail=True)
    event = status_event(stack, arn)
    hook.fail_next(1)
    assert handle_status_batch(event, stack.clients, stack.settings) == {"batchItemFailures": [
        {"itemIdentifier": "m1"}]}
    assert hook.messages == []
    assert handle_status_batch(event, stack.clients, stack.settings) == {"batchItemFailures": []}
    assert handle_status_batch(event, stack.clients, stack.settings) == {"batchItemFailures": []}
    assert len(hook.messages) == 1


def test_other_events_and_unknown_flows_send_nothing(stack, hook: WebhookReceiver):
    deploy(stack, on_error=(hook.url,))
    unknown = {"detail-type": STATUS_CHANGE, "source": "aws.states", "detail": {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:NotOurs:x", "status": "FAILED"}}
    for body in (unknown, {"detail-type": "Object Created", "detail": {}}, {"no": "detail"}):
        assert handle_status_batch(record_event(body), stack.clients, stack.settings) == {"batchItemFailures": []}
    raw = sqs_event([{**record_event({})["Records"][0], "body": "not json"}])
    assert handle_status_batch(raw, stack.clients, stack.settings) == {"batchItemFailures": []}
    assert hook.messages == []


def test_a_scheduled_run_ending_starts_the_queued_tick(stack):
    flow = deploy(stack)
    tick = datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)
    stack.store.queue_tick(flow, "2026-11-25T11:00:00Z")
    ended = run_to_end(stack, flow, names.scheduled_execution_name(datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)),
                       fail=False)
    assert handle_status_batch(status_event(stack, ended), stack.clients, stack.settings) == {"batchItemFailures": []}
    assert stack.store.queued_ticks(flow) == []
    queued = names.execution_arn(stack.machine_arn("AlertFlow"), names.scheduled_execution_name(tick))
    assert stack.clients.sfn.describe_execution(executionArn=queued)["name"] == "sched-20261125T1100Z"


def test_status_change_parsing():
    arn = "arn:aws:states:us-east-1:123456789012:execution:prod.EtlFlow:sched-20261125T1000Z"
    change = alerts.StatusChange.from_event({"detail-type": STATUS_CHANGE, "detail": {
        "executionArn": arn, "status": "TIMED_OUT", "error": "States.Timeout", "cause": None}})
    assert change == alerts.StatusChange(arn, "prod.EtlFlow", "sched-20261125T1000Z", "TIMED_OUT", "States.Timeout", "")
    assert change.run_id == "sfn-sched-20261125T1000Z"
    assert alerts.StatusChange.from_event({"detail-type": STATUS_CHANGE, "detail": {"executionArn": "x"}}) is None
