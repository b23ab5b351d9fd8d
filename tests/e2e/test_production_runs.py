"""Operating production runs on the embedded stack: terminate (cancel) and resume in the cloud.

One stack for the module, with its defaults (Batch as on AWS, workers that
heartbeat as `flowdrop up` has them). Flows are deployed with
`python flow.py step-functions create`, runs are cancelled and resumed with
the commands users type, and read back through the client API from the
production datastore.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.cli.operator import cli
from flowdrop.datastore import FlowDatastore, open_storage
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import client_env, deploy_flow, wait_for_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with EmbeddedStack(StackOptions(state_dir=tmp_path_factory.mktemp("production-runs"))) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack) -> ApiClient:
    return ApiClient.from_config(stack.config)


def production_datastore(stack, flow: str) -> FlowDatastore:
    return FlowDatastore(open_storage(stack.config.production_datastore, stack.config.aws), flow)


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs (absent, or a zombie its parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def wait_until(condition, seconds: float, poll: float = 0.2):
    """condition()'s first truthy value within `seconds`, else its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(poll)


SLEEPER_FLOW = '''
import time

from flowdrop import FlowSpec, step


class Sleeper{backend}Flow(FlowSpec):

    @step
    def start(self):
        print("sleeping", flush=True)
        time.sleep(600)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    Sleeper{backend}Flow()
'''


@pytest.mark.parametrize("backend", ["batch", "worker"])
def test_cancel_stops_a_run_blocked_in_a_long_task_its_process_and_says_aborted(stack, api, tmp_path, backend):
    from flowdrop.client import Run

    flow = f"Sleeper{backend.title()}Flow"
    flow_file = tmp_path / "sleeper_flow.py"
    flow_file.write_text(textwrap.dedent(SLEEPER_FLOW.format(backend=backend.title())))
    deploy_flow(stack, flow_file, backend=backend)
    run_id = api.trigger(flow, {})["run_id"]
    ds = production_datastore(stack, flow)
    # The task's first attempt records its process id as it starts.
    attempt = wait_until(lambda: ds.read_attempt(run_id, "start", "start", 0), 90)
    assert attempt and attempt["status"] == "running", attempt
    pid = int(attempt["pid"])
    assert not process_gone(pid)

    result = CliRunner().invoke(cli, ["cancel", run_id, "--flow", flow, "--reason", "stuck"],
                                env=client_env(stack, FLOWDROP_USER="ada"))
    assert result.exit_code == 0, result.output
    assert f"Cancelled {flow}/{run_id}: it ends ABORTED (terminated by ada: stuck)" in result.output
    # Within seconds, not the 600 s the task would sleep: the run ends, and so does its task's process.
    assert wait_for_run(api, flow, run_id, timeout=20)["status"] == "ABORTED"
    assert wait_until(lambda: process_gone(pid), 20), f"task process {pid} of {flow}/{run_id} still runs"
    assert ds.read_done(run_id, "start", "start") is None  # the step never finished

    production_client(stack.config)
    run = Run(f"{flow}/{run_id}")
    assert run.status["status"] == "aborted" and "terminated by ada: stuck" in run.status["cause"]
    assert run.finished and not run.successful and run.finished_at is not None

    again = CliRunner().invoke(cli, ["cancel", f"{flow}/{run_id}"], env=client_env(stack))
    assert again.exit_code != 0 and "already ended: ABORTED" in again.output
    listed = CliRunner().invoke(cli, ["runs", flow, "--status", "aborted"], env=client_env(stack))
    assert run_id in listed.output and "ABORTED" in listed.output
