"""Local runs of a @project flow on a branch: `--branch` / `--production` (or Metaflow's environment forms)
set `current.branch_name` and `current.project_flow_name` in every task, forked or started as its own process."""

from __future__ import annotations

import textwrap

import pytest

from flowdrop.client import Flow, set_datastore
from tests.helpers.runtime import run_flow

FLOW = '''
from flowdrop import FlowSpec, current, project, step


@project(name="demo")
class BranchFlow(FlowSpec):

    @step
    def start(self):
        self.branch = current.branch_name
        self.next(self.end)

    @step
    def end(self):
        self.project_flow_name = current.project_flow_name
        self.is_production = current.is_production


if __name__ == "__main__":
    BranchFlow()
'''


@pytest.mark.parametrize("launcher, args, env, branch", [
    ("fork", ["--branch", "feature"], {}, "test.feature"),
    ("subprocess", ["--branch", "feature"], {}, "test.feature"),
    ("subprocess", [], {"METAFLOW_PRODUCTION": "True"}, "prod"),
    ("fork", ["--production"], {}, "prod"),
    ("subprocess", ["--production", "--branch", "blue"], {}, "prod.blue"),
    ("fork", [], {"METAFLOW_BRANCH": "from_env"}, "test.from_env"),
    ("fork", [], {}, "user.ada"),
])
def test_a_local_run_takes_its_branch_from_the_options_or_the_environment(tmp_path, monkeypatch, launcher, args,
                                                                          env, branch):
    flow_file = tmp_path / "branch_flow.py"
    flow_file.write_text(textwrap.dedent(FLOW))
    done = run_flow(flow_file, *args, "run", datastore=tmp_path / "ds",
                    env={"FLOWDROP_USER": "ada", "FLOWDROP_LAUNCHER": launcher, **env})
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("FLOWDROP_USER", "ada")
    set_datastore(str(tmp_path / "ds"), production=None)
    run = Flow("BranchFlow").latest_run
    assert run["start"].task["branch"].data == branch
    assert run["end"].task["project_flow_name"].data == f"demo.{branch}.BranchFlow"
    assert run["end"].task["is_production"].data == (branch.split(".")[0] == "prod")
    assert f"project_branch:{branch}" in run.system_tags
