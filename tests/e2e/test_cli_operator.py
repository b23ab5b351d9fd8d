"""`flowdrop ...` operator commands, in-process with click's CliRunner, against one embedded stack.

The stack is the module's; flows are deployed by upload beforehand (two
versions of ParameterFlow, HourlyFlow with its rule). Each command reads the
stack's client config through FLOWDROP_CONFIG, as a user's shell would.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operator import cli
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, examples_dir, wait_for_run

EXAMPLES = examples_dir()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with EmbeddedStack(StackOptions(state_dir=tmp_path_factory.mktemp("cli-stack"), max_tasks=4,
                                    heartbeat_seconds=60)) as running:
        deploy_flow(running, EXAMPLES / "parameter_flow.py", "--with", "retry")
        deploy_flow(running, EXAMPLES / "parameter_flow.py")  # same code, new options: version 2
        deploy_flow(running, EXAMPLES / "hourly_flow.py")
        yield running


@pytest.fixture
def flowdrop(stack):
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(cli, list(args), env={"FLOWDROP_CONFIG": str(stack.config_path)},
                               catch_exceptions=False)
        assert "Traceback" not in result.output
        return result

    return invoke


@pytest.fixture(scope="module")
def triggered(stack):
    """A finished ParameterFlow run started with `flowdrop trigger`."""
    result = CliRunner().invoke(cli, ["trigger", "ParameterFlow", "--param", "alpha=0.5"],
                                env={"FLOWDROP_CONFIG": str(stack.config_path)})
    assert result.exit_code == 0, result.output
    run_id = re.search(r"ParameterFlow/(sfn-[\w-]+)", result.output).group(1)
    wait_for_run(ApiClient.from_config(stack.config), "ParameterFlow", run_id)
    return run_id


pytestmark = pytest.mark.slow


def test_flows_lists_the_production_versions_and_schedules(flowdrop):
    result = flowdrop("flows")
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "version 2" in lines["ParameterFlow"]
    assert "cron(0 * * * ? *)" in lines["HourlyFlow"]
    one = flowdrop("flows", "HourlyFlow")  # one flow: what starts it
    assert one.exit_code == 0, one.output
    assert "  schedule flowdrop-HourlyFlow (EventBridge Scheduler, group " in one.output
    assert "): cron(0 * * * ? *) UTC, overlap skip" in one.output


def test_trigger_converts_parameters_and_status_shows_every_step(flowdrop, triggered):
    result = flowdrop("status", f"ParameterFlow/{triggered}")
    assert result.exit_code == 0, result.output
    assert f"ParameterFlow/{triggered}  SUCCEEDED" in result.output
    assert re.search(r"start\s+SUCCEEDED", result.output) and re.search(r"end\s+SUCCEEDED", result.output)
    same = flowdrop("status", triggered, "--flow", "ParameterFlow")
    assert same.output == result.output


def test_runs_lists_the_run(flowdrop, triggered):
    result = flowdrop("runs", "ParameterFlow")
    assert result.exit_code == 0 and triggered in result.output and "SUCCEEDED" in result.output
    assert flowdrop("runs", "ParameterFlow", "--status", "failed").output.strip() == "No failed runs of ParameterFlow."


def test_logs_shows_task_output_from_the_production_datastore(flowdrop, triggered):
    result = flowdrop("logs", f"ParameterFlow/{triggered}", "start")
    assert result.exit_code == 0, result.output
    assert f"== ParameterFlow/{triggered}/start/start" in result.output
    assert "alpha is 0.500000" in result.output
    everything = flowdrop("logs", f"ParameterFlow/{triggered}")
    assert "alpha is still 0.500000" in everything.output


def test_logs_takes_a_step_or_task_pathspec_as_metaflows_logs_does(flowdrop, triggered):
    step = flowdrop("logs", f"ParameterFlow/{triggered}/start")
    assert f"== ParameterFlow/{triggered}/start/start" in step.output and "/end/end" not in step.output
    task = flowdrop("logs", f"ParameterFlow/{triggered}/end/end")
    assert f"== ParameterFlow/{triggered}/end/end" in task.output and "alpha is still 0.500000" in task.output
    assert "No such task of" in flowdrop("logs", f"ParameterFlow/{triggered}/end/nope").output
    bare = flowdrop("logs", f"{triggered}/start", "--flow", "ParameterFlow")
    assert f"== ParameterFlow/{triggered}/start/start" in bare.output
    clash = flowdrop("logs", f"ParameterFlow/{triggered}/end", "start")
    assert clash.exit_code != 0 and "names step 'end' but STEP says 'start'" in clash.output


def test_trigger_with_a_wrong_parameter_lists_the_problem(flowdrop):
    result = flowdrop("trigger", "ParameterFlow", "--param", "alpha=fast", "--param", "beta=1")
    assert result.exit_code == 2
    assert "alpha" in result.output and "beta" in result.output


def test_rollback_moves_production_back_and_an_unknown_version_is_a_message(flowdrop, stack):
    result = flowdrop("rollback", "ParameterFlow", "--to", "1")
    assert result.exit_code == 0, result.output
    assert "version 1" in result.output
    assert ApiClient.from_config(stack.config).get_flow("ParameterFlow")["production_version"] == 1
    missing = flowdrop("rollback", "ParameterFlow", "--to", "9")
    assert missing.exit_code == 1 and "no version 9" in missing.output
    assert flowdrop("rollback", "ParameterFlow", "--to", "2").exit_code == 0


def test_schedule_fire_starts_the_scheduled_run_once_per_minute(flowdrop, stack):
    first = flowdrop("schedule", "fire", "HourlyFlow")
    assert first.exit_code == 0, first.output
    run_id = re.search(r"HourlyFlow/(sfn-sched-\d{8}T\d{4}Z)", first.output).group(1)
    answer = wait_for_run(ApiClient.from_config(stack.config), "HourlyFlow", run_id)
    assert answer["status"] == "SUCCEEDED"
    again = flowdrop("schedule", "fire", "HourlyFlow")
    if run_id in again.output:  # still the same minute: the same run, not a second one
        assert "already started" in again.output
    unscheduled = flowdrop("schedule", "fire", "ParameterFlow")
    assert unscheduled.exit_code == 1 and "no enabled schedule" in unscheduled.output


def test_errors_are_messages_with_a_non_zero_exit(flowdrop, stack, tmp_path):
    bare = flowdrop("status", "sfn-abc")
    assert bare.exit_code == 1 and "--flow" in bare.output
    unknown = flowdrop("status", "ParameterFlow/sfn-nope")
    assert unknown.exit_code == 1 and "sfn-nope" in unknown.output
    result = CliRunner().invoke(cli, ["flows"], env={"FLOWDROP_CONFIG": str(tmp_path / "none.json")})
    assert result.exit_code == 1 and "not configured" in result.output and "Traceback" not in result.output
