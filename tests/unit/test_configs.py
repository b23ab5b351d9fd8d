"""Config, config_expr and IncludeFile: reading declarations, computing values, evaluating decorator arguments.

Pure parts with literal inputs (the static reader, the safe evaluator, resolving a graph, the manifest's
frozen values); computing values with real files; and the flow command line in a subprocess, as a user runs
it: a bad config file is one message naming the config and the file, and a run's values reach every task,
forked or started as its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowdrop.errors import FlowConfigError, FlowError
from flowdrop.graph import parse_flow
from flowdrop.graph.configs import resolve_configs
from flowdrop.model.configs import ExpressionError, evaluate_expression, parse_config_text
from flowdrop.user_configs import Config, ConfigValue, compute_config_values, config_requests

FLOW = '''
from flowdrop import Config, FlowSpec, IncludeFile, Parameter, config_expr, environment, project, resources, step


def parse_pairs(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line)


@project(name=config_expr("cfg.project"))
class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default="cfg.json")
    pairs = Config("pairs", default_value="a=1", parser=parse_pairs)
    env_cfg = Config("env_cfg", default_value={"vars": {"FROM_CONFIG": "yes"}})
    data = IncludeFile("data", default="data.bin", is_text=False)
    alpha = Parameter("alpha", default=config_expr("cfg.cpu"), type=int)

    @environment(vars={"MODE": cfg.mode, "N": config_expr("str(cfg.cpu)")})
    @resources(cpu=cfg.cpu)
    @step
    def start(self):
        import os
        self.mode = os.environ["MODE"]
        self.n = os.environ["N"]
        self.cpu = self.cfg.cpu
        self.next(self.end)

    @environment(**env_cfg)
    @step
    def end(self):
        import os
        self.from_config = os.environ["FROM_CONFIG"]


if __name__ == "__main__":
    ConfiguredFlow()
'''


# -- the static reader and resolving the graph -----------------------------------------------


def test_configs_and_include_files_are_read_from_source():
    graph = parse_flow(FLOW, "configured_flow.py")
    assert [(c.name, c.attribute) for c in graph.configs] == [("cfg", "cfg"), ("pairs", "pairs"),
                                                              ("env_cfg", "env_cfg")]
    data = graph.parameter("data")
    assert data.include == {"is_text": False, "encoding": "utf-8"} and data.default == "data.bin"
    assert graph.parameter("alpha").deploy_time  # a default over configs is computed at run start or deploy time
    environment = graph["start"].decorator("environment")
    assert environment.expressions == (("vars", "{'MODE': cfg.mode, 'N': config_expr('str(cfg.cpu)')}"),)
    assert graph["end"].decorator("environment").expressions == ((None, "env_cfg"),)
    assert graph.flow_decorator("project").expressions == (("name", "config_expr('cfg.project')"),)


def test_resolving_puts_config_values_in_decorator_arguments():
    graph = resolve_configs(parse_flow(FLOW, "configured_flow.py"),
                            {"cfg": {"project": "demo", "mode": "fast", "cpu": 4}, "pairs": {},
                             "env_cfg": {"vars": {"A": "1"}}})
    assert graph["start"].decorator("environment").attributes == {"vars": {"MODE": "fast", "N": "4"}}
    assert graph["end"].decorator("environment").attributes == {"vars": {"A": "1"}}
    assert graph["start"].decorator("resources").attributes == {"cpu": 4}
    assert graph.flow_decorator("project").attributes == {"name": "demo"}
    assert "expressions" not in graph["start"].decorator("resources").to_dict()


def test_a_config_value_a_decorator_cannot_take_is_an_error_naming_step_line_and_config():
    with pytest.raises(FlowConfigError) as err:
        resolve_configs(parse_flow(FLOW, "configured_flow.py"),
                        {"cfg": {"project": "demo", "mode": "fast", "cpu": "many"}, "pairs": {},
                         "env_cfg": {"vars": {}, "other": 1}})
    text = str(err.value)
    assert "configured_flow.py:18: step 'start': @resources(cpu='many')" in text and "from the flow's configs" in text
    assert "step 'end': @environment(other=...): unknown argument 'other'" in text


def test_resolving_refuses_missing_or_unknown_config_values():
    graph = parse_flow(FLOW, "configured_flow.py")
    with pytest.raises(FlowConfigError) as err:
        resolve_configs(graph, {"cfg": {}, "other": {}})
    assert "config 'other' is not declared by the flow (it declares: cfg, env_cfg, pairs)" in str(err.value)
    assert "configured_flow.py:12: flow 'ConfiguredFlow': config 'pairs' has no value" in str(err.value)


def test_without_configs_a_non_literal_decorator_argument_is_still_a_flow_error():
    source = FLOW.replace('    cfg = Config("cfg", default="cfg.json")\n', "").replace(
        '    pairs = Config("pairs", default_value="a=1", parser=parse_pairs)\n', "").replace(
        '    env_cfg = Config("env_cfg", default_value={"vars": {"FROM_CONFIG": "yes"}})\n', "")
    with pytest.raises(FlowError) as err:
        parse_flow(source, "configured_flow.py")
    assert "@resources(cpu=cfg.cpu) is not a literal" in str(err.value)


# -- the safe evaluator -------------------------------------------------------------------------


def test_expressions_read_fields_items_and_call_pure_builtins():
    names = {"cfg": {"a": {"b": 2}, "name": "Ada", "items": [1, 2, 3]}}
    assert evaluate_expression("cfg.a.b * 10 + cfg['a']['b']", names) == 22
    assert evaluate_expression("config_expr('str(cfg.a.b)')", names) == "2"
    assert evaluate_expression("f'{cfg.name.lower()}-{len(cfg[\"items\"])}'", names) == "ada-3"
    assert evaluate_expression("cfg.get('missing', 'x') if cfg.a.b > 1 else 'no'", names) == "x"
    assert evaluate_expression("{**cfg.a, 'c': max(cfg['items'])}", names) == {"b": 2, "c": 3}


@pytest.mark.parametrize("text, message", [
    ("open('/etc/passwd')", "calls open, which a config expression cannot"),
    ("cfg.__class__", "has no field '__class__'"),
    ("other.x", "name 'other' is not a config of the flow (configs: cfg)"),
    ("cfg.a.missing", "cfg.a has no field 'missing'"),
    ("[x for x in cfg]", "is not supported in a config expression"),
    ("cfg.", "is not a Python expression"),
])
def test_expressions_outside_the_safe_subset_are_refused_with_the_reason(text, message):
    with pytest.raises(ExpressionError) as err:
        evaluate_expression(text, {"cfg": {"a": {}}})
    assert message in str(err.value)


# -- computing values -------------------------------------------------------------------------------


def test_bad_config_json_names_the_config_and_where_the_text_came_from():
    with pytest.raises(ValueError) as err:
        parse_config_text("cfg", '{"cpu": 4,}', "file conf/prod.json")
    assert str(err.value).startswith("config 'cfg': file conf/prod.json is not valid JSON: ")
    assert "line 1 column 11" in str(err.value)


def _flow_class_and_graph(tmp_path: Path):
    from tests.helpers.runtime import load_flow

    path = tmp_path / "configured_flow.py"
    path.write_text(textwrap.dedent(FLOW))
    cls, graph, _module = load_flow(path)
    return cls, graph


def test_values_come_from_files_values_and_defaults_through_parsers(tmp_path):
    cls, graph = _flow_class_and_graph(tmp_path)
    (tmp_path / "cfg.json").write_text('{"project": "p", "mode": "m", "cpu": 2}')
    (tmp_path / "other.json").write_text('{"project": "q", "mode": "n", "cpu": 8}')
    assert compute_config_values(cls, graph, {}, {}, folder=tmp_path) == {
        "cfg": {"project": "p", "mode": "m", "cpu": 2}, "pairs": {"a": "1"},
        "env_cfg": {"vars": {"FROM_CONFIG": "yes"}}}
    values = compute_config_values(cls, graph, {"cfg": "other.json"}, {"pairs": "b=2\nc=3"}, folder=tmp_path)
    assert values["cfg"] == {"project": "q", "mode": "n", "cpu": 8} and values["pairs"] == {"b": "2", "c": "3"}


def test_a_bad_config_file_is_one_error_naming_the_config_the_file_and_the_declaration(tmp_path):
    cls, graph = _flow_class_and_graph(tmp_path)
    (tmp_path / "bad.json").write_text('{"cpu": }')
    with pytest.raises(FlowConfigError) as err:
        compute_config_values(cls, graph, {"cfg": "bad.json", "nope": "x.json"}, {"cfg": "{}"}, folder=tmp_path)
    assert err.value.problems[0] == "--config nope: the flow has no config 'nope' (it has: cfg, env_cfg, pairs)"
    assert "configured_flow.py:11: config 'cfg': give a file (--config) or a value (--config-value), not both" \
        in err.value.problems[1]
    with pytest.raises(FlowConfigError) as err:
        compute_config_values(cls, graph, {"cfg": "bad.json"}, {}, folder=tmp_path)
    assert "config 'cfg': file bad.json is not valid JSON: Expecting value at line 1 column 9" in str(err.value)


def test_a_required_config_without_a_value_says_how_to_give_one(tmp_path):
    source = FLOW.replace('Config("cfg", default="cfg.json")', 'Config("cfg", required=True)')
    (tmp_path / "configured_flow.py").write_text(textwrap.dedent(source))
    from tests.helpers.runtime import load_flow

    cls, graph, _ = load_flow(tmp_path / "configured_flow.py")
    with pytest.raises(FlowConfigError) as err:
        compute_config_values(cls, graph, {}, {}, folder=tmp_path)
    assert "config 'cfg' is required and has no value: give --config cfg FILE or --config-value cfg JSON" \
        in str(err.value)


def test_the_environment_gives_configs_and_the_command_line_wins():
    env = {"METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"cfg": {"cpu": 1}, "pairs": "x=1"}),
           "FLOWDROP_FLOW_CONFIG": json.dumps({"cfg": "from_env.json"})}
    paths, texts = config_requests({}, {"cfg": '{"cpu": 9}'}, env)
    assert texts == {"cfg": '{"cpu": 9}', "pairs": "x=1"} and paths == {}
    with pytest.raises(FlowConfigError) as err:
        config_requests({}, {}, {"METAFLOW_FLOW_CONFIG": "[1]"})
    assert "$METAFLOW_FLOW_CONFIG must be a JSON object by config name, got list" in str(err.value)


def test_a_config_value_is_immutable_reads_as_attributes_and_equals_its_dict():
    import pickle

    value = ConfigValue({"nested": {"value": 43}, "items": [1, {"a": 2}]})
    assert value.nested.value == 43 and value["nested"]["value"] == 43 and value["items"][1].a == 2
    assert value == {"nested": {"value": 43}, "items": (1, {"a": 2})}
    for mutate in (lambda: value.__setitem__("x", 1), lambda: setattr(value, "x", 1), value.clear,
                   lambda: value.nested.__setitem__("value", 1)):
        with pytest.raises(TypeError, match="immutable"):
            mutate()
    again = pickle.loads(pickle.dumps(value))
    assert isinstance(again, ConfigValue) and again.to_dict() == {"nested": {"value": 43}, "items": [1, {"a": 2}]}
    assert json.loads(json.dumps(value)) == again.to_dict()


def test_config_takes_a_path_or_a_value_not_both():
    with pytest.raises(FlowConfigError, match="give default \\(a path\\) or default_value, not both"):
        Config("cfg", default="a.json", default_value={})


# -- the manifest carries the frozen values ------------------------------------------------------


def test_the_manifest_keeps_frozen_config_values_and_flows_without_configs_keep_their_form():
    from datetime import datetime, timezone

    from flowdrop.cli.uploader import DeployOptions, DeployTarget, build_manifest
    from flowdrop.codepackage.manifest import Manifest

    values = {"cfg": {"project": "demo", "mode": "m", "cpu": 2}, "pairs": {}, "env_cfg": {"vars": {}}}
    graph = resolve_configs(parse_flow(FLOW, "configured_flow.py"), values)
    now = datetime(2026, 12, 3, tzinfo=timezone.utc)
    manifest = build_manifest(graph, "ConfiguredFlow", "configured_flow.py", DeployTarget("ConfiguredFlow"),
                              DeployOptions(), {"alpha": 2}, "ada", now, "0" * 64, "1.0",
                              configs=values)
    again = Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())))
    assert again.configs == values
    plain = build_manifest(graph, "ConfiguredFlow", "configured_flow.py", DeployTarget("ConfiguredFlow"),
                           DeployOptions(), {"alpha": 2}, "ada", now, "0" * 64, "1.0")
    assert "configs" not in plain.to_dict()
    broken = {**manifest.to_dict(), "configs": ["cfg"]}
    with pytest.raises(Exception, match="configs must be an object"):
        Manifest.from_dict(broken)


# -- the command line, as a user runs it ----------------------------------------------------------


def _flow_command(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWDROP_", "METAFLOW_"))}
    base.update({"FLOWDROP_CONFIG": str(tmp_path / "absent.json"), "FLOWDROP_USER": "ada", **(env or {})})
    return subprocess.run([sys.executable, "configured_flow.py", "--no-pylint", *args], cwd=tmp_path, env=base,
                          capture_output=True, text=True, timeout=120)


def test_a_bad_config_file_on_the_command_line_is_one_message_and_exit_1(tmp_path):
    (tmp_path / "configured_flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "bad.json").write_text("{'cpu': 2}")
    done = _flow_command(tmp_path, "--config", "cfg", "bad.json", "show")
    assert done.returncode == 1, done.stderr
    assert "configured_flow.py:11: config 'cfg': file bad.json is not valid JSON: Expecting property name " \
           "enclosed in double quotes" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("launcher", ["fork", "subprocess"])
def test_a_runs_config_values_and_included_file_reach_every_task(tmp_path, launcher, monkeypatch):
    from flowdrop.client import Flow, set_datastore

    (tmp_path / "configured_flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "data.bin").write_bytes(b"\x00\xffbytes")
    done = _flow_command(tmp_path, "--config-value", "cfg", '{"project": "demo", "mode": "quick", "cpu": 3}',
                         "--datastore-root", str(tmp_path / "ds"), "run", env={"FLOWDROP_LAUNCHER": launcher})
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("FLOWDROP_USER", "ada")  # the runs' user: the client's default namespace finds them
    set_datastore(str(tmp_path / "ds"), production=None)
    run = Flow("ConfiguredFlow").latest_run
    start = run["start"].task
    assert (start["mode"].data, start["n"].data, start["cpu"].data) == ("quick", "3", 3)
    assert start["alpha"].data == 3  # Parameter(default=config_expr("cfg.cpu"))
    assert run["end"].task["data"].data == b"\x00\xffbytes"
    assert run["end"].task["pairs"].data == {"a": "1"} and run["end"].task["from_config"].data == "yes"


def test_resume_keeps_the_origin_runs_config_values_and_refuses_new_ones(tmp_path, monkeypatch):
    from flowdrop.client import Run, set_datastore

    (tmp_path / "configured_flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "data.bin").write_bytes(b"data")
    store = ["--datastore-root", str(tmp_path / "ds")]
    done = _flow_command(tmp_path, "--config-value", "cfg", '{"project": "demo", "mode": "first", "cpu": 2}', *store,
                         "run", "--run-id-file", "origin")
    assert done.returncode == 0, done.stderr
    # No cfg.json on disk and no --config-value: only the origin's values can make `cfg.mode` work.
    done = _flow_command(tmp_path, *store, "resume", "start", "--run-id-file", "resumed")
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("FLOWDROP_USER", "ada")
    set_datastore(str(tmp_path / "ds"), production=None)
    start = Run(f"ConfiguredFlow/{(tmp_path / 'resumed').read_text()}")["start"].task
    assert start["mode"].data == "first" and start["cfg"].data.cpu == 2
    done = _flow_command(tmp_path, "--config-value", "cfg", "{}", *store, "resume")
    assert done.returncode == 2 and "--config and --config-value cannot be given with resume" in done.stderr


# -- the deployer: decorators from the frozen values, no user code --------------------------------


def _candidate(values: dict, claimed_values: dict | None = None):
    from datetime import datetime, timezone

    from flowdrop.cli.uploader import DeployOptions, DeployTarget, build_manifest
    from flowdrop.deployer.candidate import check_candidate
    from flowdrop.deployer.settings import DeployerSettings

    graph = resolve_configs(parse_flow(FLOW, "configured_flow.py"), values)
    manifest = build_manifest(graph, "ConfiguredFlow", "configured_flow.py", DeployTarget("demo.prod.ConfiguredFlow",
                              "demo", "prod"), DeployOptions(production=True), {"alpha": 2}, "ada",
                              datetime.now(timezone.utc), "0" * 64, "1.0",
                              configs=values if claimed_values is None else claimed_values)
    settings = DeployerSettings(bucket="b", deployments_table="d", idempotency_table="i",
                                state_machine_role_arn="arn:aws:iam::123456789012:role/r", scheduled_function_arn="f")
    return check_candidate("b", "packages/demo.prod.ConfiguredFlow/" + "0" * 64 + ".tar.gz", manifest,
                           textwrap.dedent(FLOW), settings)


def test_the_deployer_compiles_decorators_from_the_frozen_config_values():
    values = {"cfg": {"project": "demo", "mode": "m", "cpu": 6}, "pairs": {}, "env_cfg": {"vars": {}}}
    candidate = _candidate(values)
    assert candidate.graph["start"].decorator("resources").attributes == {"cpu": 6}
    assert '"Value": "6"' in candidate.definition or '"Value":"6"' in candidate.definition
    other = _candidate({**values, "cfg": {**values["cfg"], "cpu": 7}})
    assert other.fingerprint != candidate.fingerprint  # another config value is another deployment


def test_the_deployer_refuses_a_manifest_whose_config_values_disagree_with_its_graph():
    values = {"cfg": {"project": "demo", "mode": "m", "cpu": 6}, "pairs": {}, "env_cfg": {"vars": {}}}
    with pytest.raises(Exception) as err:
        _candidate(values, {**values, "cfg": {**values["cfg"], "cpu": 9}})
    assert "manifest.json: its graph disagrees with the flow's source" in str(err.value)
    assert "resources" in str(err.value)
    with pytest.raises(FlowConfigError) as err:
        _candidate(values, {"cfg": values["cfg"]})
    assert "config 'pairs' has no value" in str(err.value)


def test_runner_gives_configs_as_metaflow_s_runner_does(tmp_path, monkeypatch):
    from flowdrop import Runner
    from flowdrop.cli.runner import command_line

    assert command_line({"config": {"cfg": "a.json"}, "config_value": [("pairs", {"k": 1})], "with_": ("retry",)}) \
        == ["--config", "cfg", "a.json", "--config-value", "pairs", '{"k": 1}', "--with", "retry"]
    (tmp_path / "configured_flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "data.bin").write_bytes(b"data")
    monkeypatch.setenv("FLOWDROP_USER", "ada")
    with Runner(str(tmp_path / "configured_flow.py"), cwd=tmp_path, show_output=False,
                datastore_root=str(tmp_path / "ds"), env={"FLOWDROP_CONFIG": str(tmp_path / "absent.json")},
                config_value=[("cfg", {"project": "demo", "mode": "runner", "cpu": 1})]) as runner:
        done = runner.run()
        assert done.status == "successful", done.stderr
        assert done.run["start"].task["mode"].data == "runner"
