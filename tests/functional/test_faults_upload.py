"""Faults injected into an upload: the uploader's connection cut mid-upload, and a partial package object.

The uploader's real S3 client talks to moto through a proxy that reads half
of the package PUT's body and drops the connection (tests/helpers/faults.py).
Cut once, boto3's retry lands the whole package and it deploys; cut every
time, the upload fails with a message that says nothing was deployed. A
package object that holds only part of the package (whatever wrote it) is
refused by the deployer. In no case does production move.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import unquote_plus

import pytest

from flowdrop.aws import AwsConfig
from flowdrop.cli.uploader import DeployOptions, upload_package
from flowdrop.deployer.sqs_events import handle_package_batch
from flowdrop.errors import DeployError
from tests.helpers.deployer import EXAMPLES, DeployerStack, make_stack, sqs_event
from tests.helpers.faults import CallKiller
from tests.helpers.runtime import load_flow
from tests.helpers.uploader import prepare, write

pytestmark = pytest.mark.filterwarnings("ignore:Couldn.t determine the remaining time")

PARAMETER_FLOW = (EXAMPLES / "parameter_flow.py").read_text()


def now() -> datetime:
    return datetime.now(timezone.utc)


def package_put(method: str, path: str, headers, body: bytes) -> bool:
    return method == "PUT" and "/packages/" in path


def prepared_variant(stack: DeployerStack, tmp_path, n: int):
    source = PARAMETER_FLOW.replace("alpha is still", f"alpha is still ({n})")
    flow = load_flow(write(tmp_path / f"v{n}", "parameter_flow.py", source)) + (tmp_path / f"v{n}" / "parameter_flow.py",)
    return prepare(flow, DeployOptions(name=stack.machine("ParameterFlow"), backend="worker"))


def deliver_queue(stack: DeployerStack) -> list[str]:
    """Hand what the deploy queue holds to the deploy handler, as Lambda's event source would; the keys notified."""
    records = stack.receive(wait=1)
    keys = [unquote_plus(r["s3"]["object"]["key"]) for m in records for r in json.loads(m["body"]).get("Records", [])]
    if records:
        assert handle_package_batch(sqs_event(records), stack.clients, stack.settings, now) == {"batchItemFailures": []}
        stack.delete(records)
    return keys


def alias_version(stack: DeployerStack) -> int:
    routing = stack.clients.sfn.describe_state_machine_alias(
        stateMachineAliasArn=stack.machine_arn("ParameterFlow") + ":production")["routingConfiguration"]
    return int(routing[0]["stateMachineVersionArn"].rsplit(":", 1)[1])


@pytest.fixture
def deployed(aws, unique_name, tmp_path) -> DeployerStack:
    """A stack whose ParameterFlow is in production at version 1."""
    stack = make_stack(aws, unique_name)
    first = prepared_variant(stack, tmp_path, 1)
    upload_package(stack.clients.s3, stack.bucket, first)
    deliver_queue(stack)
    assert stack.store.get_record(first.manifest.state_machine_name, first.code_sha256).status == "ACCEPTED"
    assert alias_version(stack) == 1
    return stack


def test_an_upload_cut_once_is_retried_and_the_whole_package_deploys(aws, deployed, tmp_path):
    stack = deployed
    second = prepared_variant(stack, tmp_path, 2)
    cutter = CallKiller(aws.endpoint_url, package_put, when="cut", cuts=1)
    try:
        upload_package(AwsConfig(endpoint_url=cutter.url).client("s3"), stack.bucket, second)
    finally:
        cutter.stop()
    assert len(cutter.killed_at) == 1 and sum("/packages/" in c for c in cutter.calls) == 2, cutter.calls
    stored = stack.clients.s3.get_object(Bucket=stack.bucket, Key=second.key)["Body"].read()
    assert stored == second.data
    deliver_queue(stack)
    record = stack.store.get_record(second.manifest.state_machine_name, second.code_sha256)
    assert (record.status, record.version) == ("ACCEPTED", 2), record
    assert alias_version(stack) == 2


def test_an_upload_cut_every_time_fails_clearly_and_nothing_deploys(aws, deployed, tmp_path):
    stack = deployed
    second = prepared_variant(stack, tmp_path, 2)
    cutter = CallKiller(aws.endpoint_url, package_put, when="cut", cuts=None)
    try:
        with pytest.raises(DeployError) as raised:
            upload_package(AwsConfig(endpoint_url=cutter.url).client("s3"), stack.bucket, second)
    finally:
        cutter.stop()
    message = str(raised.value)
    assert f"cannot upload s3://{stack.bucket}/{second.key}" in message, message
    assert "connection" in message.lower(), message
    assert "Nothing was deployed and production is unchanged" in message, message
    assert len(cutter.killed_at) >= 2, cutter.calls  # retried before giving up
    listed = stack.clients.s3.list_objects_v2(Bucket=stack.bucket, Prefix=second.key).get("Contents", [])
    assert listed == []
    assert deliver_queue(stack) == []
    assert stack.store.get_record(second.manifest.state_machine_name, second.code_sha256) is None
    assert alias_version(stack) == 1


def test_a_partial_package_object_is_refused_and_production_stays(deployed, tmp_path):
    stack = deployed
    second = prepared_variant(stack, tmp_path, 2)
    stack.upload(second.key, second.data[: len(second.data) // 2])
    assert deliver_queue(stack) == [second.key]
    record = stack.store.get_record(second.manifest.state_machine_name, second.code_sha256)
    assert record.status == "FAILED", record
    assert record.package_key == second.key
    assert "ends early, as a partial or interrupted upload does" in record.message, record.message
    assert "nothing was deployed, upload it again" in record.message, record.message
    assert alias_version(stack) == 1
    assert [r.version for r in stack.store.releases(second.manifest.state_machine_name)] == [1]
