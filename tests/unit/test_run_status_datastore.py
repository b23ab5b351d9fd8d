"""A step's state from the datastore's records where Step Functions' word is ABORTED or FAILED (issue 16, point 4).

The rule in deployer/runs.py: a step is SUCCEEDED when every task it ran
succeeded by its done.json; a foreach step only when as many tasks succeeded
as Step Functions counted. Over the folder backend (the same FlowDatastore the
deployer reads over S3).
"""

from __future__ import annotations

import pytest

from flowdrop.datastore import FlowDatastore, FolderStorage
from flowdrop.deployer.runs import _succeeded_tasks

RUN = "sfn-abc"


@pytest.fixture
def ds(tmp_path) -> FlowDatastore:
    return FlowDatastore(FolderStorage(str(tmp_path)), "WideFlow")


def finish(ds: FlowDatastore, step: str, task_id: str, status: str = "succeeded") -> None:
    ds.write_attempt(RUN, step, task_id, 0, {"status": status})
    ds.mark_done(RUN, step, task_id, 0, {"status": status})


def test_a_step_outside_any_foreach_is_its_one_task(ds):
    finish(ds, "a", "a")
    finish(ds, "b", "b", status="failed")
    assert _succeeded_tasks(ds, RUN, "a", counted=1) == 1
    assert _succeeded_tasks(ds, RUN, "b", counted=1) is None
    assert _succeeded_tasks(ds, RUN, "never_ran", counted=1) is None


def test_a_foreach_step_succeeded_only_when_every_counted_task_did(ds):
    for i in range(3):
        finish(ds, "work", f"work-{i}")
    assert _succeeded_tasks(ds, RUN, "work", counted=3) == 3
    # Step Functions counted a fourth task that never wrote anything: not all of it succeeded.
    assert _succeeded_tasks(ds, RUN, "work", counted=4) is None
    assert _succeeded_tasks(ds, RUN, "work", counted=0) is None


def test_one_failed_or_unfinished_task_keeps_step_functions_word(ds):
    for i in range(3):
        finish(ds, "work", f"work-{i}")
    finish(ds, "work", "work-3", status="failed")
    assert _succeeded_tasks(ds, RUN, "work", counted=4) is None
    ds.write_attempt(RUN, "other", "other-0", 0, {"status": "running"})  # started, never done
    finish(ds, "other", "other-1")
    assert _succeeded_tasks(ds, RUN, "other", counted=2) is None
