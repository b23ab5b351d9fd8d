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


def test_resume_in_production_reruns_b_join_end_and_reuses_start_and_a(stack, api, tmp_path):
    """The seed's DebugFlow: `b` fails in production; fix it, deploy, resume the failed run in production."""
    import subprocess
    import sys

    from flowdrop.client import Run
    from flowdrop.errors import ApiError
    from tests.helpers.debug_flow import debug_flow_where_a_ends_first

    flow_file = debug_flow_where_a_ends_first(tmp_path)  # so `a` succeeded and the resume reuses it
    source = flow_file.read_text()
    deploy_flow(stack, flow_file)
    origin = api.trigger("DebugFlow", {})["run_id"]
    failed = wait_for_run(api, "DebugFlow", origin, timeout=120)
    assert failed["status"] == "FAILED" and failed["steps"]["b"] == "FAILED", failed

    with pytest.raises(ApiError) as unknown_step:
        api.resume("DebugFlow", origin, "c")
    assert unknown_step.value.status == 400
    assert "has no step 'c'" in str(unknown_step.value)
    listed = unknown_step.value.problems[0]
    assert listed.startswith("step must be one of: ") and all(s in listed for s in ("start", "a", "b", "join", "end"))
    with pytest.raises(ApiError) as unknown_run:
        api.resume("DebugFlow", "sfn-no-such-run")
    assert unknown_run.value.status == 404 and "sfn-no-such-run" in str(unknown_run.value)

    # The fix, deployed: production is version 2, and the resume runs it.
    fixed = source.replace("if os.environ.get('FIX_DEBUG_FLOW') == '1':", "if True:  # fixed")
    assert fixed != source
    flow_file.write_text(fixed)
    assert "Version 2 is live" in deploy_flow(stack, flow_file)
    done = subprocess.run([sys.executable, str(flow_file), "step-functions", "resume", "--origin-run-id", origin],
                          env=client_env(stack, FLOWDROP_USER="ada"), cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Resuming DebugFlow/{origin} from what failed on AWS Step Functions (run-id sfn-" in done.stdout
    resumed = done.stdout.split("(run-id ", 1)[1].split(")", 1)[0]
    assert resumed.startswith("sfn-") and resumed != origin
    answer = wait_for_run(api, "DebugFlow", resumed, timeout=120)
    assert answer["status"] == "SUCCEEDED", answer

    production_client(stack.config)
    run = Run(f"DebugFlow/{resumed}")
    assert run.successful and run.origin_run_id == origin and run.origin_pathspec == f"DebugFlow/{origin}"
    reused = {step: run[step].task.origin_pathspec for step in ("start", "a", "b", "join", "end")}
    assert reused == {"start": f"DebugFlow/{origin}/start/start", "a": f"DebugFlow/{origin}/a/a",
                      "b": None, "join": None, "end": None}
    assert run["a"].task.data.x == 1 and run["b"].task.data.x == 2
    assert "total is 3" in run["join"].task.stdout
    assert run["b"].task.metadata_dict.get("origin-run-id") == origin  # current.origin_run_id in rerun tasks
    assert run.parameters == Run(f"DebugFlow/{origin}").parameters
    assert "user:ada" in run.system_tags
    # The origin stays as it was.
    assert not Run(f"DebugFlow/{origin}").successful


FLAKY_FOREACH_FLOW = '''
import time

from flowdrop import FlowSpec, step

BROKEN = True


class FlakyForeachFlow(FlowSpec):

    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 1 and BROKEN:
            time.sleep(3)  # its siblings finish first
            raise ValueError("item 1 broke")
        self.out = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FlakyForeachFlow()
'''


def test_resume_in_production_reuses_foreach_splits_task_by_task_and_from_a_step(stack, api, tmp_path):
    from flowdrop.client import Run

    flow_file = tmp_path / "flaky_flow.py"
    flow_file.write_text(textwrap.dedent(FLAKY_FOREACH_FLOW))
    deploy_flow(stack, flow_file, backend="worker")
    origin = api.trigger("FlakyForeachFlow", {})["run_id"]
    assert wait_for_run(api, "FlakyForeachFlow", origin, timeout=120)["status"] == "FAILED"
    production_client(stack.config)
    before = Run(f"FlakyForeachFlow/{origin}")
    succeeded = {t.id for t in before["work"].tasks() if t.successful}
    assert "work-1" not in succeeded and succeeded and succeeded <= {"work-0", "work-2"}

    flow_file.write_text(textwrap.dedent(FLAKY_FOREACH_FLOW).replace("BROKEN = True", "BROKEN = False"))
    deploy_flow(stack, flow_file, backend="worker")
    resumed = api.resume("FlakyForeachFlow", origin)["run_id"]
    assert wait_for_run(api, "FlakyForeachFlow", resumed, timeout=120)["status"] == "SUCCEEDED"
    run = Run(f"FlakyForeachFlow/{resumed}")
    # Task by task: the splits that succeeded are reused under their own task ids, the failed one reruns.
    work = {t.id: t.origin_pathspec for t in run["work"].tasks()}
    assert work == {f"work-{i}": (f"FlakyForeachFlow/{origin}/work/work-{i}" if f"work-{i}" in succeeded else None)
                    for i in range(3)}
    assert run["start"].task.origin_pathspec == f"FlakyForeachFlow/{origin}/start/start"
    assert run["join"].task.data.total == 30 and run["join"].task.origin_pathspec is None

    # From a step: a succeeded run resumed at `join` reuses start and every split, and reruns join and end.
    again = api.resume("FlakyForeachFlow", resumed, "join")
    assert again["resume_step"] == "join" and again["origin_run_id"] == resumed
    assert wait_for_run(api, "FlakyForeachFlow", again["run_id"], timeout=120)["status"] == "SUCCEEDED"
    third = Run(f"FlakyForeachFlow/{again['run_id']}")
    assert {t.id: t.origin_pathspec for t in third["work"].tasks()} == {
        f"work-{i}": f"FlakyForeachFlow/{resumed}/work/work-{i}" for i in range(3)}
    assert third["join"].task.origin_pathspec is None and third["end"].task.origin_pathspec is None
    assert third["join"].task.data.total == 30
