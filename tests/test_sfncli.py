"""`python flow.py step-functions ...` in-process with click's CliRunner.

S3 is the session's moto server; the deployer's HTTP API is a stub server
on loopback that records each request and answers from a table, so the
real ApiClient (urllib) is exercised end to end.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.flow import build_cli
from flowdrop.codepackage.archive import read_package
from flowdrop.errors import ApiError

from .test_uploader import load_flow

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_cli(flow_file: Path):
    cls, graph, _module = load_flow(flow_file)
    return build_cli(cls, flow_file, graph)


@pytest.fixture(scope="module")
def parameter_cli():
    return load_cli(EXAMPLES / "parameter_flow.py")


class StubApi:
    """A loopback HTTP server answering `routes[(method, path)]` = (status, body); records requests."""

    def __init__(self):
        self.routes: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                stub.requests.append({"method": self.command, "path": self.path, "body": body,
                                      "authorization": self.headers.get("Authorization")})
                answers = stub.routes.get((self.command, self.path)) or [(404, {"error": "no such route"})]
                status, payload = answers.pop(0) if len(answers) > 1 else answers[0]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def answer(self, method: str, path: str, *answers: tuple[int, Any]) -> None:
        self.routes[(method, "/api" + path)] = list(answers)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    stub = StubApi()
    yield stub
    stub.close()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """No config file, nothing configured: every test says what it needs."""
    return {"FLOWDROP_CONFIG": str(tmp_path / "absent.json"), "FLOWDROP_USER": "alice", "FLOWDROP_BUCKET": "",
            "FLOWDROP_API_URL": "", "FLOWDROP_API_TOKEN": "", "FLOWDROP_AWS_ENDPOINT": ""}


def invoke(cli, args: list[str], env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


# -- create --only-json ----------------------------------------------------------------------


def test_create_only_json_needs_no_aws(parameter_cli, env):
    result = invoke(parameter_cli, ["--with", "retry", "step-functions", "create", "--only-json"], env)
    assert result.exit_code == 0, result.output
    definition = json.loads(result.stdout)
    assert {"start", "end"} <= set(definition["States"])
    assert definition["States"]["start"]["Retry"][0]["MaxAttempts"] == 3  # --with retry reached the compiler


@pytest.mark.parametrize("backend", ["batch", "lambda", "worker"])
def test_create_only_json_previews_a_foreach_flow_on_every_backend(env, backend):
    cli = load_cli(EXAMPLES / "foreach_flow.py")
    result = invoke(cli, ["--with", "retry", "step-functions", "create", "--only-json", "--max-workers", "7",
                          "--workflow-timeout", "3600", "--backend", backend], env)
    assert result.exit_code == 0, result.output
    asl = json.loads(result.stdout)
    assert asl["TimeoutSeconds"] == 3600
    maps = [s for s in asl["States"].values() if s["Type"] == "Map"]
    assert maps and all(m["MaxConcurrency"] == 7 for m in maps)
    assert "placeholders" in result.stderr


def test_create_refuses_zero_workers(parameter_cli, env):
    result = invoke(parameter_cli, ["step-functions", "create", "--only-json", "--max-workers", "0"], env)
    assert result.exit_code == 2 and "--max-workers" in result.output


# -- create: upload to S3 ------------------------------------------------------------------


def test_create_without_a_bucket_is_a_message(parameter_cli, env):
    result = invoke(parameter_cli, ["step-functions", "create", "--no-wait"], env)
    assert result.exit_code == 1
    assert "missing bucket (or $FLOWDROP_BUCKET)" in result.stderr and "Traceback" not in result.output


def test_create_no_wait_uploads_the_package(parameter_cli, env, aws, unique_name):
    aws.client("s3").create_bucket(Bucket=unique_name)
    env.update(FLOWDROP_BUCKET=unique_name, FLOWDROP_AWS_ENDPOINT=aws.endpoint_url)
    result = invoke(parameter_cli, ["--with", "retry", "step-functions", "create", "--no-wait", "--tag", "nightly",
                                    "--max-workers", "500"], env)
    assert result.exit_code == 0, result.output
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=unique_name)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("packages/ParameterFlow/") and keys[0].endswith(".tar.gz")
    assert f"Uploaded s3://{unique_name}/{keys[0]}; not waiting" in result.stdout
    manifest = read_package(aws.client("s3").get_object(Bucket=unique_name, Key=keys[0])["Body"].read()).manifest
    assert manifest["options"] == {"max_workers": 500, "workflow_timeout": None, "with_decorators": ["retry"],
                                   "tags": ["nightly"], "backend": "batch"}
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


# -- trigger ------------------------------------------------------------------------------------


def test_trigger_rejects_a_badly_typed_parameter_before_calling_anyone(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    result = invoke(parameter_cli, ["step-functions", "trigger", "--alpha", "abc"], env)
    assert result.exit_code == 2
    assert "--alpha expects a number: 'abc' is not a number" in result.stderr
    assert api.requests == []


def test_trigger_sends_typed_parameters_and_prints_the_run(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url, FLOWDROP_API_TOKEN="s3cret")
    api.answer("POST", "/flows/ParameterFlow/runs",
               (202, {"run_id": "sfn-key-1", "execution_arn": "arn:x", "status_url": f"{api.url}/flows/ParameterFlow/runs/sfn-key-1"}))
    result = invoke(parameter_cli, ["step-functions", "trigger", "--alpha", "0.5", "--idempotency-key", "k1"], env)
    assert result.exit_code == 0, result.output
    assert api.requests == [{"method": "POST", "path": "/api/flows/ParameterFlow/runs",
                             "body": {"parameters": {"alpha": 0.5}, "idempotency_key": "k1"},
                             "authorization": "Bearer s3cret"}]
    assert "Workflow ParameterFlow triggered on AWS Step Functions (run-id sfn-key-1)." in result.stdout
    assert f"Status: {api.url}/flows/ParameterFlow/runs/sfn-key-1" in result.stdout


def test_trigger_without_parameters_sends_none_and_uses_the_group_name(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("POST", "/flows/Staging/runs", (202, {"run_id": "sfn-1"}))
    result = invoke(parameter_cli, ["step-functions", "--name", "Staging", "trigger"], env)
    assert result.exit_code == 0, result.output
    assert api.requests[0]["body"] == {"parameters": {}}


def test_trigger_prints_every_problem_the_api_found(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("POST", "/flows/ParameterFlow/runs",
               (400, {"error": "invalid parameters", "problems": ["parameter 'alpha' expects a number", "unknown parameter 'beta'"]}))
    result = invoke(parameter_cli, ["step-functions", "trigger", "--alpha", "1"], env)
    assert result.exit_code == 2
    assert "HTTP 400: invalid parameters" in result.stderr
    assert "  - parameter 'alpha' expects a number\n  - unknown parameter 'beta'" in result.stderr


def test_trigger_of_an_undeployed_flow_says_not_found(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("POST", "/flows/ParameterFlow/runs", (404, {"error": "flow ParameterFlow is not deployed"}))
    result = invoke(parameter_cli, ["step-functions", "trigger"], env)
    assert result.exit_code == 1 and "HTTP 404: flow ParameterFlow is not deployed" in result.stderr


def test_trigger_with_an_unreachable_api_is_a_message(parameter_cli, env):
    env.update(FLOWDROP_API_URL="http://127.0.0.1:9")
    result = invoke(parameter_cli, ["step-functions", "trigger"], env)
    assert result.exit_code == 1
    assert "cannot reach the flowdrop API" in result.stderr and "FLOWDROP_API_URL" in result.stderr


# -- list-runs and delete ------------------------------------------------------------------------


def test_list_runs_filters_by_status(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("GET", "/flows/ParameterFlow/runs?status=RUNNING",
               (200, {"runs": [{"run_id": "sfn-a", "status": "RUNNING", "start_date": "2026-11-25T10:00:00Z"}]}))
    result = invoke(parameter_cli, ["step-functions", "list-runs", "--running"], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["sfn-a", "RUNNING", "started", "2026-11-25T10:00:00Z"]


def test_list_runs_with_none_says_so(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("GET", "/flows/ParameterFlow/runs", (200, {"runs": []}))
    result = invoke(parameter_cli, ["step-functions", "list-runs"], env)
    assert result.exit_code == 0 and result.stdout == "No runs of ParameterFlow.\n"


def test_delete_calls_the_api(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("DELETE", "/flows/ParameterFlow", (200, {"deleted": "ParameterFlow"}))
    result = invoke(parameter_cli, ["step-functions", "delete"], env)
    assert result.exit_code == 0, result.output
    assert [r["method"] for r in api.requests] == ["DELETE"]
    assert result.stdout.startswith("Deleted ParameterFlow from AWS Step Functions")


# -- the API client on its own ---------------------------------------------------------------------


def test_api_client_hints_at_the_token_on_401(api):
    api.answer("GET", "/flows", (401, {"Message": "Unauthorized"}))
    with pytest.raises(ApiError) as caught:
        ApiClient(api.url).list_flows()
    assert caught.value.status == 401
    assert "HTTP 401: Unauthorized" in str(caught.value) and "FLOWDROP_API_TOKEN" in str(caught.value)
    assert api.requests[0]["authorization"] is None


def test_api_client_reads_a_missing_deployment_as_none_and_quotes_names(api):
    api.answer("GET", "/flows/demo.user.alice.F/deployments/" + "a" * 64, (404, {"error": "not yet"}))
    assert ApiClient(api.url, "t").get_deployment("demo.user.alice.F", "a" * 64) is None
    api.answer("GET", "/flows/F/deployments/" + "b" * 64, (500, "<html>oops</html>"))
    with pytest.raises(ApiError, match="HTTP 500") as caught:
        ApiClient(api.url, "t").get_deployment("F", "b" * 64)
    assert caught.value.status == 500


def test_api_client_signs_with_sigv4_for_iam_auth_stages(api, monkeypatch):
    from flowdrop.config import ClientConfig

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    api.answer("GET", "/flows", (200, {"flows": []}))
    assert ApiClient(api.url, iam_region="eu-west-1").list_flows() == {"flows": []}
    signature = api.requests[0]["authorization"]
    assert signature.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in signature
    # From the config: an API Gateway URL and no token means IAM; a token means bearer.
    prod = ApiClient.from_config(ClientConfig(api_url="https://abc123.execute-api.eu-west-1.amazonaws.com/api/"))
    assert prod.iam_region == "eu-west-1"
    dev = ApiClient.from_config(ClientConfig(api_url="https://abc123.execute-api.eu-west-1.amazonaws.com/api/",
                                             api_token="t"))
    assert dev.iam_region is None
