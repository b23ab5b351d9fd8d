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


def test_with_accepts_good_and_unknown_decorators(env):
    # Metaflow flows are run with `--with kubernetes` and the like; flowdrop ignores what it does not know.
    result = invoke("foreach_flow.py", ["--with", "retry:times=2", "--with", "kubernetes:cpu=4",
                                        "--with", "timeout:minutes=5", "show"], env)
    assert result.exit_code == 0, result.output
    assert "Step start" in result.stdout
