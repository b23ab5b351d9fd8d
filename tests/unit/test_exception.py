"""flowdrop.exception: Metaflow's names, and flowdrop's own errors caught under them."""

from __future__ import annotations

import pickle

import pytest

from flowdrop import client
from flowdrop.errors import FlowdropError, MissingObjectError, TaskError
from flowdrop.exception import (
    ExternalCommandFailed,
    MetaflowException,
    MetaflowExceptionWrapper,
    MetaflowInternalError,
    MetaflowNamespaceMismatch,
    MetaflowNotFound,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)
from tests.helpers.client import ds, isolated_client, make_run  # noqa: F401  (fixtures)


def test_metaflow_exceptions_read_as_metaflows():
    err = MetaflowException("bad thing", lineno=12)
    assert str(err) == "line 12: bad thing" and err.message == "bad thing" and err.headline == "Flow failed"
    assert str(ExternalCommandFailed("catch me!")) == "catch me!"
    assert str(MetaflowNamespaceMismatch("user:bob")) == "Object not in namespace 'user:bob'"
    merge = UnhandledInMergeArtifactsException("conflict", ["x", "y"])
    assert merge.artifact_names == ["x", "y"] and isinstance(merge, MetaflowException)
    assert issubclass(MetaflowInternalError, MetaflowException)


def test_every_flowdrop_error_is_a_metaflow_exception():
    err = TaskError("step 'a' failed")
    assert isinstance(err, MetaflowException) and str(err) == "step 'a' failed"
    assert isinstance(FlowdropError("x"), MetaflowException)


def test_client_errors_are_caught_under_metaflows_names(ds):
    make_run(ds, "1", "2026-05-01T09:00:00+00:00", tags=("user:bob",))
    with pytest.raises(MetaflowNamespaceMismatch, match=r"Run\('TrainFlow/1'\) is not in the current namespace"):
        client.Run("TrainFlow/1")
    with pytest.raises(MetaflowNotFound, match=r"Run\('TrainFlow/2'\) does not exist"):
        client.Run("TrainFlow/2")
    client.namespace(None)
    run = client.Run("TrainFlow/1")
    with pytest.raises(KeyError):  # Metaflow's run['nosuch'] is a KeyError, and a MetaflowNotFound
        run["nosuch"]
    with pytest.raises(MissingObjectError):
        run["nosuch"]
    with pytest.raises(KeyError):
        run["end"].task["nosuch"]


def test_merge_artifacts_errors_are_metaflows():
    from flowdrop.errors import MissingInMergeArtifactsError, UnhandledInMergeArtifactsError

    missing = MissingInMergeArtifactsError("step 'join': ... no input has: z", ["z"])
    assert isinstance(missing, MissingInMergeArtifactsException) and missing.artifact_names == ["z"]
    unhandled = UnhandledInMergeArtifactsError("step 'join': inputs disagree on x", ["x"])
    assert isinstance(unhandled, UnhandledInMergeArtifactsException) and str(unhandled).endswith("disagree on x")


def test_exception_wrapper_keeps_strings_and_pickles():
    try:
        raise ExternalCommandFailed("catch me!")
    except ExternalCommandFailed as exc:
        wrapped = MetaflowExceptionWrapper(exc)
    assert wrapped.type == "flowdrop.exception.ExternalCommandFailed"
    assert wrapped.exception == "catch me!"
    assert str(wrapped).startswith("Traceback") and "catch me!" in str(wrapped)
    again = pickle.loads(pickle.dumps(wrapped))
    assert (again.type, again.exception, str(again)) == (wrapped.type, wrapped.exception, str(wrapped))
    bare = MetaflowExceptionWrapper(type="a.B", exception="text")
    assert str(bare) == "[no stacktrace]\na.B: text" and bare.exception_type == "B"
