"""Per-test deployer stacks on the session's moto server, and packages to drop into them.

A stack is what the real deployment has (bucket with its S3 -> SQS
notification for packages/*.tar.gz, deploy queue with a dead-letter queue,
the deployments and idempotency tables, the Step Functions role), uniquely
named per test, plus the settings and clients the deployer services take.
Packages are built the way the uploader builds them (uploader.build_manifest,
package.build_package), from source files, without importing them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from flowdrop.aws import AwsConfig
from flowdrop.cli import uploader
from flowdrop.codepackage.archive import build_package
from flowdrop.codepackage.snapshot import code_sha256
from flowdrop.compiler import BackendSettings
from flowdrop.deployer.clients import Clients
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.graph import parse_flow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
INVALID_FLOWS = ROOT / "tests" / "flows" / "invalid"
API_TOKEN = "s3cr3t-token"
SCHEDULED_ARN = "arn:aws:lambda:us-east-1:123456789012:function:flowdrop-scheduled"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
SHA = "a" * 64


@dataclass(frozen=True)
class DeployerStack:
    """One test's deployer resources on moto."""

    name: str
    settings: DeployerSettings
    clients: Clients
    queue_url: str
    dlq_url: str
    env: dict[str, str]

    def machine(self, flow: str) -> str:
        """This test's state machine name for `flow` (moto's state machines are shared by all tests)."""
        return f"{self.name}-{flow}"

    def package(self, source: str | Path, **kwargs: Any) -> BuiltPackage:
        """flow_package deployed under this test's state machine name."""
        flow = kwargs.pop("flow", None) or parse_flow(_text(source), kwargs.get("file_name") or "flow.py").flow_name
        return flow_package(source, name=self.machine(flow), **kwargs)

    def machine_arn(self, flow: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:stateMachine:{self.machine(flow)}"

    @property
    def store(self) -> DeploymentStore:
        return DeploymentStore(self.clients.dynamodb, self.settings.deployments_table)

    @property
    def bucket(self) -> str:
        return self.settings.bucket

    def upload(self, key: str, data: bytes) -> None:
        self.clients.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def receive(self, wait: int = 2) -> list[dict[str, Any]]:
        """Every message now in the deploy queue, as the records of a Lambda SQS event (hidden, not deleted)."""
        out: list[dict[str, Any]] = []
        for _ in range(50):
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                           VisibilityTimeout=120, AttributeNames=["All"]).get("Messages", [])
            if not got:
                break
            out += [sqs_record(m, self.queue_arn) for m in got]
            wait = 1
        return out

    def delete(self, records: list[dict[str, Any]]) -> None:
        """Delete handled messages, as the event source mapping does after a successful invocation."""
        for record in records:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])

    @property
    def sqs(self) -> Any:
        return self.settings.aws.client("sqs")

    @property
    def queue_arn(self) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A Lambda SQS event of `records`."""
    return {"Records": list(records)}


def make_stack(aws: AwsConfig, name: str, backend: str = "worker") -> DeployerStack:
    """Create a deployer stack called `name` on moto and the settings pointing at it."""
    s3, sqs, ddb, iam = (aws.client(s) for s in ("s3", "sqs", "dynamodb", "iam"))
    bucket = f"{name}-bucket"
    s3.create_bucket(Bucket=bucket)
    dlq_url = sqs.create_queue(QueueName=f"{name}-deploy-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-deploy", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    worker_url = sqs.create_queue(QueueName=f"{name}-tasks")["QueueUrl"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "packages/"},
                                           {"Name": "suffix", "Value": ".tar.gz"}]}},
    }]})
    ddb.create_table(TableName=f"{name}-deployments", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "flow", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "flow", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    ddb.create_table(TableName=f"{name}-idempotency", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=f"{name}-sfn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    scheduler_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    scheduler_role = iam.create_role(RoleName=f"{name}-scheduler",
                                     AssumeRolePolicyDocument=json.dumps(scheduler_trust))["Role"]["Arn"]
    aws.client("scheduler").create_schedule_group(Name=name)  # one group per test: moto's schedules are shared
    env = {
        "FLOWDROP_BUCKET": bucket,
        "FLOWDROP_DEPLOYMENTS_TABLE": f"{name}-deployments",
        "FLOWDROP_IDEMPOTENCY_TABLE": f"{name}-idempotency",
        "FLOWDROP_STATE_MACHINE_ROLE_ARN": role_arn,
        "FLOWDROP_SCHEDULED_FUNCTION_ARN": SCHEDULED_ARN,
        "FLOWDROP_SCHEDULER_ROLE_ARN": scheduler_role,
        "FLOWDROP_SCHEDULE_GROUP": name,
        "FLOWDROP_BACKEND": backend,
        "FLOWDROP_ALLOWED_BACKENDS": "batch,lambda,worker",
        "FLOWDROP_WORKER_QUEUE_URL": worker_url,
        "FLOWDROP_API_TOKEN_HASHES": hashlib.sha256(API_TOKEN.encode()).hexdigest(),
        "FLOWDROP_AWS_ENDPOINT": aws.endpoint_url or "",
        "AWS_REGION": aws.region,
    }
    settings = DeployerSettings.from_env(env)
    assert settings.backend == BackendSettings(kind=backend, worker_queue_url=worker_url)
    return DeployerStack(name, settings, Clients.from_config(aws), queue_url, dlq_url, env)


@pytest.fixture
def stack(aws: AwsConfig, unique_name: str) -> DeployerStack:
    """A fresh deployer stack for one test."""
    return make_stack(aws, unique_name)


# -- packages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltPackage:
    key: str
    data: bytes
    manifest: dict[str, Any]

    @property
    def sha(self) -> str:
        return self.manifest["code_sha256"]

    @property
    def flow(self) -> str:
        return self.manifest["state_machine_name"]


def _text(source: str | Path) -> str:
    return source.read_text() if isinstance(source, Path) else source


def flow_package(source: str | Path, *, file_name: str | None = None, created: datetime = T0,
                 options: uploader.DeployOptions | None = None, name: str | None = None,
                 extra_files: Mapping[str, bytes] | None = None, deploy_values: Mapping[str, Any] | None = None,
                 manifest_changes: Mapping[str, Any] | None = None) -> BuiltPackage:
    """A package of one flow file (a path, or source text with `file_name`), as the uploader builds it."""
    if isinstance(source, Path):
        file_name = file_name or source.name
        source = source.read_text()
    assert file_name is not None
    graph = parse_flow(source, file_name)
    files = {file_name: source.encode(), **(extra_files or {})}
    sha = code_sha256(files)
    options = options or uploader.DeployOptions(name=name, backend="worker")
    if name and options.name != name:
        options = dataclasses.replace(options, name=name)
    target = uploader.deployment_target(graph, "alice", options.name)
    manifest = uploader.build_manifest(graph, graph.flow_name, file_name, target, options, dict(deploy_values or {}),
                                       "alice", created, sha, "0.1.0").to_dict()
    manifest.update(manifest_changes or {})
    return BuiltPackage(uploader.package_key(manifest["state_machine_name"], sha), build_package(manifest, files),
                        manifest)


def raw_package(manifest: Mapping[str, Any], files: Mapping[str, bytes], key: str | None = None) -> BuiltPackage:
    """A package of exactly these files and manifest (for lying manifests)."""
    key = key or uploader.package_key(manifest["state_machine_name"], code_sha256(files))
    return BuiltPackage(key, build_package(manifest, files), dict(manifest))


def package_of(base: Mapping[str, Any], files: Mapping[str, bytes], key: str | None = None,
               **changes: Any) -> BuiltPackage:
    """A package of `files` whose manifest is `base` with the code hash of the files, then `changes`."""
    manifest = {**base, "code_sha256": code_sha256(files), **changes}
    key = key or uploader.package_key(manifest["state_machine_name"], code_sha256(files))
    return BuiltPackage(key, build_package(manifest, files), manifest)


def tar_package(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A tar.gz of exactly these entries, for packages build_package refuses to write."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def tar_entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o644
    return info


def created_at(moment: datetime) -> str:
    """A manifest's `created` for `moment`, as the uploader writes it."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def notification(key: str, event: str = "ObjectCreated:Put", etag: str = "e1") -> dict:
    return {"eventName": event, "s3": {"bucket": {"name": "b"}, "object": {"key": key, "eTag": etag}}}
