from __future__ import annotations

import copy
import json

import pytest

from flowdrop.codepackage.archive import build_package, read_package
from flowdrop.codepackage.manifest import MANIFEST_VERSION, Manifest
from flowdrop.codepackage.snapshot import code_sha256
from flowdrop.errors import PackageError
from flowdrop.model import graph as model
from flowdrop.model.schedule import Schedule

GRAPH = model.Graph(
    flow_name="DeploymentInfoFlow",
    file="deployment_info_flow.py",
    nodes=(
        model.Node("start", model.START, out_funcs=("end",), lineno=14),
        model.Node("end", model.END, in_funcs=("start",), lineno=20),
    ),
    parameters=(model.ParameterSpec("deployment_info", "info", type="json", deploy_time=True, lineno=10),),
    flow_decorators=(model.Decorator("schedule", {"daily": True}, lineno=8),),
)
FILES = {"deployment_info_flow.py": b"# the flow\n"}


def good() -> dict:
    parameter = GRAPH.parameters[0].to_dict() | {"value": '{"who": "ana"}'}
    return {
        "version": MANIFEST_VERSION,
        "flow_name": "DeploymentInfoFlow",
        "flow_class": "DeploymentInfoFlow",
        "flow_file": "deployment_info_flow.py",
        "state_machine_name": "DeploymentInfoFlow",
        "graph": GRAPH.to_dict(),
        "parameters": [parameter],
        "deploy_time_values": {"deployment_info": '{"who": "ana"}'},
        "decorators": {"schedule": {"daily": True}},
        "schedule": Schedule("cron(0 0 * * ? *)").to_dict(),
        "project": None,
        "branch": None,
        "options": {"max_workers": 100, "workflow_timeout": None, "with_decorators": ["retry"], "tags": [], "backend": "batch"},
        "user": "ana",
        "created": "2026-11-03T10:00:00+00:00",
        "code_sha256": code_sha256(FILES),
        "sdk_version": "0.1.0",
    }


def test_round_trip():
    manifest = Manifest.from_dict(good())
    assert manifest.to_dict() == good()
    assert Manifest.from_dict(manifest.to_dict()) == manifest
    assert manifest.graph_model() == GRAPH
    assert manifest.schedule_model() == Schedule("cron(0 0 * * ? *)")


def test_round_trip_through_a_package():
    data = build_package(good(), FILES)
    package = read_package(data)
    manifest = Manifest.from_dict(package.manifest)
    assert manifest.code_sha256 == code_sha256(package.files)
    assert manifest.flow_file in package.files


def test_from_dict_copies_its_input():
    data = good()
    manifest = Manifest.from_dict(data)
    data["options"]["max_workers"] = 7
    assert manifest.options["max_workers"] == 100


def test_optional_fields_accept_values():
    data = good() | {"schedule": None, "project": "ml", "branch": "prod", "created": "2026-11-03T10:00:00Z"}
    data["options"] = data["options"] | {"workflow_timeout": 3600, "tags": ["team:ml"], "backend": "worker"}
    manifest = Manifest.from_dict(data)
    assert manifest.schedule_model() is None
    assert manifest.options["backend"] == "worker"


@pytest.mark.parametrize("version", [0, 2, "1", None, True])
def test_unknown_version_is_rejected(version):
    data = good() | {"version": version}
    with pytest.raises(PackageError, match=f"manifest.json: version {version!r} is not supported; this flowdrop reads version 1"):
        Manifest.from_dict(data)


def test_missing_version_is_rejected():
    data = good()
    del data["version"]
    with pytest.raises(PackageError, match="version None is not supported"):
        Manifest.from_dict(data)


def test_not_an_object():
    with pytest.raises(PackageError, match="must be a JSON object, got list"):
        Manifest.from_dict([])


def edit(path: str, value) -> dict:
    data = copy.deepcopy(good())
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("options.max_workers", "0", "manifest.json: options.max_workers must be an int >= 1, got '0'"),
        ("options.max_workers", 0, "options.max_workers must be an int >= 1, got 0"),
        ("options.max_workers", True, "options.max_workers must be an int >= 1, got True"),
        ("options.workflow_timeout", -5, "options.workflow_timeout must be null or an int from 1 to 99999999 (seconds; "
         "Step Functions' limit), got -5"),
        ("options.workflow_timeout", 100_000_000, "options.workflow_timeout must be null or an int from 1 to 99999999"),
        ("options.workflow_timeout", 0, "options.workflow_timeout must be null or an int from 1 to 99999999"),
        ("options.with_decorators", ["retry:times"], "options.with_decorators[0]: --with 'retry:times': expected key=value"),
        ("options.with_decorators", ["retry", "timeout:seconds='abc'"],
         "options.with_decorators[1]: --with \"timeout:seconds='abc'\": @timeout(seconds='abc'): seconds must be a whole "
         "number of seconds >= 0"),
        ("options.with_decorators", ["retry:times=1000"],
         "options.with_decorators[0]: --with 'retry:times=1000': @retry(times=1000): times must be a whole number from 0 to 10"),
        ("options.with_decorators", ["retry:tiems=2"], "--with 'retry:tiems=2': @retry(tiems=...): unknown argument 'tiems'"),
        ("options.with_decorators", ["timeout"], "--with 'timeout': @timeout: the total is 0 seconds"),
        ("options.with_decorators", ["resources:memory=-1"], "@resources(memory=-1): memory must be a whole number of megabytes > 0"),
        ("options.with_decorators", ["environment:vars=[1]"], "@environment(vars=[1]): vars must be a dict"),
        ("options.with_decorators", [3], "options.with_decorators[0]: must be a string"),
        ("options.tags", "prod", "options.tags must be a list of non-empty strings, got 'prod'"),
        ("options.backend", "k8s", "options.backend must be one of batch, lambda, worker, got 'k8s'"),
        ("options.backend", KeyError, "options.backend is missing"),
        ("options.turbo", True, "options.turbo is not an option"),
        ("options.distributed_map", "yes", "options.distributed_map must be true or false, got 'yes'"),
        ("flow_name", "", "flow_name must be a Python identifier"),
        ("flow_class", "Train Flow", "flow_class must be a Python identifier (the flow's class name), got 'Train Flow'"),
        ("flow_file", "../flow.py", "flow_file must be a path inside code/: '..' component"),
        ("flow_file", "/abs/flow.py", "flow_file must be a path inside code/: absolute path"),
        ("state_machine_name", "a b", "state_machine_name must be 1-80 characters"),
        ("state_machine_name", "x" * 81, "state_machine_name must be 1-80 characters"),
        ("graph", [], "graph must be an object (a flow graph), got []"),
        ("graph.nodes", KeyError, "graph is not a valid flow graph: missing key 'nodes'"),
        ("parameters", {}, "parameters must be a list, got {}"),
        ("parameters.0.type", "date", "parameters[0].type must be one of str, int, float, bool, json, got 'date'"),
        ("parameters.0.name", 5, "parameters[0].name must be a non-empty string, got 5"),
        ("parameters.0.value", KeyError, "parameters[0].value is missing: deploy-time parameter 'deployment_info' must be evaluated by the uploader"),
        ("parameters.0.required", "no", "parameters[0].required must be true or false, got 'no'"),
        ("deploy_time_values", [], "deploy_time_values must be an object, got []"),
        ("decorators", None, "decorators must be an object, got None"),
        ("schedule", {"expression": "cron(61 0 * * ? *)", "timezone": None}, "schedule: cron '61 0 * * ? *': minutes field '61' is out of range 0-59"),
        ("schedule", {"expression": "cron(0 0 * * ? *)", "timezone": "Mars/Olympus"}, "schedule: @schedule: timezone 'Mars/Olympus'"),
        ("schedule", "daily", "schedule must be an object or null, got 'daily'"),
        ("project", 3, "project must be a non-empty string, got 3"),
        ("user", "", "user must be a non-empty string, got ''"),
        ("created", "2026-11-03T10:00:00", "created must be an ISO 8601 time in UTC"),
        ("created", "2026-11-03T11:00:00+01:00", "created must be an ISO 8601 time in UTC"),
        ("created", "yesterday", "created must be an ISO 8601 time in UTC"),
        ("code_sha256", "ABC", "code_sha256 must be 64 lowercase hex digits"),
        ("sdk_version", KeyError, "manifest.json: sdk_version is missing"),
        ("surprise", 1, "manifest.json: surprise is not a manifest field"),
    ],
)
def test_each_invalid_field_is_named(path, value, message):
    with pytest.raises(PackageError) as info:
        Manifest.from_dict(edit(path, value))
    assert message in str(info.value)


def test_every_problem_is_reported_at_once():
    data = good()
    data["options"] = data["options"] | {"max_workers": 0, "backend": "k8s"}
    data["user"] = None
    data["code_sha256"] = "nope"
    with pytest.raises(PackageError) as info:
        Manifest.from_dict(data)
    lines = str(info.value).splitlines()
    assert len(lines) == 4
    assert all(line.startswith("manifest.json: ") for line in lines)
    assert json.dumps(good())  # the fixture itself is JSON


def test_with_decorators_flowdrop_does_not_know_are_accepted():
    # A Metaflow user's `--with kubernetes` or `--with conda` means nothing here, but is no error.
    data = edit("options.with_decorators", ["kubernetes:cpu=4", "conda", "retry:times=0", "timeout:minutes=5"])
    assert Manifest.from_dict(data).options["with_decorators"][0] == "kubernetes:cpu=4"


def test_a_value_nested_too_deeply_is_a_package_error():
    nested: list = []
    for _ in range(600):  # reads fine as JSON, too deep to copy
        nested = [nested]
    with pytest.raises(PackageError, match="manifest.json: a value is nested too deeply to check"):
        Manifest.from_dict(good() | {"decorators": {"deep": nested}})


# -- options.alerts (added after the first manifests: optional) ------------------------------------

HOOK = "https://hooks.slack.com/services/T0/B0/x"


def test_alerts_option_is_optional_and_round_trips():
    data = edit("options.alerts", {"on_error": [HOOK], "on_success": []})
    assert Manifest.from_dict(data).options["alerts"] == {"on_error": [HOOK], "on_success": []}
    assert "alerts" not in Manifest.from_dict(good()).options


def test_bad_alerts_are_named_with_their_path():
    data = edit("options.alerts", {"on_error": ["http://example.com/hook"], "on_failure": [HOOK]})
    with pytest.raises(PackageError) as caught:
        Manifest.from_dict(data)
    message = str(caught.value)
    assert ("manifest.json: options.alerts.on_error[0] 'http://example.com/hook': webhooks must use https://"
            in message)
    assert "manifest.json: options.alerts.on_failure is not an alert kind; use on_error or on_success" in message
    with pytest.raises(PackageError, match="options.alerts must be an object"):
        Manifest.from_dict(edit("options.alerts", [HOOK]))
