"""Runs as data: run ids, the statuses a run goes through, and the run record.

Owns: the `sfn-` prefix of production run ids (run id = `sfn-<execution
name>`, as in Metaflow), Step Functions' execution statuses and which are
final, and run.json, the record whoever starts a run writes. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from flowdrop.model.names import scheduled_tick_of

RUN_ID_PREFIX = "sfn-"

# Step Functions' execution statuses, which every run view speaks.
RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED = "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"
RUN_STATUSES = (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)
TERMINAL_STATUSES = (SUCCEEDED, FAILED, TIMED_OUT, ABORTED)


def run_id(execution_name: str) -> str:
    """The Metaflow-style run id of an execution: `sfn-<execution name>`."""
    return RUN_ID_PREFIX + execution_name


def execution_name_of(run: str) -> str:
    """Inverse of run_id; accepts a bare execution name too."""
    return run[len(RUN_ID_PREFIX):] if run.startswith(RUN_ID_PREFIX) else run


def is_production_run(run: str) -> bool:
    """True for a run Step Functions started (`sfn-...`)."""
    return run.startswith(RUN_ID_PREFIX)


def scheduled_time(run: str) -> datetime | None:
    """The schedule tick a run was started for (`sfn-sched-20261125T1000Z`: 10:00 UTC), else None.

    The tick is in the execution name, so every task, the run view and the
    client know it without another record; backfilled runs carry theirs too.
    """
    if not is_production_run(run):
        return None
    return scheduled_tick_of(execution_name_of(run))


def run_record(flow_name: str, run: str, *, created: str, user: str, tags: Iterable[str] = (),
               parameters: Mapping[str, Any] | None = None, origin_run_id: str | None = None,
               system_tags: Iterable[str] = (), code_package: str | None = None) -> dict[str, Any]:
    """run.json: who started the run and when, its tags (`user:<name>` among them), parameters and origin.

    `tags` is every tag; `system_tags` those flowdrop gives (`user:<name>`, a
    deployment's `production:<token>`, and the given `system_tags`: runtime,
    Python version, date, @project), `user_tags` the ones people gave.
    `code_package`: the s3:// URL of the package a production run's tasks run from (none for a local run).
    """
    given = set(tags)
    system = {f"user:{user}", *system_tags, *(t for t in given if t.startswith("production:"))}
    return {
        "flow_name": flow_name,
        "run_id": run,
        "created": created,
        "user": user,
        "tags": sorted(system | given),
        "system_tags": sorted(system),
        "user_tags": sorted(given - system),
        "parameters": dict(parameters or {}),
        "origin_run_id": origin_run_id,
        "production": is_production_run(run),
        **({"code_package": code_package} if code_package else {}),
    }
