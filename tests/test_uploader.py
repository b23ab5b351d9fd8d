"""The uploader: what a package holds, its manifest, the S3 upload and waiting for the deployer.

AWS is the session's moto server; the API is a small fake class with
scripted answers and a fake clock, so waiting is tested without sleeping.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import flowdrop
from flowdrop.cli.step_functions import deployment_outcome
from flowdrop.cli.uploader import (
    DeployOptions,
    deploy,
    deployment_target,
    package_key,
    prepare_deployment,
    sdk_files,
    wait_for_deployment,
)
from flowdrop.codepackage.archive import read_package
from flowdrop.codepackage.manifest import Manifest
from flowdrop.errors import ConfigError, DeployError, ParameterError
from flowdrop.graph import parse_flow_file

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)
SDK_DIR = Path(flowdrop.__file__).resolve().parent

INFO_FLOW = '''\
import json
from flowdrop import FlowSpec, JSONType, Parameter, schedule, step

CALLS = []


def who(context):
    CALLS.append((context.flow_name, context.user_name, context.parameter_name))
    return json.dumps({"who": context.user_name})


@schedule
class InfoFlow(FlowSpec):
    info = Parameter("deployment_info", type=JSONType, default=who)
    alpha = Parameter("alpha", help="Learning rate", default=0.01)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

PROJECT_FLOW = '''\
from flowdrop import FlowSpec, project, step


@project(name="demo")
class ProjFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''

BROKEN_DEPLOY_TIME = '''\
from flowdrop import FlowSpec, Parameter, step


def boom(context):
    raise RuntimeError("no git here")


def word(context):
    return "many"


class BadFlow(FlowSpec):
    commit = Parameter("commit", default=boom)
    count = Parameter("count", type=int, default=word)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def load_flow(path: Path) -> tuple[type, Any, Any]:
    """Import a flow file as a user's `python flow.py` would, and parse its graph."""
    module_name = f"flow_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    graph = parse_flow_file(path)
    return getattr(module, graph.flow_name), graph, module


def write(root: Path, rel: str, data: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def info_flow(tmp_path: Path):
    flow_file = write(tmp_path / "proj", "info_flow.py", INFO_FLOW)
    write(tmp_path / "proj", "lib/features.py")
    return load_flow(flow_file) + (flow_file,)


def prepare(flow, options: DeployOptions = DeployOptions(), user: str = "alice", now: datetime = NOW):
    cls, graph, _module, flow_file = flow
    return prepare_deployment(cls, flow_file, graph, options, user, now)


# -- the package --------------------------------------------------------------------------


def test_same_snapshot_twice_gives_the_same_sha_and_key(info_flow):
    first = prepare(info_flow)
    second = prepare(info_flow, now=datetime(2026, 11, 26, tzinfo=timezone.utc))
    assert first.code_sha256 == second.code_sha256
    assert first.key == second.key == f"packages/InfoFlow/{first.code_sha256}.tar.gz"
    assert first.manifest.created != second.manifest.created


def test_changed_code_gives_a_new_sha(info_flow):
    first = prepare(info_flow)
    write(info_flow[3].parent, "lib/features.py", "x = 2\n")
    assert prepare(info_flow).code_sha256 != first.code_sha256


def test_secrets_vcs_symlinks_and_other_suffixes_are_left_out(info_flow, tmp_path):
    root = info_flow[3].parent
    write(root, ".env", "AWS_SECRET_ACCESS_KEY=x")
    write(root, ".git/hooks/post-commit.py", "print('hook')")
    write(root, "id_rsa.py", "secret")
    write(root, "notes.txt", "not code")
    outside = write(tmp_path, "outside/secret.py", "TOKEN = 'x'")
    os.symlink(outside, root / "linked.py")
    files = prepare(info_flow).files
    user_files = sorted(p for p in files if not p.startswith("flowdrop/"))
    assert user_files == ["info_flow.py", "lib/features.py"]


def test_package_suffixes_are_configurable(info_flow):
    write(info_flow[3].parent, "queries/daily.sql", "select 1")
    files = prepare(info_flow, DeployOptions(suffixes=(".py", ".sql"))).files
    assert "queries/daily.sql" in files


def test_flowdrop_source_travels_in_the_package(info_flow):
    files = prepare(info_flow).files
    assert files["flowdrop/__init__.py"] == (SDK_DIR / "__init__.py").read_bytes()
    assert files["flowdrop/compiler/__init__.py"] == (SDK_DIR / "compiler" / "__init__.py").read_bytes()
    assert "flowdrop/runtime/task.py" in files
    assert not any("__pycache__" in p or not p.endswith(".py") for p in files if p.startswith("flowdrop/"))
    assert set(sdk_files()) <= set(files)


# -- deploy-time parameters -----------------------------------------------------------------


def test_deploy_time_parameter_is_evaluated_once_with_the_deployer_as_user(info_flow):
    _cls, _graph, module, _file = info_flow
    prepared = prepare(info_flow, user="alice")
    assert module.CALLS == [("InfoFlow", "alice", "deployment_info")]
    assert prepared.manifest.deploy_time_values == {"deployment_info": '{"who": "alice"}'}
    info = next(p for p in prepared.manifest.parameters if p["name"] == "deployment_info")
    assert info["value"] == '{"who": "alice"}' and info["deploy_time"] is True


def test_failing_deploy_time_functions_are_all_reported_with_their_line(tmp_path):
    flow = load_flow(write(tmp_path, "bad_flow.py", BROKEN_DEPLOY_TIME)) + (tmp_path / "bad_flow.py",)
    with pytest.raises(ParameterError) as caught:
        prepare(flow)
    problems = caught.value.problems
    assert len(problems) == 2
    assert "bad_flow.py:13: deploy-time parameter 'commit'" in problems[0] and "RuntimeError: no git here" in problems[0]
    assert "bad_flow.py:14: deploy-time parameter 'count'" in problems[1] and "'many'" in problems[1]


# -- the manifest --------------------------------------------------------------------------


def test_manifest_describes_the_deployment(info_flow):
    options = DeployOptions(max_workers=500, workflow_timeout=3600, with_specs=("retry",), tags=("nightly",),
                            backend="lambda")
    prepared = prepare(info_flow, options)
    manifest = prepared.manifest
    assert (manifest.flow_name, manifest.flow_class, manifest.flow_file) == ("InfoFlow", "InfoFlow", "info_flow.py")
    assert manifest.state_machine_name == "InfoFlow"
    assert manifest.graph["file"] == "info_flow.py"  # not this machine's absolute path
    assert [n["name"] for n in manifest.graph["nodes"]] == ["start", "end"]
    alpha = next(p for p in manifest.parameters if p["name"] == "alpha")
    assert (alpha["type"], alpha["default"], alpha["help"]) == ("float", 0.01, "Learning rate")
    assert manifest.schedule == {"expression": "cron(0 0 * * ? *)", "timezone": None}  # bare @schedule: daily
    assert manifest.decorators == {"schedule": {}}
    assert manifest.options == {"max_workers": 500, "workflow_timeout": 3600, "with_decorators": ["retry"],
                                "tags": ["nightly"], "backend": "lambda"}
    assert (manifest.user, manifest.created) == ("alice", "2026-11-25T09:30:00+00:00")
    assert manifest.sdk_version == flowdrop.__version__
    assert (manifest.project, manifest.branch) == (None, None)
    # The tarball carries the same manifest, and the deployer's validation accepts it.
    package = read_package(prepared.data)
    assert Manifest.from_dict(package.manifest) == manifest
    assert package.files["info_flow.py"] == INFO_FLOW.encode()


def test_name_option_renames_the_state_machine(info_flow):
    prepared = prepare(info_flow, DeployOptions(name="InfoFlowStaging"))
    assert prepared.manifest.state_machine_name == "InfoFlowStaging"
    assert prepared.key.startswith("packages/InfoFlowStaging/")


@pytest.mark.parametrize(
    ("branch", "production", "expected"),
    [(None, False, "demo.user.alice.ProjFlow"), ("ab", False, "demo.test.ab.ProjFlow"),
     (None, True, "demo.prod.ProjFlow"), ("blue", True, "demo.prod.blue.ProjFlow")],
)
def test_project_flows_deploy_to_their_branch(tmp_path, branch, production, expected):
    flow = load_flow(write(tmp_path, "proj_flow.py", PROJECT_FLOW)) + (tmp_path / "proj_flow.py",)
    manifest = prepare(flow, DeployOptions(branch=branch, production=production)).manifest
    assert manifest.state_machine_name == expected
    assert manifest.project == "demo" and manifest.branch == expected.split(".", 1)[1].rsplit(".", 1)[0]


def test_name_and_branch_options_are_refused_where_they_cannot_apply(tmp_path, info_flow):
    project = load_flow(write(tmp_path, "proj_flow.py", PROJECT_FLOW))
    with pytest.raises(ConfigError, match="--name cannot be used with @project"):
        deployment_target(project[1], "alice", name="Other")
    with pytest.raises(ConfigError, match="need @project"):
        deployment_target(info_flow[1], "alice", branch="x")


# -- upload ------------------------------------------------------------------------------------


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=120)


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


def test_unreachable_s3_is_a_message(info_flow):
    import boto3
    from botocore.config import Config

    s3 = boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="x",
        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    with pytest.raises(DeployError, match="cannot upload s3://b/packages/InfoFlow/.*aws_endpoint"):
        deploy(prepare(info_flow), s3, "b", None, quiet_console())


# -- waiting for the deployer ------------------------------------------------------------------


class FakeApi:
    """Answers get_deployment from a script, one answer per poll (the last one repeats)."""

    def __init__(self, *answers: dict[str, Any] | None):
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []

    def get_deployment(self, flow: str, code_sha256: str) -> dict[str, Any] | None:
        self.calls.append((flow, code_sha256))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


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
    assert result.record == accepted and len(api.calls) == 3 and clock.now == 2.0
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
    assert result.record is None and clock.now == 5.0 and len(api.calls) == 6
    assert outcome.exit_code == 3
    assert "No deployment record for this upload of InfoFlow after 5 s" in outcome.error
    assert prepared.key in outcome.error and "flowdrop-deploy" in outcome.error and "dead-letter" in outcome.error


def test_wait_reports_progress_on_every_poll():
    seen: list[tuple[float, Any]] = []
    clock = FakeClock()
    api = FakeApi(None, {"status": "PENDING"}, {"status": "ACCEPTED", "created": "t1"})
    final = wait_for_deployment(api, "F", "a" * 64, 30, created="t1", clock=clock, sleep=clock.sleep,
                                on_poll=lambda elapsed, rec: seen.append((elapsed, rec and rec["status"])))
    assert final == {"status": "ACCEPTED", "created": "t1"}
    assert seen == [(0.0, None), (1.0, "PENDING"), (2.0, "ACCEPTED")]


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
            scheduled_function_arn="arn:aws:lambda:us-east-1:123456789012:function:flowdrop-dev-scheduled", aws=aws)
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
    source = (Path(__file__).resolve().parent.parent / "examples" / "hourly_flow.py").read_text()
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
