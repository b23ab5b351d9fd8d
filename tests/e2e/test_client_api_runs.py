"""The client API, complete, over runs `python flow.py run` made: Metaflow's reference is the spec."""

from __future__ import annotations

from datetime import datetime

import pytest

from flowdrop import client
from flowdrop.exception import MetaflowException, MetaflowNamespaceMismatch
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import EXAMPLES, TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow

ENV = {"FLOWDROP_USER": "ada"}


@pytest.fixture
def foreach_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWDROP_USER", "ada")
    store = tmp_path / "ds"
    proc = run_flow(EXAMPLES / "foreach_flow.py", "run", "--width", "3", "--tag", "exp", datastore=store, env=ENV)
    assert proc.returncode == 0, proc.stderr
    client.set_datastore(str(store), production=None)
    client.namespace("user:ada")
    return client.Flow("ForeachFlow").latest_run


def test_task_artifacts_as_data_artifacts(foreach_run):
    task = foreach_run["join"].task
    artifact = task["total"]
    assert isinstance(artifact, client.DataArtifact)
    assert artifact.data == 0 + 1 + 4 and len(artifact.sha) == 64
    assert isinstance(artifact.finished_at, datetime) and artifact.finished_at == task.finished_at
    assert artifact.pathspec == f"{task.pathspec}/total" and artifact.parent == task and artifact.size > 0
    assert client.DataArtifact(artifact.pathspec).data == 5
    assert "total" in task and "nope" not in task
    assert {a.id for a in task} >= {"total", "items_seen", "width"}
    with pytest.raises(KeyError):
        task["nope"]


def test_parents_and_children_walk_the_graph(foreach_run):
    run = foreach_run
    start, join = run["start"].task, run["join"].task
    squares = list(run["square"])
    assert [t.index for t in squares] == [0, 1, 2]
    assert list(start.child_task_pathspecs) == [t.pathspec for t in squares]
    assert [t.pathspec for t in squares[1].parent_tasks] == [start.pathspec]
    assert sorted(join.parent_task_pathspecs) == sorted(t.pathspec for t in squares)
    assert [t.pathspec for t in squares[2].child_tasks] == [join.pathspec]
    assert list(run["end"].task.child_tasks) == [] and list(start.parent_tasks) == []
    assert [s.id for s in run["square"].parent_steps] == ["start"]
    assert [s.id for s in run["square"].child_steps] == ["join"]
    assert squares[0].parent == run["square"] and run["square"].parent == run and run.parent == client.Flow("ForeachFlow")
    assert run.parent.parent is None and squares[0].path_components == ["ForeachFlow", run.id, "square", "square-0"]


def test_metadata_and_environment(foreach_run):
    task = foreach_run["square"]["square-2"]
    meta = task.metadata_dict
    assert meta["attempt"] == "0" and meta["user"] == "ada" and meta["attempt_ok"] == "True"
    assert meta["foreach-execution-path"] == "start:2" and "origin-run-id" not in meta
    assert {m.name for m in task.metadata} == set(meta)
    assert all(m.task == task.pathspec for m in task.metadata)
    assert task.origin_pathspec is None and foreach_run.origin_pathspec is None
    assert task.environment_info["python_version"].count(".") == 2 and task.environment_info["type"] == "local"
    assert task.current_attempt == 0 and task.code is None and foreach_run.code is None and foreach_run.trigger is None


def test_run_step_and_flow_surface(foreach_run):
    run = foreach_run
    assert run.successful and run.finished and run.finished_at >= run.created_at
    assert run.user_tags == {"exp"} and "user:ada" in run.system_tags and run.tags == run.user_tags | run.system_tags
    assert run.end_task.pathspec == f"ForeachFlow/{run.id}/end/end" and run.data.total == 5
    assert run["square"].finished_at == max(t.finished_at for t in run["square"])
    assert [t.id for t in run["square"].tasks("exp")] == ["square-0", "square-1", "square-2"]
    assert list(run["square"].tasks("other")) == [] and list(run.steps("other")) == []
    flow = client.Flow("ForeachFlow")
    assert [r.id for r in flow.runs("exp")] == [run.id] and list(flow.runs("other")) == []
    assert flow.latest_successful_run == run and run.id in flow and list(flow) == [run]
    assert [f.id for f in client.Metaflow().flows] == ["ForeachFlow"] and "ForeachFlow" in client.Metaflow()
    assert client.Task(run["end"].task.pathspec).stdout.startswith("sum of squares is 5")
    assert list(run["end"].task.loglines("stdout")) == [(None, "sum of squares is 5")]


def test_tags_validated_as_metaflow_does(foreach_run):
    run = foreach_run
    run.add_tag("ünï 🚀")
    run.replace_tag("exp", "exp2")
    run.add_tags(["a", "b"])
    run.remove_tags(["a"])
    run.add_tag("user:ada")  # already a system tag: not added as a user tag, no error
    assert client.Run(run.pathspec).user_tags == {"ünï 🚀", "exp2", "b"}
    for bad, message in ((lambda: run.remove_tag("user:ada"), "cannot remove system tag"),
                         (lambda: run.add_tag(""), "tags must not be empty"),
                         (lambda: run.add_tag("x" * 501), "at most 500 characters"),
                         (lambda: run.replace_tags("ab", []), "not a string"),
                         (lambda: run.replace_tags([], []), "Must add or remove at least one tag"),
                         (lambda: run.add_tags([str(i) for i in range(60)]), "at most 50 user tags")):
        with pytest.raises(MetaflowException, match=message):
            bad()


def test_namespaces(foreach_run):
    assert client.get_namespace() == "user:ada"
    client.namespace("user:bob")
    assert client.Flow("ForeachFlow").latest_run is None
    with pytest.raises(MetaflowNamespaceMismatch):
        client.Run(foreach_run.pathspec)
    client.namespace(None)
    assert client.Run(foreach_run.pathspec).is_in_namespace()
    assert client.default_namespace() == "user:ada" == client.get_namespace()


def test_catch_records_the_exception_as_metaflow(tmp_path):
    store = tmp_path / "ds"
    proc = run_flow(TEST_FLOWS / "catch_flow.py", "run", datastore=store, env=ENV)
    assert proc.returncode == 0, proc.stderr
    client.set_datastore(str(store), production=None)
    client.namespace(None)
    end = client.Flow("CatchFlow").latest_run["end"].task
    assert end["start_type"].data == "flowdrop.exception.ExternalCommandFailed"
    assert end["slow_type"].data == "flowdrop.plugins.timeout_decorator.TimeoutException"
    start_ex = client.Flow("CatchFlow").latest_run["start"].task["start_ex"].data
    assert str(start_ex.exception) == "catch me!" and start_ex.type == "flowdrop.exception.ExternalCommandFailed"
    assert "Traceback" in str(start_ex) and "catch me!" in str(start_ex)
    run = client.Flow("CatchFlow").latest_run
    slow = run["slow"].task
    assert slow.successful and slow.exception is None  # @catch handled it: no task exception, as in Metaflow
    retried = run["retried"].task
    assert retried["attempt_seen"].data == 1 and retried["retried_ex"].data.type == "builtins.KeyError"
    assert [m.value for m in retried.metadata if m.type == "attempt"] == ["0", "1"]  # caught on the last try
    killed = run["killed"].task["killed_ex"].data  # no exception to record: the fallback's, as Metaflow's
    assert killed.type == "flowdrop.plugins.catch_decorator.FailureHandledByCatch"
    assert "kept failing over 1 attempts" in killed.exception
    assert [m.value for m in run["killed"].task.metadata if m.type == "attempt"] == ["0", "1"]


def test_client_objects_pickle_by_pathspec_and_cross_namespaces(foreach_run):
    import pickle

    task = foreach_run["square"]["square-1"]
    blobs = [pickle.dumps(obj) for obj in (client.Flow("ForeachFlow"), foreach_run, task.parent, task, task["item"])]
    client.namespace("user:nobody")
    flow, run, step, again, artifact = (pickle.loads(blob) for blob in blobs)
    assert (flow.id, run.pathspec, step.pathspec, again.pathspec) == (
        "ForeachFlow", foreach_run.pathspec, task.parent.pathspec, task.pathspec)
    assert again.parent.parent.id == foreach_run.id and artifact.data == 1
    assert flow.tags == frozenset() and artifact.tags == foreach_run.tags


def test_system_tags_as_metaflows(foreach_run):
    system = foreach_run.system_tags
    assert {"user:ada", "runtime:dev"} <= system
    assert any(t.startswith("python_version:3.") for t in system) and any(t.startswith("date:20") for t in system)
    assert not system & foreach_run.user_tags


def test_run_with_retry_retries_a_failing_step_and_the_client_sees_the_second_attempt(tmp_path):
    # `--with` given to `run` (not at top level); local retries start at once, as Metaflow's.
    store = tmp_path / "ds"
    proc = run_flow(TEST_FLOWS / "retry_flow.py", "run", "--with", "retry", datastore=store, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert "Task start/start failed; retrying (attempt 2 of 4)" in proc.stdout + proc.stderr
    client.set_datastore(str(store), production=None)
    client.namespace(None)
    run = client.Flow("RetryFlow").latest_run
    start = run["start"].task
    assert run.successful and start.successful and start.current_attempt == 1 and start.retry_count == 1
    assert start.metadata_dict["attempt"] == "1" and start.metadata_dict["attempt_ok"] == "True"
    assert [m.value for m in start.metadata if m.type == "attempt"] == ["0", "1"]
    artifacts = list(start.artifacts)
    assert all(isinstance(a, client.DataArtifact) for a in artifacts)
    assert "start_attempts" in {a.id for a in artifacts} and len(artifacts) == len(start.artifacts)
    assert start.artifacts.start_attempts.data == 2 and start["start_attempts"].data == 2
    assert run["fragile"].task.current_attempt == 0 and "start_attempts" in run["fragile"].task.artifacts
