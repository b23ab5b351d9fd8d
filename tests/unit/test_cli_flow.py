"""The flow CLI's group options, in-process with click's CliRunner: `--with` is checked before any command runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flowdrop.cli.flow import build_cli
from tests.helpers.runtime import load_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"FLOWDROP_CONFIG": str(tmp_path / "absent.json"), "FLOWDROP_USER": "alice"}


def invoke(flow: str, args: list[str], env: dict[str, str]):
    cls, graph, _module = load_flow(EXAMPLES / flow)
    return CliRunner().invoke(build_cli(cls, EXAMPLES / flow, graph), args, env=env, catch_exceptions=False)


def test_with_lists_every_bad_decorator_argument(env):
    result = invoke("parameter_flow.py", ["--with", "timeout:seconds='abc'", "--with", "retry:times=99",
                                          "--with", "retry:times", "show"], env)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "--with \"timeout:seconds='abc'\": @timeout(seconds='abc'): seconds must be a whole number of seconds >= 0",
        "--with 'retry:times=99': @retry(times=99): times must be a whole number from 0 to 10",
        "--with 'retry:times': expected key=value, got 'times'",
    ]
    assert "Step start" not in result.stdout  # the command did not run


def test_with_catch_is_refused_on_a_flow_with_a_foreach(env):
    result = invoke("foreach_flow.py", ["--with", "catch", "show"], env)
    assert result.exit_code == 2, result.output
    assert "--with 'catch': @catch is not supported in foreach split steps, and this flow has start" in result.stderr


def test_with_accepts_good_and_metaflow_decorators(env):
    # Metaflow flows are run with `--with kubernetes` and the like; flowdrop accepts and ignores Metaflow's others.
    result = invoke("foreach_flow.py", ["--with", "retry:times=2", "--with", "kubernetes:cpu=4",
                                        "--with", "timeout:minutes=5", "show"], env)
    assert result.exit_code == 0, result.output
    assert "Step start" in result.stdout


def test_with_refuses_a_mistyped_decorator_listing_the_known_ones(env):
    result = invoke("foreach_flow.py", ["--with", "retyr", "--with", "retry", "show"], env)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("--with 'retyr': no step decorator named 'retyr'. Did you mean retry? Known: ")
    assert "catch, conda, environment" in result.stderr and "Step start" not in result.stdout


def test_run_with_is_checked_too(env, tmp_path):
    result = invoke("linear_flow.py", ["--datastore-root", str(tmp_path), "run", "--with", "tiemout"], env)
    assert result.exit_code == 2 and "no step decorator named 'tiemout'. Did you mean timeout?" in result.stderr


def test_output_dot_is_graphviz(env):
    result = invoke("foreach_flow.py", ["--quiet", "output-dot"], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        'digraph "ForeachFlow" {', "    rankdir=TB;", "    node [shape=box, style=rounded];",
        '    "start" [label="start (foreach)"];', '    "square" [label="square (linear)"];',
        '    "join" [label="join (join)"];', '    "end" [label="end (end)"];',
        '    "start" -> "square" [label="foreach items"];', '    "square" -> "join";', '    "join" -> "end";', "}",
    ]


def test_no_command_checks_the_flow_as_metaflow_does(env):
    result = invoke("linear_flow.py", [], env)
    assert result.exit_code == 0, result.output
    assert "The graph looks good!" in result.stderr and "Pyflakes is happy!" in result.stderr


def test_datastore_location_and_root_together_are_refused(env, tmp_path):
    result = invoke("linear_flow.py", ["--datastore", str(tmp_path), "--datastore-root", str(tmp_path), "show"], env)
    assert result.exit_code == 2 and "give one of them" in result.stderr


def test_branch_and_production_at_top_level_reach_step_functions(env, monkeypatch):
    import click

    from flowdrop.cli.flow import FlowContext
    from flowdrop.cli.step_functions import _target
    from flowdrop.config import load_config

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    flow = Path(__file__).resolve().parents[1] / "flows" / "project_flow.py"
    cls, graph, _module = load_flow(flow)
    cli = build_cli(cls, flow, graph)
    obj = FlowContext(cls, flow, graph, load_config())
    obj.branch, obj.production = "feature", True  # python project_flow.py --branch feature --production ...
    group = click.Context(cli, obj=obj)
    create = click.Context(cli.get_command(group, "step-functions").commands["create"], parent=group, obj=obj)
    assert _target(create, None, None, False).state_machine_name == "demo.prod.feature.ProjectFlow"
    assert _target(create, None, "other", False).state_machine_name == "demo.prod.other.ProjectFlow"
    obj.branch, obj.production = None, False
    assert _target(create, None, None, False).state_machine_name == "demo.user.alice.ProjectFlow"


def test_a_task_command_loads_neither_the_uploader_nor_the_inspectors(tmp_path):
    """`python flow.py step ...` (every Batch and Lambda task) never imports what only deploying, reading, or
    running the flow locally (run, resume, pyflakes) needs."""
    import subprocess
    import sys

    probe = (f"import runpy, sys; sys.argv = ['linear_flow.py', '--datastore', {str(tmp_path / 'ds')!r}, 'step', "
             "'start', '--run-id', 'r1', '--task-id', 'start']\n"
             "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit as done:\n"
             "    assert not done.code, done.code\n"
             "loaded = [m for m in ('flowdrop.cli.step_functions', 'flowdrop.cli.uploader', 'flowdrop.cli.flow_inspect',"
             " 'flowdrop.cli.flow_run', 'flowdrop.cli.lint', 'flowdrop.runtime.scheduler', 'rich', 'difflib')"
             " if m in sys.modules]\nprint('LOADED', loaded)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=EXAMPLES, capture_output=True, text=True,
                          env={**__import__("os").environ, "FLOWDROP_CONFIG": str(tmp_path / "none.json")})
    assert "LOADED []" in done.stdout, done.stdout + done.stderr
