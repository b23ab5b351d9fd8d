"""`step-functions create --plan` on the embedded stack: what a deploy would change, and nothing uploaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import client_env, deploy_flow

pytestmark = pytest.mark.slow

FLOW = """
    from flowdrop import FlowSpec, retry, schedule, step


    @schedule({schedule})
    class PlannedFlow(FlowSpec):

        @step
        def start(self):
            self.next(self.work)

        {decorator}
        @step
        def work(self):
            self.x = 1
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == '__main__':
        PlannedFlow()
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with EmbeddedStack(StackOptions(state_dir=tmp_path_factory.mktemp("plan-stack"), max_tasks=2)) as running:
        yield running


def write_flow(folder: Path, schedule: str = "hourly=True", decorator: str = "") -> Path:
    path = folder / "planned_flow.py"
    path.write_text(textwrap.dedent(FLOW.format(schedule=schedule, decorator=decorator)))
    return path


def plan(stack: EmbeddedStack, flow_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(flow_file), "step-functions", "create", "--backend", "worker",
                           "--plan"], env=client_env(stack), cwd=flow_file.parent, capture_output=True, text=True,
                          timeout=300)


def packages(stack: EmbeddedStack) -> list[str]:
    s3 = stack.config.aws.client("s3")
    listed = s3.list_objects_v2(Bucket=stack.config.bucket, Prefix="packages/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_plan_shows_new_flow_then_duplicate_then_the_changed_state_and_uploads_nothing(stack, tmp_path):
    flow_file = write_flow(tmp_path)
    first = plan(stack, flow_file)
    assert first.returncode == 0, first.stderr
    assert "New flow: deploying would create PlannedFlow and publish version 1" in first.stdout
    assert "Schedule: rate(1 hour) UTC, overlap skip" in first.stdout or "Schedule: cron(" in first.stdout
    assert "+++ this deploy" in first.stdout and "nothing was deployed or uploaded" in first.stdout
    assert packages(stack) == []

    deploy_flow(stack, flow_file, backend="worker", cwd=tmp_path)
    deployed = packages(stack)
    assert len(deployed) == 1

    same = plan(stack, flow_file)
    assert same.returncode == 0, same.stderr
    assert "No change (duplicate of version 1)" in same.stdout
    assert "Schedule: unchanged" in same.stdout and "Definition diff" not in same.stdout

    changed_file = write_flow(tmp_path, schedule="daily=True", decorator="@retry(times=3)")
    changed = plan(stack, changed_file)
    assert changed.returncode == 0, changed.stderr
    out = changed.stdout
    assert "New version: production is version 1" in out and "publish version 2" in out
    states = next(line for line in out.splitlines() if line.startswith("States: "))
    assert "changed" in states and "work" in states and "end" not in states.split("changed", 1)[1].split(";")[0]
    assert "--- production (version 1)" in out and "+++ this deploy" in out
    assert any(line.startswith("+") and '"MaxAttempts": 3' in line for line in out.splitlines())
    assert "Schedule: " in out and "expression changed" in out
    assert packages(stack) == deployed  # the plans uploaded nothing
