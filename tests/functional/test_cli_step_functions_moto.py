"""`python flow.py step-functions create` in-process with click's CliRunner, uploading to S3 on the moto server.

The deployer's HTTP API is the stub server of tests/helpers/cli.py.
"""

from __future__ import annotations

from flowdrop.codepackage.archive import read_package
from tests.helpers.cli import api, env, invoke, parameter_cli  # noqa: F401  (fixtures)


# -- create: upload to S3 ------------------------------------------------------------------


def test_create_no_wait_uploads_the_package(parameter_cli, env, aws, unique_name):
    aws.client("s3").create_bucket(Bucket=unique_name)
    env.update(FLOWDROP_BUCKET=unique_name, FLOWDROP_AWS_ENDPOINT=aws.endpoint_url)
    result = invoke(parameter_cli, ["--with", "retry", "step-functions", "create", "--no-wait", "--tag", "nightly",
                                    "--max-workers", "500", "--overlap", "queue"], env)
    assert result.exit_code == 0, result.output
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=unique_name)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("packages/ParameterFlow/") and keys[0].endswith(".tar.gz")
    assert f"Uploaded s3://{unique_name}/{keys[0]}; not waiting" in result.stdout
    manifest = read_package(aws.client("s3").get_object(Bucket=unique_name, Key=keys[0])["Body"].read()).manifest
    assert manifest["options"] == {"max_workers": 500, "workflow_timeout": None, "with_decorators": ["retry"],
                                   "tags": ["nightly"], "backend": "batch", "schedule_overlap": "queue"}
    assert manifest["user"] == "alice"


def test_create_waiting_without_an_api_fails_before_uploading(parameter_cli, env, aws, unique_name):
    aws.client("s3").create_bucket(Bucket=unique_name)
    env.update(FLOWDROP_BUCKET=unique_name, FLOWDROP_AWS_ENDPOINT=aws.endpoint_url)
    result = invoke(parameter_cli, ["step-functions", "create"], env)
    assert result.exit_code == 1 and "missing api_url (or $FLOWDROP_API_URL)" in result.stderr
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=unique_name)


def _deployment_path(aws, bucket: str) -> str:
    key = aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"][0]["Key"]
    flow, sha = key[len("packages/"):-len(".tar.gz")].split("/")
    return f"/flows/{flow}/deployments/{sha}"


def test_create_waits_for_the_record_and_prints_how_to_trigger(parameter_cli, env, aws, unique_name, api):
    aws.client("s3").create_bucket(Bucket=unique_name)
    env.update(FLOWDROP_BUCKET=unique_name, FLOWDROP_AWS_ENDPOINT=aws.endpoint_url, FLOWDROP_API_URL=api.url,
               FLOWDROP_API_TOKEN="s3cret")
    # The same code always has the same sha: learn it from a --no-wait upload first.
    assert invoke(parameter_cli, ["step-functions", "create", "--no-wait"], env).exit_code == 0
    path = _deployment_path(aws, unique_name)
    api.answer("GET", path, (404, {"error": "not yet"}),
               (200, {"status": "ACCEPTED", "version": 2, "flow": "ParameterFlow", "schedule": None}))
    result = invoke(parameter_cli, ["step-functions", "create", "--wait-timeout", "30"], env)
    assert result.exit_code == 0, result.output
    assert "Version 2 is live behind the alias 'production'." in result.stdout
    assert "Schedule: none" in result.stdout
    assert "python parameter_flow.py step-functions trigger --alpha 0.01" in result.stdout
    assert f"curl -X POST {api.url}/flows/ParameterFlow/runs" in result.stdout
    polls = [r for r in api.requests if r["path"] == "/api" + path]
    assert len(polls) == 2 and polls[0]["authorization"] == "Bearer s3cret"


def test_create_exits_non_zero_with_the_deployers_message_on_failure(parameter_cli, env, aws, unique_name, api):
    aws.client("s3").create_bucket(Bucket=unique_name)
    env.update(FLOWDROP_BUCKET=unique_name, FLOWDROP_AWS_ENDPOINT=aws.endpoint_url, FLOWDROP_API_URL=api.url)
    assert invoke(parameter_cli, ["step-functions", "create", "--no-wait"], env).exit_code == 0
    message = "parameter_flow.py:12: step 'start': the backend 'batch' is not allowed here"
    api.answer("GET", _deployment_path(aws, unique_name), (200, {"status": "FAILED", "message": message}))
    result = invoke(parameter_cli, ["step-functions", "create"], env)
    assert result.exit_code == 1
    assert "Deployment of ParameterFlow FAILED; production is unchanged." in result.stderr
    assert message in result.stderr


def test_create_carries_alerts_in_the_manifest(parameter_cli, env, aws, unique_name):
    aws.client("s3").create_bucket(Bucket=unique_name)
    env.update(FLOWDROP_BUCKET=unique_name, FLOWDROP_AWS_ENDPOINT=aws.endpoint_url)
    hook, topic = "https://hooks.example.com/flowdrop", "arn:aws:sns:us-east-1:123456789012:alerts"
    result = invoke(parameter_cli, ["step-functions", "create", "--no-wait", "--notify-on-error", hook,
                                    "--notify-on-error", topic, "--notify-on-success", topic], env)
    assert result.exit_code == 0, result.output
    key = aws.client("s3").list_objects_v2(Bucket=unique_name)["Contents"][0]["Key"]
    manifest = read_package(aws.client("s3").get_object(Bucket=unique_name, Key=key)["Body"].read()).manifest
    assert manifest["options"]["alerts"] == {"on_error": [hook, topic], "on_success": [topic]}


def test_create_refuses_a_bad_alert_target_before_uploading(parameter_cli, env, aws, unique_name):
    aws.client("s3").create_bucket(Bucket=unique_name)
    env.update(FLOWDROP_BUCKET=unique_name, FLOWDROP_AWS_ENDPOINT=aws.endpoint_url)
    result = invoke(parameter_cli, ["step-functions", "create", "--no-wait", "--notify-on-error",
                                    "http://hooks.example.com/x"], env)
    assert result.exit_code != 0
    assert "--notify-on-error 'http://hooks.example.com/x': webhooks must use https://" in result.stderr
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket=unique_name)
