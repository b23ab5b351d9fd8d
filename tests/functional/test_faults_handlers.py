"""Faults injected for real into the deploy and scheduled handlers: each runs as a process, killed at an AWS call.

A proxy in front of moto (tests/helpers/faults.py) SIGKILLs the handler's
process at an exact call, as a Lambda dies when its sandbox is torn down
(timeout, out of memory, a host failure). Then the same event is delivered
again, as SQS (deploy) or EventBridge Scheduler (scheduled) would.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from flowdrop.deployer.sqs_events import handle_package_batch
from flowdrop.local.app_host import lambda_context
from tests.helpers.deployer import EXAMPLES, DeployerStack, make_stack, notification, sqs_event
from tests.helpers.faults import CallKiller, aws_target, run_handler

pytestmark = pytest.mark.filterwarnings("ignore:Couldn.t determine the remaining time")

PARAMETER_FLOW = (EXAMPLES / "parameter_flow.py").read_text()


def variant(n: int) -> str:
    return PARAMETER_FLOW.replace("alpha is still", f"alpha is still ({n})")


def now() -> datetime:
    return datetime.now(timezone.utc)


def delivery(stack: DeployerStack, key: str, message_id: str) -> dict:
    """The SQS event the deploy Lambda gets for one upload of `key` (the same each time it is redelivered)."""
    body = json.dumps({"Records": [notification(key, etag=message_id)]}).replace('"name": "b"',
                                                                                  f'"name": "{stack.bucket}"')
    return sqs_event([{"messageId": message_id, "receiptHandle": "h", "body": body, "attributes": {},
                       "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                       "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}])


def alias_target(stack: DeployerStack, flow: str) -> str:
    routing = stack.clients.sfn.describe_state_machine_alias(
        stateMachineAliasArn=stack.machine_arn(flow) + ":production")["routingConfiguration"]
    return routing[0]["stateMachineVersionArn"]


def version_exists(stack: DeployerStack, flow: str, version: int) -> bool:
    try:
        stack.clients.sfn.describe_state_machine(stateMachineArn=f"{stack.machine_arn(flow)}:{version}")
        return True
    except stack.clients.sfn.exceptions.ClientError:
        return False


def redeliver(stack: DeployerStack, event: dict, attempts: int = 40) -> int:
    """Deliver `event` again until the deploy handler reports no failure, as SQS does; how many deliveries it took.

    A delivery while the killed invocation's idempotency record is still in
    progress fails (Powertools waits out the dead Lambda's remaining time);
    SQS delivers it again after the visibility timeout.
    """
    for attempt in range(1, attempts + 1):
        try:
            answer = handle_package_batch(event, stack.clients, stack.settings, now, lambda_context("deploy", 60))
        except BatchProcessingError:  # every message of the batch failed: the whole batch comes back
            answer = None
        if answer == {"batchItemFailures": []}:
            return attempt
        time.sleep(0.5)
    raise AssertionError(f"the deploy handler still fails after {attempts} deliveries")


@pytest.mark.parametrize("kill", [
    # moto published version 2, the handler never heard the version's ARN
    ("UpdateStateMachine", "", "after"),
    # version 2 published, not yet recorded
    ("PutItem", "version#000002", "before"),
    # version 2 recorded, production not claimed
    ("PutItem", "newest_uploaded <=", "before"),
    # version 2 recorded and claimed as production; the alias not moved yet
    ("UpdateStateMachineAlias", "", "before"),
], ids=["after-publish", "before-record", "before-claim", "before-alias"])
def test_a_deploy_killed_between_publish_and_alias_is_finished_by_the_redelivery(aws, unique_name, kill):
    stack = make_stack(aws, unique_name)
    first = stack.package(variant(1), file_name="parameter_flow.py")
    stack.upload(first.key, first.data)
    assert handle_package_batch(delivery(stack, first.key, "m1"), stack.clients, stack.settings, now) == {
        "batchItemFailures": []}
    v1 = alias_target(stack, "ParameterFlow")
    assert v1.endswith(":1")

    second = stack.package(variant(2), file_name="parameter_flow.py")
    stack.upload(second.key, second.data)
    event = delivery(stack, second.key, "m2")
    operation, body_has, when = kill
    killer = CallKiller(aws.endpoint_url, aws_target(operation, body_has), when=when)
    try:
        died = run_handler("deploy", stack.env, event, endpoint=killer.url, killer=killer, lambda_timeout=2)
    finally:
        killer.stop()
    assert died.returncode == -9 and killer.killed_at, (died.returncode, killer.calls, died.stderr[-2000:])
    # Until the deploy is finished, production runs the old version.
    assert alias_target(stack, "ParameterFlow") == v1
    assert version_exists(stack, "ParameterFlow", 2) == (operation != "UpdateStateMachine" or when == "after")

    redeliver(stack, event)
    record = stack.store.get_record(second.flow, second.sha)
    assert (record.status, record.version) == ("ACCEPTED", 2), record
    assert alias_target(stack, "ParameterFlow").endswith(":2")
    assert not version_exists(stack, "ParameterFlow", 3), "the redelivery published the same code a second time"
    assert stack.store.production(second.flow).release.version == 2
    assert [r.version for r in stack.store.releases(second.flow)] == [1, 2]


def test_a_scheduled_handler_killed_after_start_execution_starts_nothing_new_on_retry(aws, unique_name):
    stack = make_stack(aws, unique_name)
    package = stack.package(EXAMPLES / "hourly_flow.py")
    stack.upload(package.key, package.data)
    assert handle_package_batch(delivery(stack, package.key, "m1"), stack.clients, stack.settings, now) == {
        "batchItemFailures": []}
    tick = {"flow": package.flow, "scheduled_time": "2026-11-25T10:00:00Z", "attempt": "1"}
    killer = CallKiller(aws.endpoint_url, aws_target("StartExecution"), when="after")
    try:
        died = run_handler("scheduled", stack.env, tick, endpoint=killer.url, killer=killer)
    finally:
        killer.stop()
    assert died.returncode == -9 and killer.killed_at, (died.returncode, killer.calls, died.stderr[-2000:])
    started = stack.clients.sfn.list_executions(stateMachineArn=stack.machine_arn("HourlyFlow"))["executions"]
    assert [e["name"] for e in started] == ["sched-20261125T1000Z"]

    # Scheduler retries the invocation (attempt 2): the tick's run exists, nothing new starts.
    retried = run_handler("scheduled", stack.env, {**tick, "attempt": "2"}, endpoint=aws.endpoint_url)
    assert retried.returncode == 0, retried.stderr[-2000:]
    answer = json.loads(retried.stdout.strip().splitlines()[-1])
    assert (answer["outcome"], answer["run_id"]) == ("existing", "sfn-sched-20261125T1000Z"), answer
    again = stack.clients.sfn.list_executions(stateMachineArn=stack.machine_arn("HourlyFlow"))["executions"]
    assert [e["executionArn"] for e in again] == [e["executionArn"] for e in started]
    stack.clients.sfn.stop_execution(executionArn=started[0]["executionArn"])


def test_a_scheduled_handler_killed_while_taking_a_queued_tick_loses_no_tick(aws, unique_name):
    from flowdrop.cli.uploader import DeployOptions

    stack = make_stack(aws, unique_name)
    package = stack.package(EXAMPLES / "hourly_flow.py", options=DeployOptions(backend="worker",
                                                                                 schedule_overlap="queue"))
    stack.upload(package.key, package.data)
    assert handle_package_batch(delivery(stack, package.key, "m1"), stack.clients, stack.settings, now) == {
        "batchItemFailures": []}
    # The 10:00 tick waited for a run that has since ended; the 11:00 tick's invocation takes it off the queue.
    stack.store.queue_tick(package.flow, "2026-11-25T10:00:00Z")
    tick = {"flow": package.flow, "scheduled_time": "2026-11-25T11:00:00Z", "attempt": "1"}
    killer = CallKiller(aws.endpoint_url, aws_target("DeleteItem", "queued#"), when="after")
    try:
        died = run_handler("scheduled", stack.env, tick, endpoint=killer.url, killer=killer)
    finally:
        killer.stop()
    assert died.returncode == -9 and killer.killed_at, (died.returncode, killer.calls, died.stderr[-2000:])

    retried = run_handler("scheduled", stack.env, {**tick, "attempt": "2"}, endpoint=aws.endpoint_url)
    assert retried.returncode == 0, retried.stderr[-2000:]
    started = stack.clients.sfn.list_executions(stateMachineArn=stack.machine_arn("HourlyFlow"))["executions"]
    # The queued tick ran (its run started before it left the queue); 11:00 waits behind it.
    assert [e["name"] for e in started] == ["sched-20261125T1000Z"]
    assert stack.store.queued_ticks(package.flow) == ["2026-11-25T11:00:00Z"]
    answer = json.loads(retried.stdout.strip().splitlines()[-1])
    assert answer["outcome"] == "queued", answer
    for execution in started:
        stack.clients.sfn.stop_execution(executionArn=execution["executionArn"])


def test_a_first_deploy_killed_after_creating_the_state_machine_is_finished_by_the_redelivery(aws, unique_name):
    stack = make_stack(aws, unique_name)
    first = stack.package(variant(1), file_name="parameter_flow.py")
    stack.upload(first.key, first.data)
    event = delivery(stack, first.key, "m1")
    killer = CallKiller(aws.endpoint_url, aws_target("CreateStateMachine"), when="after")
    try:
        died = run_handler("deploy", stack.env, event, endpoint=killer.url, killer=killer, lambda_timeout=2)
    finally:
        killer.stop()
    assert died.returncode == -9 and killer.killed_at, (died.returncode, killer.calls, died.stderr[-2000:])
    assert version_exists(stack, "ParameterFlow", 1) and stack.store.production(first.flow) is None

    redeliver(stack, event)
    record = stack.store.get_record(first.flow, first.sha)
    assert (record.status, record.version) == ("ACCEPTED", 1), record
    assert alias_target(stack, "ParameterFlow").endswith(":1")
    assert not version_exists(stack, "ParameterFlow", 2)
