"""`python flow.py step-functions ...` in-process with click's CliRunner, without AWS.

The deployer's HTTP API is a stub server on loopback that records each
request and answers from a table, so the real ApiClient (urllib) is
exercised end to end. `create` uploading to S3 on the session's moto
server: tests/functional/test_cli_step_functions_moto.py.
"""

from __future__ import annotations

import json

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.errors import ApiError
from tests.helpers.cli import EXAMPLES, api, env, invoke, load_cli, parameter_cli  # noqa: F401  (fixtures)


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


@pytest.mark.parametrize("backend", ["batch", "lambda", "worker"])
def test_create_only_json_shows_a_switch_flows_choice_states(env, backend):
    from tests.helpers.runtime import TEST_FLOWS

    result = invoke(load_cli(TEST_FLOWS / "switch_flow.py"),
                    ["--no-pylint", "step-functions", "create", "--only-json", "--backend", backend], env)
    assert result.exit_code == 0, result.output
    states = json.loads(result.stdout)["States"]
    assert states["gather-switch"]["Type"] == "Choice" and states["loop-switch"]["Type"] == "Choice"
    assert {rule.get("Next") for rule in states["gather-switch"]["Choices"]} == {"gather-no-case", "quick", "careful"}


def test_create_refuses_zero_workers(parameter_cli, env):
    result = invoke(parameter_cli, ["step-functions", "create", "--only-json", "--max-workers", "0"], env)
    assert result.exit_code == 2 and "--max-workers" in result.output


# -- create: upload to S3 ------------------------------------------------------------------


def test_create_without_a_bucket_is_a_message(parameter_cli, env):
    result = invoke(parameter_cli, ["step-functions", "create", "--no-wait"], env)
    assert result.exit_code == 1
    assert "missing bucket (or $FLOWDROP_BUCKET)" in result.stderr and "Traceback" not in result.output


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


def test_trigger_writes_the_run_id_to_the_run_id_file_as_metaflows_trigger_does(parameter_cli, env, api, tmp_path):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("POST", "/flows/ParameterFlow/runs", (202, {"run_id": "sfn-abc", "execution_arn": "arn:x"}))
    result = invoke(parameter_cli, ["step-functions", "trigger", "--run-id-file", str(tmp_path / "run-id")], env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run-id").read_text() == "sfn-abc"


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


def test_list_runs_timed_out_and_aborted_lists_both_as_metaflow(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    runs = [{"run_id": f"sfn-{s.lower()}", "status": s, "start_date": "2026-11-25T10:00:00Z"}
            for s in ("RUNNING", "TIMED_OUT", "SUCCEEDED", "ABORTED", "FAILED")]
    api.answer("GET", "/flows/ParameterFlow/runs", (200, {"runs": runs}))
    result = invoke(parameter_cli, ["step-functions", "list-runs", "--timed-out", "--aborted"], env)
    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [["sfn-timed_out", "TIMED_OUT"],
                                                                         ["sfn-aborted", "ABORTED"]]
    api.answer("GET", "/flows/ParameterFlow/runs", (200, {"runs": runs[:1]}))
    result = invoke(parameter_cli, ["step-functions", "list-runs", "--timed-out", "--aborted"], env)
    assert result.stdout == "No timed-out or aborted runs of ParameterFlow.\n"


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


def test_delete_takes_metaflows_authorize_and_says_it_is_not_needed(parameter_cli, env, api):
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("DELETE", "/flows/ParameterFlow", (200, {"deleted": "ParameterFlow"}))
    result = invoke(parameter_cli, ["step-functions", "delete", "--authorize", "production:ParameterFlow-0-abcd"], env)
    assert result.exit_code == 0, result.output
    assert [r["method"] for r in api.requests] == ["DELETE"]
    assert "flowdrop leaves out Metaflow's --authorize" in result.stderr


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


def test_resume_posts_the_origin_and_step_and_prints_the_new_run(env, api):
    debug_cli = load_cli(EXAMPLES / "debug_flow.py")
    env.update(FLOWDROP_API_URL=api.url)
    api.answer("POST", "/flows/DebugFlow/runs/sfn-old/resume",
               (202, {"run_id": "sfn-new", "status_url": "/flows/DebugFlow/runs/sfn-new"}),
               (409, {"error": "run sfn-old of DebugFlow is still running; terminate it or wait for its end"}))
    result = invoke(debug_cli, ["step-functions", "resume", "b", "--origin-run-id", "sfn-old"], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Resuming DebugFlow/sfn-old from step b on AWS Step Functions (run-id sfn-new).",
        "Status: /flows/DebugFlow/runs/sfn-new"]
    assert api.requests[-1]["body"] == {"step": "b", "user": "alice"}
    result = invoke(debug_cli, ["step-functions", "resume", "--origin-run-id", "sfn-old"], env)
    assert result.exit_code == 1 and "still running" in result.output
    assert api.requests[-1]["body"] == {"user": "alice"}
    missing = invoke(debug_cli, ["step-functions", "resume"], env)
    assert missing.exit_code == 2 and "--origin-run-id" in missing.output
