"""On one embedded stack (loopback): the seed's DebugFlow status told the same by every reader, and a load of
triggers from several threads, every run accepted and listed.

The DebugFlow production run fails in `b`; Step Functions stops the Parallel,
but `a`'s task succeeded, and the API, `flowdrop status` and the client API
all say so. The load test makes no timing assertion: bench/triggers.py prints
the rate.
"""

from __future__ import annotations

import re
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.cli.operator import cli
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, wait_for_run
from tests.helpers.debug_flow import debug_flow_where_a_ends_first

pytestmark = pytest.mark.slow

TRIGGERS = 200
THREADS = 8

LOAD_FLOW = '''
from flowdrop import FlowSpec, Parameter, step


class LoadFlow(FlowSpec):
    number = Parameter("number", default=0)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LoadFlow()
'''


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with EmbeddedStack(StackOptions(state_dir=tmp_path_factory.mktemp("requests-stack"), max_tasks=2)) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack) -> ApiClient:
    return ApiClient.from_config(stack.config)


def test_the_debug_flow_production_run_shows_a_succeeded_and_b_failed_everywhere(stack, api, tmp_path):
    deploy_flow(stack, debug_flow_where_a_ends_first(tmp_path))  # the demo's default backend
    run_id = api.trigger("DebugFlow", {})["run_id"]
    answer = wait_for_run(api, "DebugFlow", run_id)
    assert answer["status"] == "FAILED"
    assert answer["steps"]["start"] == "SUCCEEDED"
    assert answer["steps"]["a"] == "SUCCEEDED", answer["steps"]  # its task succeeded; Step Functions stopped the branch
    assert answer["steps"]["b"] == "FAILED"
    assert "join" not in answer["steps"] or answer["steps"]["join"] != "SUCCEEDED"

    result = CliRunner().invoke(cli, ["status", f"DebugFlow/{run_id}"], env={"FLOWDROP_CONFIG": str(stack.config_path)})
    assert result.exit_code == 0, result.output
    lines = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(\w+)\s+([A-Z_]+)\s*$", result.output, re.MULTILINE)}
    assert lines["a"] == "SUCCEEDED" and lines["b"] == "FAILED" and lines["start"] == "SUCCEEDED", result.output
    assert f"DebugFlow/{run_id}" in result.output and "FAILED" in result.output.splitlines()[0]

    from flowdrop import Run

    production_client(stack.config)
    run = Run(f"DebugFlow/{run_id}")
    assert run["a"].task.successful and run["a"].task.data.x == 1
    assert not run["b"].task.successful and not run.successful


def test_200_triggers_from_8_threads_are_all_accepted_and_listed(stack, api, tmp_path):
    flow_file = tmp_path / "load_flow.py"
    flow_file.write_text(textwrap.dedent(LOAD_FLOW))
    deploy_flow(stack, flow_file, backend="worker")  # runs queue on the stack's two workers; triggers do not wait

    def trigger(index: int) -> dict:
        return ApiClient.from_config(stack.config).trigger("LoadFlow", {"number": index})

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(trigger, range(TRIGGERS)))
    assert all(a["started"] and a["run_id"].startswith("sfn-") for a in answers)
    started = {a["run_id"] for a in answers}
    assert len(started) == TRIGGERS  # distinct run ids

    listed, token, pages = [], None, 0
    while True:
        page = api.list_runs("LoadFlow", limit=37, next_token=token)
        listed += [run["run_id"] for run in page["runs"]]
        pages += 1
        token = page.get("next_token")
        if not token:
            break
    assert pages == -(-TRIGGERS // 37) and len(listed) == TRIGGERS and set(listed) == started
    assert {run["run_id"] for run in api.iter_runs("LoadFlow")} == started  # the client's own paging
