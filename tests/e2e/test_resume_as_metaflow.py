"""resume as Metaflow's: from the failed tasks or any step, of a failed or succeeded run, inside and after a foreach."""

from __future__ import annotations

import pytest

from flowdrop import client
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow

FLOW = TEST_FLOWS / "resume_foreach_flow.py"
ENV = {"FLOWDROP_USER": "ada"}


def _run(*args: str, store, fix: bool = False):
    return run_flow(FLOW, *args, datastore=store, env={**ENV, **({"FIX_ITEM": "1"} if fix else {})})


def _latest(store) -> client.Run:
    client.set_datastore(str(store), production=None)
    client.namespace("user:ada")
    return client.Flow("ResumeForeachFlow").latest_run


def test_resume_reruns_only_the_failed_foreach_items_and_what_follows(tmp_path):
    store = tmp_path / "ds"
    failed = _run("run", store=store)
    assert failed.returncode == 1 and "item 1 is broken" in failed.stderr
    origin = _latest(store)
    resumed = _run("resume", "--origin-run-id", origin.id, store=store, fix=True)
    assert resumed.returncode == 0, resumed.stderr
    run = _latest(store)
    assert run.id != origin.id and run.successful and run.data.total == 0 + 2 + 4
    assert run.origin_pathspec == f"ResumeForeachFlow/{origin.id}"
    inner = {t.id: t for t in run["inner"]}
    assert inner["inner-0"].origin_pathspec == f"ResumeForeachFlow/{origin.id}/inner/inner-0"
    assert inner["inner-2"].metadata_dict["origin-task-id"] == "inner-2"
    assert inner["inner-1"].origin_pathspec is None  # it ran again
    assert inner["inner-1"]["origin_seen"].data == origin.id  # current.origin_run_id in a rerun task
    assert inner["inner-1"].metadata_dict["origin-run-id"] == origin.id
    assert run["join"].task["origin_seen"].data == origin.id and run["join"].task.origin_pathspec is None
    assert run["start"].task.origin_pathspec == f"ResumeForeachFlow/{origin.id}/start/start"
    assert run["start"].origin_pathspec == f"ResumeForeachFlow/{origin.id}/start"


@pytest.mark.parametrize("step, rerun", [("start", {"start", "inner", "join", "end"}),
                                          ("inner", {"inner", "join", "end"}),
                                          ("join", {"join", "end"}),
                                          ("end", {"end"})])
def test_resume_a_succeeded_run_from_any_step(tmp_path, step, rerun):
    store = tmp_path / "ds"
    assert _run("run", store=store, fix=True).returncode == 0
    origin = _latest(store)
    resumed = _run("resume", step, "--origin-run-id", origin.id, "--tag", "again", store=store, fix=True)
    assert resumed.returncode == 0, resumed.stderr
    run = _latest(store)
    assert run.successful and run.data.total == 6 and "again" in run.user_tags
    ran_again = {s.id for s in run if any(t.origin_pathspec is None for t in s)}
    assert ran_again == rerun
    assert run["end"].task["origin_seen"].data == origin.id


def test_resume_without_a_step_of_a_succeeded_run_reuses_everything(tmp_path):
    store = tmp_path / "ds"
    assert _run("run", store=store, fix=True).returncode == 0
    origin = _latest(store)
    resumed = _run("resume", store=store, fix=True)  # the latest run, as Metaflow's default
    assert resumed.returncode == 0, resumed.stderr
    assert "(6 task(s) reused)" in resumed.stdout
    run = _latest(store)
    assert run.successful and run.id != origin.id
    assert all(t.origin_pathspec is not None for s in run for t in s)


def test_resume_names_an_unknown_step(tmp_path):
    store = tmp_path / "ds"
    assert _run("run", store=store, fix=True).returncode == 0
    proc = _run("resume", "nosuch", store=store)
    assert proc.returncode == 1
    assert "resume: flow 'ResumeForeachFlow' has no step 'nosuch' (its steps: start, inner, join, end)" in proc.stderr
