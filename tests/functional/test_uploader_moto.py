"""The uploader on the session's moto server: the S3 upload, waiting for the deployer, the real deployer behind the API.

The API is a small fake class with scripted answers and a fake clock, so
waiting is tested without sleeping; the last test answers it with the
deployer's own code.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from flowdrop.cli.deploy_outcome import deployment_outcome
from flowdrop.cli.uploader import DeployOptions, deploy, package_key
from flowdrop.errors import DeployError
from tests.helpers.runtime import load_flow
from tests.helpers.uploader import NOW, FakeApi, FakeClock, info_flow, prepare, quiet_console, write  # noqa: F401


# -- upload ------------------------------------------------------------------------------------


def test_upload_lands_at_the_package_key(aws, unique_name, info_flow):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=unique_name)
    prepared = prepare(info_flow)
    console = quiet_console()
    result = deploy(prepared, s3, unique_name, None, console)
    assert result.url == f"s3://{unique_name}/{package_key('InfoFlow', prepared.code_sha256)}"
    stored = s3.get_object(Bucket=unique_name, Key=prepared.key)
    assert stored["Body"].read() == prepared.data
    assert stored["Metadata"]["flowdrop-code-sha256"] == prepared.code_sha256
    listed = s3.list_objects_v2(Bucket=unique_name)["Contents"]
    assert [o["Key"] for o in listed] == [prepared.key]
    assert f"Uploaded {len(prepared.data):,} bytes to {result.url}" in console.file.getvalue()


def test_upload_to_a_missing_bucket_says_so(aws, unique_name, info_flow):
    with pytest.raises(DeployError, match=f"bucket '{unique_name}' does not exist.*FLOWDROP_BUCKET"):
        deploy(prepare(info_flow), aws.client("s3"), unique_name, None, quiet_console())


# -- waiting for the deployer ------------------------------------------------------------------


def record(prepared, status: str, **extra: Any) -> dict[str, Any]:
    return {"flow": prepared.manifest.state_machine_name, "code_sha256": prepared.code_sha256, "status": status,
            "created": prepared.manifest.created, **extra}


def run_deploy(aws, bucket: str, prepared, api: FakeApi, timeout: float = 120.0):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    clock = FakeClock()
    result = deploy(prepared, s3, bucket, api, quiet_console(), timeout, clock=clock, sleep=clock.sleep)
    outcome = deployment_outcome(result.record, prepared, prepared.manifest.graph_model(), "info_flow.py",
                                 "https://api.example.com/dev", NOW, result.waited)
    return result, outcome, clock


def test_accepted_deployment_prints_version_schedule_and_how_to_trigger(aws, unique_name, info_flow):
    prepared = prepare(info_flow)
    accepted = record(prepared, "ACCEPTED", version=3, version_arn="arn:aws:states:us-east-1:1:stateMachine:InfoFlow:3",
                      schedule="cron(0 0 * * ? *)")
    api = FakeApi(None, None, accepted)
    result, outcome, clock = run_deploy(aws, unique_name, prepared, api)
    assert result.record == accepted and len(api.calls) == 3 and clock.now == pytest.approx(0.1125)
    assert api.calls[0] == ("InfoFlow", prepared.code_sha256)
    text = "\n".join(outcome.lines)
    assert outcome.exit_code == 0 and outcome.error is None
    assert "Version 3 is live behind the alias 'production'." in text
    assert "version arn: arn:aws:states:us-east-1:1:stateMachine:InfoFlow:3" in text
    assert "Schedule: cron(0 0 * * ? *) (UTC)" in text
    assert "next runs: 2026-11-26T00:00:00+00:00, 2026-11-27T00:00:00+00:00, 2026-11-28T00:00:00+00:00" in text
    assert "python info_flow.py step-functions trigger --alpha 0.01" in text
    assert "curl -X POST https://api.example.com/dev/flows/InfoFlow/runs" in text
    assert """-d '{"parameters": {"alpha": 0.01}}'""" in text


def test_an_earlier_uploads_record_is_not_taken_for_this_one(aws, unique_name, info_flow):
    prepared = prepare(info_flow)
    earlier = {**record(prepared, "ACCEPTED", version=1), "created": "2026-11-01T00:00:00+00:00"}
    duplicate = record(prepared, "DUPLICATE", version=1)
    api = FakeApi(earlier, earlier, duplicate)
    result, outcome, _ = run_deploy(aws, unique_name, prepared, api)
    assert result.record == duplicate
    assert outcome.exit_code == 0
    assert outcome.lines[0] == "This code is already deployed as InfoFlow version 1; nothing changed."


def test_failed_deployment_prints_the_deployers_message_and_exits_non_zero(aws, unique_name, info_flow):
    prepared = prepare(info_flow)
    message = "info_flow.py:18: step 'start': a join needs 2 or more inputs; it has 1."
    _, outcome, _ = run_deploy(aws, unique_name, prepared, FakeApi(None, record(prepared, "FAILED", message=message)))
    assert outcome.exit_code == 1 and outcome.lines == ()
    assert outcome.error == f"Deployment of InfoFlow FAILED; production is unchanged.\n{message}"


def test_no_record_before_the_timeout_says_what_to_check(aws, unique_name, info_flow):
    prepared = prepare(info_flow)
    api = FakeApi(None)
    result, outcome, clock = run_deploy(aws, unique_name, prepared, api, timeout=5)
    assert result.record is None and clock.now == 5.0 and len(api.calls) == 16  # polls at 0, 0.05, 0.1125, ... to 1 s
    assert outcome.exit_code == 3
    assert "No deployment record for this upload of InfoFlow after 5 s" in outcome.error
    assert prepared.key in outcome.error and "flowdrop-deploy" in outcome.error and "dead-letter" in outcome.error


# -- with the real deployer behind the API ---------------------------------------------------------


class InProcessDeployer:
    """get_deployment answered by the deployer's own code; the package is deployed on the second poll,
    as the queue would deliver it a moment after the upload."""

    def __init__(self, aws, bucket: str, table: str):
        from flowdrop.deployer.clients import Clients
        from flowdrop.deployer.settings import DeployerSettings

        self.clients = Clients.from_config(aws)
        self.settings = DeployerSettings(
            bucket=bucket, deployments_table=table, idempotency_table="unused",
            state_machine_role_arn="arn:aws:iam::123456789012:role/flowdrop-sfn",
            scheduled_function_arn="arn:aws:lambda:us-east-1:123456789012:function:flowdrop-dev-scheduled",
            scheduler_role_arn="arn:aws:iam::123456789012:role/flowdrop-scheduler", schedule_group=table, aws=aws)
        self.clients.scheduler.create_schedule_group(Name=table)
        self.bucket = bucket
        self.polls = 0

    def get_deployment(self, flow: str, code_sha256: str) -> dict[str, Any] | None:
        from flowdrop.deployer import flows
        from flowdrop.deployer.deploy import deploy_package
        from flowdrop.errors import FlowNotFoundError

        self.polls += 1
        if self.polls == 2:
            deploy_package(self.bucket, package_key(flow, code_sha256), self.clients, self.settings, datetime.now(timezone.utc))
        try:
            return flows.get_deployment(flow, code_sha256, self.clients, self.settings, NOW)
        except FlowNotFoundError:
            return None


@pytest.mark.slow
def test_uploads_are_deployed_and_reported_by_the_real_deployer(aws, unique_name, tmp_path):
    s3, dynamodb = aws.client("s3"), aws.client("dynamodb")
    s3.create_bucket(Bucket=unique_name)
    dynamodb.create_table(TableName=unique_name, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "flow", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "flow", "KeyType": "HASH"},
                                     {"AttributeName": "sk", "KeyType": "RANGE"}])
    source = (Path(__file__).resolve().parents[2] / "examples" / "hourly_flow.py").read_text()
    flow = load_flow(write(tmp_path, "hourly_flow.py", source)) + (tmp_path / "hourly_flow.py",)
    # A unique state machine name per test run: moto's state is shared by the session.
    options = DeployOptions(name=f"Hourly{unique_name}")

    def upload(now: datetime):
        prepared = prepare(flow, options, now=now)
        api = InProcessDeployer(aws, unique_name, unique_name)
        clock = FakeClock()
        result = deploy(prepared, s3, unique_name, api, quiet_console(), 30, clock=clock, sleep=clock.sleep)
        return prepared, result, deployment_outcome(result.record, prepared, flow[1], "hourly_flow.py",
                                                    "http://127.0.0.1:8000", NOW, result.waited)

    first, result, outcome = upload(NOW)
    assert result.record["status"] == "ACCEPTED" and result.record["version"] == 1, result.record
    assert "Version 1 is live behind the alias 'production'." in outcome.lines
    assert "Schedule: cron(0 * * * ? *) (UTC)" in outcome.lines
    assert "  next runs: 2026-11-25T10:00:00+00:00, 2026-11-25T11:00:00+00:00, 2026-11-25T12:00:00+00:00" in outcome.lines
    # The same code again: the first poll sees the earlier ACCEPTED record, which is not this upload's.
    second, result, outcome = upload(datetime(2026, 11, 25, 9, 31, tzinfo=timezone.utc))
    assert second.code_sha256 == first.code_sha256
    assert result.record["status"] == "DUPLICATE" and result.record["created"] == second.manifest.created
    assert outcome.exit_code == 0 and "nothing changed" in outcome.lines[0]
