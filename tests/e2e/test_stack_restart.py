"""The embedded stack survives its restart: stop it, start it on the same state dir, nothing is lost.

Three flows deployed by upload (one scheduled), runs of each, one run still
going when the stack stops. After the restart: `flowdrop flows` says the
same, the runs' artifacts read through the client API, a trigger and a
schedule tick both start runs, the old tick starts nothing again, the run
the stop cut short is reported interrupted and resumes locally. A second
stack on the same state dir is refused while one runs.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.durable import StateDirLockedError
from flowdrop.local.moto.server import free_port
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import client_env, deploy_flow, examples_dir, run_command, wait_for_run
from tests.helpers.clock import FakeTime

pytestmark = pytest.mark.slow

EXAMPLES = examples_dir()

SLOW_FLOW = '''
import os
import time

from flowdrop import FlowSpec, Parameter, step


class SlowFlow(FlowSpec):
    size = Parameter('size', default=3)

    @step
    def start(self):
        self.items = list(range(self.size))
        self.next(self.wait)

    @step
    def wait(self):
        # Holds while the test's marker file exists, so a run can be caught going.
        open({started!r}, 'w').close()
        while os.path.exists({hold!r}):
            time.sleep(0.2)
        self.total = sum(self.items)
        self.next(self.end)

    @step
    def end(self):
        print('total', self.total)


if __name__ == '__main__':
    SlowFlow()
'''


def _options(state_dir: Path, port: int, now: FakeTime) -> StackOptions:
    return StackOptions(state_dir=state_dir, port=port, max_tasks=4, heartbeat_seconds=60, heartbeat_interval=2.0,
                        clock_interval=0.2, now=now)


def _executions(stack: EmbeddedStack, flow: str) -> list[str]:
    sfn = stack.aws.client("stepfunctions")
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{flow}"
    return sorted(e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"])


def _wait_until(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


def _succeeded(api: ApiClient, flow: str, run_id: str) -> dict:
    answer = wait_for_run(api, flow, run_id, timeout=240)
    assert answer["status"] == "SUCCEEDED", (flow, run_id, answer.get("error"), answer.get("cause"))
    return answer


def _flows_output(stack: EmbeddedStack) -> str:
    return run_command([str(Path(sys.executable).parent / "flowdrop"), "flows"], client_env(stack), stack.state_dir)


def test_a_restart_keeps_flows_versions_schedules_runs_and_artifacts(tmp_path):
    state_dir, port = tmp_path / "state", free_port()
    work = tmp_path / "work"
    work.mkdir()
    started, hold = work / "started", work / "hold"
    slow_file = work / "slow_flow.py"
    slow_file.write_text(SLOW_FLOW.format(started=str(started), hold=str(hold)))
    day1 = FakeTime(datetime(2026, 11, 25, 9, 58, 30, tzinfo=timezone.utc))

    # --- before: deploy, run, and stop with one run going -------------------------------------
    with EmbeddedStack(_options(state_dir, port, day1)) as stack:
        api = ApiClient.from_config(stack.config)
        deploy_flow(stack, EXAMPLES / "linear_flow.py")
        deploy_flow(stack, EXAMPLES / "cron_flow.py")
        deploy_flow(stack, slow_file, cwd=work)
        linear = api.trigger("LinearFlow", {"base": 5})["run_id"]
        slow_done = api.trigger("SlowFlow", {"size": 4})["run_id"]
        day1.set(datetime(2026, 11, 25, 10, 0, 5, tzinfo=timezone.utc))
        _wait_until(lambda: _executions(stack, "MorningReportFlow") == ["sched-20261125T1000Z"])
        for flow, run_id in (("LinearFlow", linear), ("SlowFlow", slow_done),
                             ("MorningReportFlow", "sfn-sched-20261125T1000Z")):
            _succeeded(api, flow, run_id)
        flows_before = _flows_output(stack)
        described = {flow: api.get_flow(flow) for flow in ("LinearFlow", "MorningReportFlow", "SlowFlow")}
        steps_before = api.get_run("LinearFlow", linear)["steps"]
        hold.touch()
        started.unlink()  # the finished SlowFlow run made it: wait for this run's own `wait` task
        going = api.trigger("SlowFlow", {"size": 5})["run_id"]
        _wait_until(started.exists, timeout=120)  # `wait` runs, `start` is done: the stop cuts the run short

    # --- after: the same state dir ------------------------------------------------------------
    day2 = FakeTime(datetime(2026, 11, 26, 9, 59, 30, tzinfo=timezone.utc))
    with EmbeddedStack(_options(state_dir, port, day2)) as stack:
        api = ApiClient.from_config(stack.config)
        with pytest.raises(StateDirLockedError, match=r"already runs on this state dir \(pid \d+"):
            EmbeddedStack(_options(state_dir, free_port(), day2)).start()

        assert _flows_output(stack) == flows_before
        for flow, before in described.items():
            after = api.get_flow(flow)
            assert (after["production_version"], after.get("versions"), after.get("schedule")) == \
                (before["production_version"], before.get("versions"), before.get("schedule")), flow
        assert described["MorningReportFlow"].get("schedule")

        # finished runs: their status, steps and artifacts
        assert api.get_run("LinearFlow", linear)["steps"] == steps_before
        production_client(stack.config)
        from flowdrop.client import Run

        assert Run(f"LinearFlow/{linear}")["end"].task.data.value == 11
        assert Run(f"SlowFlow/{slow_done}")["end"].task.data.total == 6
        assert Run("MorningReportFlow/sfn-sched-20261125T1000Z")["start"].task.data.report == "all good"
        assert "total 6" in Run(f"SlowFlow/{slow_done}")["end"].task.stdout

        # the run the stop cut short
        interrupted = api.get_run("SlowFlow", going, steps=False)
        assert interrupted["status"] == "ABORTED" and interrupted["error"] == "flowdrop.StackStopped", interrupted
        assert "interrupted" in interrupted["cause"]
        assert Run(f"SlowFlow/{going}").status["status"] == "interrupted"
        assert stack.interrupted_runs == [going]

        # new runs: a trigger and the next day's tick; the old tick again starts nothing
        again = api.trigger("LinearFlow", {"base": 1})["run_id"]
        assert again != linear
        assert _succeeded(api, "LinearFlow", again)
        day2.set(datetime(2026, 11, 26, 10, 0, 5, tzinfo=timezone.utc))
        _wait_until(lambda: "sched-20261126T1000Z" in _executions(stack, "MorningReportFlow"))
        _succeeded(api, "MorningReportFlow", "sfn-sched-20261126T1000Z")
        redelivered = stack.clock.fire_now("MorningReportFlow", at=datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc))
        assert [f.result["run_id"] for f in redelivered] == ["sfn-sched-20261125T1000Z"]
        assert _executions(stack, "MorningReportFlow") == ["sched-20261125T1000Z", "sched-20261126T1000Z"]

        # the interrupted run resumes locally from what it had done
        hold.unlink()
        output = run_command([sys.executable, str(slow_file), "resume", "--origin-run-id", going],
                             client_env(stack), work)
        assert "total 10" in output, output
