"""The Metaflow-style read API over runs written straight into a FlowDatastore in a folder.

Production runs in S3 on the session's moto server: tests/functional/test_client_moto.py;
runs made by `python flow.py run`: tests/e2e/test_client_local_run.py.
"""

from __future__ import annotations

import pytest

from flowdrop.client import Flow, Run, Step, Task, default_namespace, get_namespace, namespace, set_datastore
from flowdrop.datastore import FlowDatastore, FolderStorage
from flowdrop.errors import MissingObjectError, NamespaceMismatchError
from tests.helpers.client import FLOW, add_task, ds, isolated_client, make_run  # noqa: F401  (fixtures)

@pytest.fixture
def three_runs(ds) -> FlowDatastore:
    make_run(ds, "1", "2026-05-01T09:00:00+00:00", x="one")
    make_run(ds, "2", "2026-05-02T09:00:00+00:00", x="two")
    make_run(ds, "3", "2026-05-03T09:00:00+00:00", end=False)
    return ds


def test_latest_runs_and_order(three_runs):
    flow = Flow(FLOW)
    assert [run.id for run in flow] == ["3", "2", "1"]
    assert flow.latest_run.id == "3"
    assert flow.latest_successful_run.id == "2"
    assert flow["1"].pathspec == f"{FLOW}/1"
    assert "1" in flow and "9" not in flow
    assert repr(flow.latest_run) == f"Run('{FLOW}/3')"


def test_run_data_and_status(three_runs):
    run = Flow(FLOW).latest_successful_run
    assert run["end"].task.data.x == "two"
    assert run.data.x == "two"
    assert run.successful and run.finished
    assert run.end_task.pathspec == f"{FLOW}/2/end/end"
    assert run.created_at.year == 2026 and run.created_at.day == 2
    assert run.finished_at.minute == 5
    assert run.parameters == {"alpha": 0.5}
    assert run.tags == frozenset({"user:alice"})
    assert [step.id for step in run] == ["end", "start"]  # most recent first, as Metaflow
    assert "start" in run and "fit" not in run

    failed = Run(f"{FLOW}/3")
    assert not failed.successful
    assert failed.finished  # status.json was written
    assert failed.status["failed_step"] == "end"
    assert failed.data is not None and "x" not in failed.data


def test_task_api(three_runs):
    task = Task(f"{FLOW}/1/end/end")
    assert task.id == "end" and task.pathspec == f"{FLOW}/1/end/end"
    assert task.data.x == "one" and task.data.alpha == 0.5
    assert "x" in task.data and "y" not in task.data
    assert sorted(task.data) == ["alpha", "x"]
    assert sorted(a.id for a in task.artifacts) == ["alpha", "x"]
    assert task.artifacts.x.data == "one"
    assert len(task.artifacts.x.sha) == 64
    assert task.successful and task.finished
    assert task.stdout == "hello from end\n" and task.stderr == ""
    assert task.exception is None
    assert task.index is None
    assert task.current_attempt == task.retry_count == 0
    with pytest.raises(AttributeError, match=f"Task\\('{FLOW}/1/end/end'\\) has no artifact 'y'"):
        task.data.y
    assert not hasattr(task.data, "y")

    failed = Run(f"{FLOW}/3")["end"].task
    assert not failed.successful
    assert failed.finished  # its only attempt ended
    assert str(failed.exception) == "ValueError: try 0"  # str() is the traceback, as in Metaflow
    assert failed.exception.type == "builtins.Exception"  # records from before the dotted type was kept
    assert failed.stderr == "Traceback 0\n"


def test_foreach_tasks_retries_and_indices(ds):
    make_run(ds, "7", "2026-05-01T09:00:00+00:00")
    for i in (0, 1, 2, 10):
        add_task(ds, "7", "fit", f"fit-{i}", {"score": i / 10}, failures=1 if i == 2 else 0)
    step = Step(f"{FLOW}/7/fit")
    assert step.id == "fit" and step.pathspec == f"{FLOW}/7/fit"
    assert [t.id for t in step] == ["fit-0", "fit-1", "fit-2", "fit-10"]
    assert step.task.id == "fit-0"
    assert [t.index for t in step] == [0, 1, 2, 10]
    retried = step["fit-2"]
    assert retried.retry_count == 1 and retried.successful
    assert retried.data.score == 0.2
    assert retried.stdout == "hello from fit-2\n"  # the successful attempt's log, not the failed one's
    assert retried.exception is None


def test_namespaces_filter_listing_and_guard_access(ds):
    make_run(ds, "1", "2026-05-01T09:00:00+00:00", x="alice's", tags=("user:alice", "experiment"))
    make_run(ds, "2", "2026-05-02T09:00:00+00:00", x="bob's", tags=("user:bob",))
    make_run(ds, "3", "2026-05-03T09:00:00+00:00", x="prod", tags=("production:tok1", "user:bob"))
    assert get_namespace() == "user:alice"

    flow = Flow(FLOW)
    assert [r.id for r in flow] == ["1"]
    assert flow.latest_run.data.x == "alice's"
    assert [r.id for r in flow.runs("experiment")] == ["1"]
    with pytest.raises(NamespaceMismatchError) as info:
        Run(f"{FLOW}/2")
    message = str(info.value)
    assert f"Run('{FLOW}/2')" in message and "user:alice" in message and "namespace(None)" in message
    with pytest.raises(NamespaceMismatchError):
        flow["2"]
    with pytest.raises(NamespaceMismatchError):
        Task(f"{FLOW}/2/end/end")

    assert namespace("production:tok1") == "production:tok1"
    assert Flow(FLOW).latest_run.data.x == "prod"
    namespace("user:bob")
    assert [r.id for r in Flow(FLOW)] == ["3", "2"]
    namespace(None)
    assert get_namespace() is None
    assert [r.id for r in Flow(FLOW)] == ["3", "2", "1"]
    assert [r.id for r in Flow(FLOW).runs("experiment")] == ["1"]
    assert Run(f"{FLOW}/2").data.x == "bob's"
    assert default_namespace() == "user:alice" == get_namespace()


def test_tag_filter_needs_every_tag(ds):
    make_run(ds, "1", "2026-05-01T09:00:00+00:00", tags=("user:alice", "a", "b"))
    make_run(ds, "2", "2026-05-02T09:00:00+00:00", tags=("user:alice", "a"))
    assert [r.id for r in Flow(FLOW).runs("a")] == ["2", "1"]
    assert [r.id for r in Flow(FLOW).runs("a", "b")] == ["1"]
    assert list(Flow(FLOW).runs("c")) == []


def test_missing_objects_name_their_pathspec(three_runs):
    cases = [
        (lambda: Flow("NoSuchFlow"), "Flow('NoSuchFlow')"),
        (lambda: Run(f"{FLOW}/99"), f"Run('{FLOW}/99')"),
        (lambda: Step(f"{FLOW}/1/fit"), f"Step('{FLOW}/1/fit')"),
        (lambda: Task(f"{FLOW}/1/end/end-3"), f"Task('{FLOW}/1/end/end-3')"),
        (lambda: Run(f"{FLOW}/1")["nope"], f"Step('{FLOW}/1/nope')"),
        (lambda: Run(f"{FLOW}/1")["end"]["x"], f"Task('{FLOW}/1/end/x')"),
        (lambda: Run(FLOW), f"Run('{FLOW}')"),
    ]
    for make, named in cases:
        with pytest.raises(MissingObjectError) as info:
            make()
        assert named in str(info.value)
    with pytest.raises(MissingObjectError, match="\\.flowdrop"):
        Run(f"{FLOW}/99")  # and where it looked


def test_run_without_run_json_is_found_by_its_steps(ds):
    add_task(ds, "sfn-orphan", "start", "start", {"a": 1})
    namespace(None)
    run = Run(f"{FLOW}/sfn-orphan")
    assert run.tags == frozenset() and run.created_at is None
    assert run["start"].task.data.a == 1
    assert run.end_task is None and run.data is None
    assert not run.successful and not run.finished


def test_set_datastore_takes_a_url_or_a_storage(tmp_path, ds):
    other = FlowDatastore(FolderStorage(tmp_path / "elsewhere"), FLOW)
    make_run(other, "5", "2026-05-01T09:00:00+00:00", x="elsewhere")
    make_run(ds, "6", "2026-05-01T09:00:00+00:00", x="default")
    assert Flow(FLOW).latest_run.id == "6"  # .flowdrop in the working directory
    set_datastore(str(tmp_path / "elsewhere"))
    assert Flow(FLOW).latest_run.data.x == "elsewhere"
    set_datastore(FolderStorage(tmp_path / ".flowdrop"))
    assert Flow(FLOW).latest_run.data.x == "default"


def test_default_namespace_falls_back_to_getpass(monkeypatch):
    import getpass

    for name in ("FLOWDROP_USER", "USER", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "carol")
    assert default_namespace() == "user:carol"
