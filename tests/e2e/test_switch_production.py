"""Switch flows on the embedded stack: the same artifacts and tasks as a local run, read through the client API.

tests/flows/switch_flow.py has every switch shape: a recursive switch (a
loop of three passes), a switch in a foreach whose cases meet at the join,
and one at the top whose cases meet at `end`. It runs once locally and once
in production (worker backend: the Choice states read each task's result),
and both runs are read with the client API, as a user would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from flowdrop import client
from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, wait_for_run
from tests.helpers.runtime import TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with EmbeddedStack(StackOptions(state_dir=tmp_path_factory.mktemp("switch-stack"))) as running:
        yield running


def run_view(run: Any) -> dict[str, dict[str, Any]]:
    """Every task of `run` by step and id: its user artifacts and its parents' ids."""
    view: dict[str, dict[str, Any]] = {}
    for step in run:
        for task in step:
            view.setdefault(step.id, {})[task.id] = {
                "data": {a.id: a.data for a in task if not a.id.startswith("_") and a.id != "name"},
                "parents": sorted(p.split("/")[-1] for p in task.parent_task_pathspecs),
            }
    return view


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("flow")
    return Path(shutil.copy(TEST_FLOWS / "switch_flow.py", folder / "switch_flow.py"))


@pytest.fixture(scope="module")
def local(flow_file, tmp_path_factory) -> dict[str, dict[str, Any]]:
    """The local run's view (`python switch_flow.py run --mode slow`)."""
    store = tmp_path_factory.mktemp("local-ds")
    done = run_flow(flow_file, "--no-pylint", "run", "--mode", "slow", datastore=store)
    assert done.returncode == 0, done.stderr + done.stdout
    client.set_datastore(str(store), production=None)
    client.namespace(None)
    return run_view(client.Flow("SwitchFlow").latest_run)


# The two backends whose tasks return a result: worker (SQS + task token) and lambda (the task function,
# run by the embedded stack's stand-in with the payload a Lambda would get).
@pytest.mark.parametrize("backend", ["worker", "lambda", "batch"])
def test_switch_flow_in_production_matches_the_local_run(stack, flow_file, local, backend):
    output = deploy_flow(stack, flow_file, "--no-pylint", backend=backend)
    assert "State machine SwitchFlow for flow SwitchFlow pushed" in output, output
    sfn = stack.aws.client("stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "SwitchFlow")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
    resource = {"worker": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "lambda": "arn:aws:states:::lambda:invoke", "batch": "arn:aws:states:::batch:submitJob.sync"}
    assert definition["States"]["loop"]["Resource"] == resource[backend]
    assert definition["States"]["loop-switch"]["Type"] == "Choice"
    api = ApiClient.from_config(stack.config)
    run_id = api.trigger("SwitchFlow", {"mode": "slow"})["run_id"]
    answer = wait_for_run(api, "SwitchFlow", run_id, timeout=240)
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"), answer.get("steps"))
    production_client(stack.config)
    run = client.Run(f"SwitchFlow/{run_id}")
    production = run_view(run)

    assert production == local
    # What that means, spelled out: the loop's passes are tasks of their own, each fed by the one before.
    assert sorted(production["loop"]) == ["loop", "loop.1", "loop.2"]
    assert production["loop"]["loop.2"]["parents"] == ["loop.1"] and production["fan"]["fan"]["parents"] == ["loop.2"]
    assert [production["loop"][t]["data"]["count"] for t in ("loop", "loop.1", "loop.2")] == [1, 2, 3]
    assert sorted(production["gather"]["gather"]["parents"]) == ["consonant-1", "consonant-2", "vowel-0"]
    assert "quick" not in production and production["end"]["end"]["parents"] == ["careful"]
    assert run.data.seen == ["C:b", "C:c", "V:a"] and run.data.path == "careful"
    assert len({task.pathspec for step in run for task in step}) == sum(len(tasks) for tasks in production.values())
