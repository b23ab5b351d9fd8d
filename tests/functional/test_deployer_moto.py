"""The deployer's SQS edge and services on the moto server: partial batch failures, what "newer" means, refusals."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Couldn.t determine the remaining time")

from flowdrop.deployer.clients import Clients  # noqa: E402
from flowdrop.deployer.deploy import deploy_package  # noqa: E402
from flowdrop.deployer.plan import PublishVersion  # noqa: E402
from flowdrop.deployer.publish import execute_plan  # noqa: E402
from flowdrop.deployer.sqs_events import handle_package_batch  # noqa: E402
from flowdrop.errors import DefinitionRejectedError  # noqa: E402
from tests.helpers.deployer import (  # noqa: E402
    EXAMPLES,
    SHA,
    T0,
    DeployerStack,
    make_stack,
    notification,
    sqs_event,
)


# -- the SQS edge against moto ---------------------------------------------------------------------


def test_an_aws_failure_fails_only_its_message(aws, unique_name):
    stack = make_stack(aws, unique_name)
    package = stack.package(EXAMPLES / "parameter_flow.py")
    stack.upload(package.key, package.data)
    good = {"messageId": "good", "body": json.dumps({"Records": [notification(package.key, etag="1")]})}
    gone = {"messageId": "gone", "body": json.dumps({"Records": [notification(f"packages/X/{SHA}.tar.gz")]})}
    test_event = {"messageId": "test", "body": json.dumps({"Event": "s3:TestEvent"})}
    records = [dict(r, receiptHandle="h", attributes={}, messageAttributes={}, md5OfBody="", eventSource="aws:sqs",
                    eventSourceARN="arn:aws:sqs:us-east-1:123456789012:q", awsRegion="us-east-1")
               for r in (good, gone, test_event)]
    for record in records:
        record["body"] = record["body"].replace('"name": "b"', f'"name": "{stack.bucket}"')
    clock = lambda: datetime(2026, 11, 25, 12, tzinfo=timezone.utc)  # noqa: E731
    # A missing table is an AWS error: the message fails and will be retried.
    broken = replace(stack.settings, deployments_table="no-such-table")
    assert handle_package_batch(sqs_event([records[0], records[2]]), stack.clients, broken, clock) == {
        "batchItemFailures": [{"itemIdentifier": "good"}]}
    # The retry succeeds (the failed attempt left no idempotency record); a missing object is FAILED, not retried.
    assert handle_package_batch(sqs_event(records), stack.clients, stack.settings, clock) == {"batchItemFailures": []}
    assert stack.store.get_record(package.flow, package.sha).status == "ACCEPTED"
    assert stack.store.get_record("X", SHA).status == "FAILED"
    assert "no longer exists" in stack.store.get_record("X", SHA).message


# -- what "newer" means, and refusals, against moto -------------------------------------------------

PARAMETER_FLOW = (EXAMPLES / "parameter_flow.py").read_text()
NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


def variant(n: int) -> str:
    """The parameter flow with different code (so a different package and definition)."""
    return PARAMETER_FLOW.replace("alpha is still", f"alpha is still ({n})")


def next_second() -> None:
    """Wait until the wall clock enters a new second: S3's LastModified has one-second resolution."""
    time.sleep(1.05 - time.time() % 1)


def deploy(stack: DeployerStack, package, clients: Clients | None = None):
    return deploy_package(stack.bucket, package.key, clients or stack.clients, stack.settings, NOW)


def alias_version(stack: DeployerStack) -> int:
    routing = stack.clients.sfn.describe_state_machine_alias(
        stateMachineAliasArn=stack.machine_arn("ParameterFlow") + ":production")["routingConfiguration"]
    return int(routing[0]["stateMachineVersionArn"].rsplit(":", 1)[1])


def test_a_slow_uploader_clock_does_not_supersede_the_newest_upload(aws, unique_name):
    stack = make_stack(aws, unique_name)
    first = stack.package(variant(1), file_name="parameter_flow.py", created=T0 + timedelta(hours=1))
    stack.upload(first.key, first.data)
    assert deploy(stack, first).status == "ACCEPTED"
    next_second()
    # Another laptop, its clock five minutes slow, uploads after the first one.
    second = stack.package(variant(2), file_name="parameter_flow.py", created=T0 + timedelta(minutes=55))
    stack.upload(second.key, second.data)
    record = deploy(stack, second)
    assert (record.status, record.version) == ("ACCEPTED", 2), record
    assert record.created == second.manifest["created"]  # shown as the uploader wrote it
    assert alias_version(stack) == 2


def test_a_late_notification_of_an_older_upload_never_moves_production(aws, unique_name):
    stack = make_stack(aws, unique_name)
    # Uploaded first, though its manifest claims a later time; its notification arrives last.
    older = stack.package(variant(1), file_name="parameter_flow.py", created=T0 + timedelta(hours=2))
    stack.upload(older.key, older.data)
    next_second()
    newer = stack.package(variant(2), file_name="parameter_flow.py", created=T0 + timedelta(hours=1))
    stack.upload(newer.key, newer.data)
    assert deploy(stack, newer).status == "ACCEPTED"
    late = deploy(stack, older)
    assert late.status == "SUPERSEDED", late
    assert "is older than the newest accepted upload" in late.message and "production stays on version 1" in late.message
    assert alias_version(stack) == 1


def test_a_manifest_from_the_future_is_failed_and_blocks_nothing(aws, unique_name):
    stack = make_stack(aws, unique_name)
    good = stack.package(variant(1), file_name="parameter_flow.py")
    stack.upload(good.key, good.data)
    assert deploy(stack, good).status == "ACCEPTED"
    future = stack.package(variant(2), file_name="parameter_flow.py", created=datetime(2999, 1, 1, tzinfo=timezone.utc))
    stack.upload(future.key, future.data)
    record = deploy(stack, future)
    assert record.status == "FAILED"
    assert re.search(r"manifest.json: created 2999-01-01T00:00:00\+00:00 is \d+ days after the package reached S3 "
                     r"\(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\); the uploading machine's clock is wrong", record.message)
    assert alias_version(stack) == 1
    next_second()
    later = stack.package(variant(3), file_name="parameter_flow.py", created=T0 + timedelta(hours=3))
    stack.upload(later.key, later.data)
    assert (deploy(stack, later).status, alias_version(stack)) == ("ACCEPTED", 2)


class RefusingStepFunctions:
    """The real Step Functions client, except that it refuses every definition as AWS does (InvalidDefinition)."""

    def __init__(self, real, code: str = "InvalidDefinition"):
        self._real = real
        self._code = code

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def _refuse(self, operation: str, **_: object):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": self._code, "Message": "Invalid State Machine Definition: "
                                     "'SCHEMA_VALIDATION_FAILED at /States'"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)

    def create_state_machine(self, **kwargs: object):
        self._refuse("CreateStateMachine", **kwargs)

    def update_state_machine(self, **kwargs: object):
        self._refuse("UpdateStateMachine", **kwargs)


@pytest.mark.parametrize("code", ["InvalidDefinition", "ValidationException"])
def test_a_definition_step_functions_refuses_is_failed_not_retried(aws, unique_name, code):
    stack = make_stack(aws, unique_name)
    refusing = replace(stack.clients, sfn=RefusingStepFunctions(stack.clients.sfn, code))
    first = stack.package(variant(1), file_name="parameter_flow.py")
    stack.upload(first.key, first.data)
    record = deploy(stack, first, refusing)  # CreateStateMachine refused
    assert record.status == "FAILED"
    assert record.message.startswith(f"Step Functions CreateStateMachine on {first.flow} refused the compiled "
                                     f"definition, so nothing was published: An error occurred ({code})")
    assert stack.store.get_record(first.flow, first.sha) == record
    assert stack.store.production(first.flow) is None
    assert deploy(stack, first).status == "ACCEPTED"  # the same package, once AWS takes it
    next_second()
    second = stack.package(variant(2), file_name="parameter_flow.py", created=T0 + timedelta(hours=1))
    stack.upload(second.key, second.data)
    record = deploy(stack, second, refusing)  # UpdateStateMachine refused
    assert record.status == "FAILED" and "Step Functions UpdateStateMachine on arn:aws:states:" in record.message
    assert stack.store.production(first.flow).release.version == 1 and alias_version(stack) == 1


def test_moto_refuses_a_bad_definition_with_an_empty_code_and_it_is_a_rejection(aws, unique_name):
    # EMULATOR.md: moto answers a definition it cannot parse with error code "" (HTTP 400), not InvalidDefinition.
    stack = make_stack(aws, unique_name)
    action = PublishVersion(stack.machine_arn("Bad"), stack.machine("Bad"), '{"StartAt": "x", "States": {}}',
                            stack.settings.state_machine_role_arn, "code x", create=True)
    with pytest.raises(DefinitionRejectedError, match="Step Functions CreateStateMachine on .* refused the compiled "
                                                      "definition, so nothing was published: .*ASLParserException"):
        execute_plan((action,), stack.clients, stack.store)


def test_an_unexpected_error_while_checking_is_recorded_failed(aws, unique_name, monkeypatch):
    import flowdrop.deployer.deploy as deploy_module

    def broken_check(*args: object, **kwargs: object):
        raise RuntimeError("the checker tripped")

    stack = make_stack(aws, unique_name)
    package = stack.package(variant(1), file_name="parameter_flow.py")
    stack.upload(package.key, package.data)
    monkeypatch.setattr(deploy_module, "check_package", broken_check)
    record = deploy(stack, package)
    assert record.status == "FAILED"
    assert record.message == (f"package s3://{stack.bucket}/{package.key}: the deployer could not check it "
                              "(RuntimeError: the checker tripped); nothing was deployed. This is a flowdrop bug: "
                              "please report it with the package.")
    assert stack.store.get_record(package.flow, package.sha) == record
    assert stack.store.production(package.flow) is None
