"""Issue 11 item 4: a flow that inherits steps and parameters from a base class runs, and
current.is_running_flow is True in a task and False outside one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.helpers.runtime import run_flow

pytestmark = pytest.mark.slow

FLOW = textwrap.dedent('''
    from flowdrop import FlowSpec, Parameter, current, step


    class BaseFlow(FlowSpec):
        alpha = Parameter("alpha", default=3)

        @step
        def start(self):
            self.running = current.is_running_flow
            self.from_base = self.alpha * 2
            self.next(self.middle)


    class ChildFlow(BaseFlow):
        beta = Parameter("beta", default="b")

        @step
        def middle(self):
            self.seen = f"{self.from_base}-{self.beta}"
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        print("outside a task:", current.is_running_flow)
        ChildFlow()
''')


def test_a_flow_inherits_steps_and_parameters_and_knows_it_is_running(tmp_path: Path):
    flow_file = tmp_path / "child_flow.py"
    flow_file.write_text(FLOW, encoding="utf-8")
    done = run_flow(flow_file, "--no-pylint", "run", "--alpha", "5", datastore=tmp_path / "ds")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "outside a task: False" in done.stdout

    from flowdrop import client

    client.set_datastore(str(tmp_path / "ds"))
    client.namespace(None)
    run = client.Flow("ChildFlow").latest_run
    assert run.successful
    assert {s.id for s in run} == {"start", "middle", "end"}
    start = run["start"].task
    assert start["running"].data is True and start["from_base"].data == 10
    assert run["middle"].task["seen"].data == "10-b"
    assert run.data.alpha == 5 and run.data.beta == "b"
