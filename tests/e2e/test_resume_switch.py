"""resume through switch steps, as Metaflow's: a cloned switch task goes on to the case it chose, and inside a
recursive switch the iterations that succeeded are reused one by one while the failed one and those after it run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowdrop import client
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import run_flow

pytestmark = pytest.mark.slow

FLOW = textwrap.dedent('''
    import os

    from flowdrop import FlowSpec, step


    class LoopResumeFlow(FlowSpec):
        @step
        def start(self):
            self.mode = "loop"
            self.count = 0
            self.next({"loop": self.loop, "skip": self.end}, condition="mode")

        @step
        def loop(self):
            self.count += 1
            if self.count == 3 and not os.environ.get("FIXED"):
                raise ValueError("iteration 3 breaks")
            self.again = "yes" if self.count < 5 else "no"
            self.next({"yes": self.loop, "no": self.end}, condition="again")

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        LoopResumeFlow()
''')


def test_resume_reuses_the_switch_and_the_loop_iterations_before_the_failure(tmp_path: Path):
    flow_file = tmp_path / "loop_resume_flow.py"
    flow_file.write_text(FLOW, encoding="utf-8")
    store = tmp_path / "ds"
    failed = run_flow(flow_file, "run", datastore=store)
    assert failed.returncode == 1 and "iteration 3 breaks" in failed.stderr
    client.set_datastore(str(store), production=None)
    client.namespace(None)
    origin = client.Flow("LoopResumeFlow").latest_run
    resumed = run_flow(flow_file, "resume", "--origin-run-id", origin.id, datastore=store, env={"FIXED": "1"})
    assert resumed.returncode == 0, resumed.stderr
    run = client.Flow("LoopResumeFlow").latest_run
    assert run.id != origin.id and run.successful and run["end"].task["count"].data == 5
    loop = {task["count"].data: task for task in run["loop"]}
    assert sorted(loop) == [1, 2, 3, 4, 5]
    assert loop[1].origin_pathspec == f"LoopResumeFlow/{origin.id}/loop/loop"
    assert loop[2].metadata_dict["origin-task-id"] == "loop.1"
    assert all(loop[n].origin_pathspec is None for n in (3, 4, 5))  # the failed iteration and the rest ran
    assert run["start"].task.origin_pathspec == f"LoopResumeFlow/{origin.id}/start/start"  # the cloned switch
