"""The uploader: what a package holds, its manifest, deploy-time parameters, unreachable S3, waiting for the deployer.

The API is a small fake class with scripted answers and a fake clock, so
waiting is tested without sleeping. The S3 upload and the waiting against the
session's moto server: tests/functional/test_uploader_moto.py.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import flowdrop
from flowdrop.cli.uploader import DeployOptions, deploy, deployment_target, sdk_files, wait_for_deployment
from flowdrop.codepackage.archive import read_package
from flowdrop.codepackage.manifest import Manifest
from flowdrop.errors import ConfigError, DeployError, ParameterError
from tests.helpers.runtime import load_flow
from tests.helpers.uploader import INFO_FLOW, FakeApi, FakeClock, info_flow, prepare, quiet_console, write  # noqa: F401

SDK_DIR = Path(flowdrop.__file__).resolve().parent

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


COMPUTED_DEFAULTS = """import os

from flowdrop import FlowSpec, IncludeFile, Parameter, step


def script_path(filename):
    return os.path.join(os.path.dirname(__file__), filename)


class TutorialFlow(FlowSpec):
    movie_data = IncludeFile('movie_data', default=script_path('movies.csv'))
    genre = Parameter('genre', default=os.environ.get('TUTORIAL_GENRE', 'Sci-Fi'))
    {extra}

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_defaults_computed_when_the_module_loads_are_frozen_and_their_files_packaged(tmp_path, monkeypatch):
    # As Metaflow's own tutorials write them: default=script_path('movies.csv'), default=os.environ.get(...).
    monkeypatch.setenv("TUTORIAL_GENRE", "Drama")
    flow_file = write(tmp_path, "tutorial_flow.py", COMPUTED_DEFAULTS.format(extra=""))
    write(tmp_path, "movies.csv", "movie_title,genres\nAlien,Sci-Fi\n")
    prepared = prepare(load_flow(flow_file) + (flow_file,))
    values = prepared.manifest.deploy_time_values
    assert values["genre"] == "Drama"
    assert prepared.files["_flowdrop_include/movie_data"] == b"movie_title,genres\nAlien,Sci-Fi\n"
    assert json.loads(values["movie_data"]) == {"flowdrop_include": {"package_path": "_flowdrop_include/movie_data"}}


def test_a_computed_default_of_another_type_than_the_file_declares_names_the_fix(tmp_path):
    flow_file = write(tmp_path, "tutorial_flow.py",
                      COMPUTED_DEFAULTS.format(extra="count = Parameter('count', default=int('5'))"))
    write(tmp_path, "movies.csv", "movie_title,genres\n")
    with pytest.raises(ParameterError) as caught:
        prepare(load_flow(flow_file) + (flow_file,))
    (problem,) = caught.value.problems
    assert "tutorial_flow.py:13: deploy-time parameter 'count': its default expression gave 5 (int)" in problem
    assert "write type=int in the Parameter" in problem


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
                                "tags": ["nightly"], "backend": "lambda", "schedule_overlap": "skip"}
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


def test_unreachable_s3_is_a_message(info_flow):
    import boto3
    from botocore.config import Config

    s3 = boto3.session.Session().client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="x",
        aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    with pytest.raises(DeployError, match="cannot upload s3://b/packages/InfoFlow/.*aws_endpoint"):
        deploy(prepare(info_flow), s3, "b", None, quiet_console())


# -- waiting for the deployer ------------------------------------------------------------------


def test_wait_reports_progress_on_every_poll():
    seen: list[tuple[float, Any]] = []
    clock = FakeClock()
    api = FakeApi(None, {"status": "PENDING"}, {"status": "ACCEPTED", "created": "t1"})
    final = wait_for_deployment(api, "F", "a" * 64, 30, created="t1", clock=clock, sleep=clock.sleep,
                                on_poll=lambda elapsed, rec: seen.append((elapsed, rec and rec["status"])))
    assert final == {"status": "ACCEPTED", "created": "t1"}
    assert seen == [(0.0, None), (pytest.approx(0.05), "PENDING"), (pytest.approx(0.1125), "ACCEPTED")]  # quick
    # first polls, backing off


def test_wait_backs_off_to_the_interval():
    clock = FakeClock()
    api = FakeApi(*([{"status": "PENDING"}] * 20), {"status": "ACCEPTED", "created": "t1"})
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 4))
        clock.sleep(seconds)

    assert wait_for_deployment(api, "F", "a" * 64, 30, created="t1", clock=clock, sleep=sleep)["status"] == "ACCEPTED"
    assert slept[:3] == [0.05, 0.0625, 0.0781] and slept[-1] == 1.0 and max(slept) == 1.0


def test_alerts_go_into_the_manifest_only_when_asked(info_flow):
    hook, topic = "https://hooks.slack.com/services/T/B/x", "arn:aws:sns:us-east-1:123456789012:alerts"
    options = DeployOptions(notify_on_error=(hook, topic, hook), notify_on_success=(topic,))
    manifest = prepare(info_flow, options).manifest
    assert manifest.options["alerts"] == {"on_error": [hook, topic], "on_success": [topic]}
    assert "alerts" not in prepare(info_flow, DeployOptions()).manifest.options


def test_bad_alert_targets_are_refused_naming_the_option(info_flow):
    from flowdrop.errors import ConfigError

    options = DeployOptions(notify_on_error=("http://example.com/x",), notify_on_success=("arn:aws:sqs:x",))
    with pytest.raises(ConfigError) as caught:
        prepare(info_flow, options)
    assert str(caught.value).splitlines() == [
        "--notify-on-error 'http://example.com/x': webhooks must use https:// (plain http only to 127.0.0.1 or "
        "localhost)",
        "--notify-on-success 'arn:aws:sqs:x' is not an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:alerts"]


def test_sdk_files_are_the_packages_py_files_by_posix_path_without_caches_or_links(tmp_path):
    package = tmp_path / "flowdrop"
    (package / "cli" / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("top")
    (package / "cli" / "flow.py").write_text("flow")
    (package / "cli" / "page.html").write_text("<html>")
    (package / "cli" / "__pycache__" / "stale.py").write_text("cache")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "other.py").write_text("other")
    (package / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (package / "alias.py").symlink_to(package / "__init__.py")
    files = sdk_files(package)
    assert files == {"flowdrop/__init__.py": b"top", "flowdrop/cli/flow.py": b"flow"}
    assert list(files) == sorted(files)
    assert "flowdrop/cli/uploader.py" in sdk_files() and not any("__pycache__" in path for path in sdk_files())
