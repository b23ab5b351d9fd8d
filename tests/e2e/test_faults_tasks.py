"""Faults injected into production tasks on the embedded stack: the task's process killed mid-task.

The Batch stand-in and the worker each run a task as a process; the test
SIGKILLs it while the step's code runs (as an instance reclaimed or an OOM
kill would). The step has @retry(times=1): the next attempt runs and
succeeds, the run SUCCEEDS, and its status and the client API agree on it.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, wait_for_run

pytestmark = pytest.mark.slow

KILLED_FLOW = '''
import os
import time
from pathlib import Path

from flowdrop import FlowSpec, current, retry, step


class Killed{backend}Flow(FlowSpec):

    @step
    def start(self):
        self.next(self.work)

    @retry(times=1, minutes_between_retries=0)
    @step
    def work(self):
        Path({markers!r}, f"attempt-{{current.retry_count}}").write_text(str(os.getpid()))
        while current.retry_count == 0:
            time.sleep(0.2)  # the first attempt holds until the test kills its process
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    Killed{backend}Flow()
'''


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    options = StackOptions(state_dir=tmp_path_factory.mktemp("faults-stack"), clock_interval=0.5, max_tasks=2)
    with EmbeddedStack(options) as running:
        yield running


def _wait_for(path, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"no {path} after {timeout:.0f}s"
        time.sleep(0.2)
    return path.read_text()


@pytest.mark.parametrize("backend", ["batch", "worker"])
def test_a_task_process_killed_mid_task_is_retried_and_the_run_succeeds(stack, tmp_path, backend):
    from flowdrop.client import Run

    api = ApiClient.from_config(stack.config)
    flow = f"Killed{backend.title()}Flow"
    flow_file = tmp_path / "killed_flow.py"
    flow_file.write_text(textwrap.dedent(KILLED_FLOW.format(backend=backend.title(), markers=str(tmp_path))))
    deploy_flow(stack, flow_file, backend=backend)
    run_id = api.trigger(flow, {})["run_id"]
    first = int(_wait_for(tmp_path / "attempt-0"))
    os.kill(first, signal.SIGKILL)

    answer = wait_for_run(api, flow, run_id, timeout=180)
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"), answer.get("steps"))
    assert answer["steps"] == {"start": "SUCCEEDED", "work": "SUCCEEDED", "end": "SUCCEEDED"}, answer["steps"]
    assert int(_wait_for(tmp_path / "attempt-1")) != first
    production_client(stack.config)
    task = Run(f"{flow}/{run_id}")["work"].task
    assert task.data.attempt == 1 and task.current_attempt == 1 and task.successful and task.finished
    assert Run(f"{flow}/{run_id}").successful
