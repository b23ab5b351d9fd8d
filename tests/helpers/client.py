"""Runs written straight into a FlowDatastore for the client API's tests, and the client's state isolated per test.

`isolated_client` is an autouse fixture: a test module imports it to give
each of its tests no config file, user alice, and a fresh working directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from flowdrop.client import default_namespace, set_datastore
from flowdrop.datastore import FlowDatastore, FolderStorage

FLOW = "TrainFlow"


@pytest.fixture(autouse=True)
def isolated_client(tmp_path, monkeypatch):
    """No config file, user alice, a fresh folder datastore; module state reset afterwards."""
    for var in ["FLOWDROP_DATASTORE", "FLOWDROP_PRODUCTION_DATASTORE", "FLOWDROP_AWS_ENDPOINT"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FLOWDROP_CONFIG", str(tmp_path / "no-config.json"))
    monkeypatch.setenv("USER", "alice")
    monkeypatch.chdir(tmp_path)
    set_datastore(None)
    default_namespace()
    yield
    set_datastore(None)
    default_namespace()


@pytest.fixture
def ds(tmp_path) -> FlowDatastore:
    return FlowDatastore(FolderStorage(tmp_path / ".flowdrop"), FLOW)


def add_task(
    ds: FlowDatastore,
    run_id: str,
    step: str,
    task_id: str,
    artifacts: Mapping[str, Any],
    *,
    failures: int = 0,
    succeed: bool = True,
    started: str = "2026-05-01T10:00:00+00:00",
) -> None:
    """Record `failures` failed attempts, then a successful one (unless succeed=False)."""
    for attempt in range(failures):
        meta = {"status": "failed", "attempt": attempt, "started": started, "finished": started,
                "exception": f"ValueError: try {attempt}", "artifacts": {}}
        ds.write_attempt(run_id, step, task_id, attempt, meta)
        ds.save_logs(run_id, step, task_id, attempt, b"", f"Traceback {attempt}\n".encode())
    if not succeed:
        return
    shas = ds.save_artifacts(artifacts)
    meta = {"status": "succeeded", "attempt": failures, "started": started,
            "finished": "2026-05-01T10:05:00+00:00", "artifacts": shas, "input_paths": []}
    ds.write_attempt(run_id, step, task_id, failures, meta)
    ds.save_logs(run_id, step, task_id, failures, f"hello from {task_id}\n".encode(), b"")
    ds.mark_done(run_id, step, task_id, failures)


def make_run(
    ds: FlowDatastore,
    run_id: str,
    created: str,
    *,
    tags: tuple[str, ...] = ("user:alice",),
    end: bool = True,
    x: Any = None,
) -> None:
    """A start -> end run; without `end` its end step failed and status.json says so."""
    ds.write_run(run_id, {"flow_name": ds.flow_name, "run_id": run_id, "created": created, "user": "alice",
                          "tags": list(tags), "parameters": {"alpha": 0.5}, "origin_run_id": None,
                          "production": False})
    add_task(ds, run_id, "start", "start", {"alpha": 0.5}, started=created)
    end_started = created.replace("T09:", "T10:")
    if end:
        add_task(ds, run_id, "end", "end", {"x": x, "alpha": 0.5}, started=end_started)
    else:
        add_task(ds, run_id, "end", "end", {}, failures=1, succeed=False, started=end_started)
        ds.write_run_status(run_id, {"status": "failed", "finished": created, "failed_step": "end"})
