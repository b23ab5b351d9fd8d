"""@catch inside a task: the exception recorded where the flow reads it, as Metaflow's @catch does.

Owns: catch_in_task (a step's last attempt raised: its exception goes to
`var` and the task succeeds), record_caught_failure (a "catch" mode task,
run after the step's attempts all failed or died: the last failure read
from their records), and retry_times. Does not own running the step or
storing its artifacts (task.py).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowdrop.exception import MetaflowExceptionWrapper, dotted_type
from flowdrop.flowspec import FlowSpec
from flowdrop.model.task import TaskPayload
from flowdrop.plugins.catch_decorator import FailureHandledByCatch

if TYPE_CHECKING:
    from flowdrop.runtime.task import TaskSetup


def retry_times(decorators: Mapping[str, Mapping[str, Any]]) -> int:
    return int((decorators.get("retry") or {}).get("times") or 0)


def catch_in_task(flow: FlowSpec, step: str, catch: Mapping[str, Any], exc: Exception,
                   attempt: int) -> MetaflowExceptionWrapper:
    """Metaflow's @catch on a step's last attempt: record the exception in `var`; the task succeeds."""
    failure = MetaflowExceptionWrapper(exc, step=step, attempts=attempt + 1)
    if catch.get("print_exception", True):
        print(f"@catch caught an exception from step '{step}':", file=sys.stderr)
        print("\n".join(f">  {line}" for line in (failure.stacktrace or str(failure)).splitlines()), file=sys.stderr)
    if catch.get("var"):
        flow.__dict__[catch["var"]] = failure
    return failure


def record_caught_failure(
    setup: TaskSetup, payload: TaskPayload, flow: FlowSpec, catch: Mapping[str, Any], attempt: int,
    timeout: int | None = None,
) -> None:
    """A task in "catch" mode: the step's last failure, read from its attempts, recorded in @catch's var."""
    ds = setup.datastore
    # Only the step's own attempts count: a retried catch fallback leaves
    # attempts of its own (mode "catch") that say nothing about the step.
    earlier = [ds.read_attempt(payload.run_id, payload.step, payload.task_id, a) or {}
               for a in ds.list_attempts(payload.run_id, payload.step, payload.task_id) if a < attempt]
    runs = [meta for meta in earlier if meta.get("mode", "run") == "run"]
    last = next((meta for meta in reversed(runs) if meta.get("status") in ("failed", "caught")
                 and meta.get("exception_type")), {})
    # No failure recorded but an attempt left running: Step Functions stopped
    # waiting for it (its @timeout passed, or its host was lost) before it ended.
    stopped = not last and any(meta.get("status") == "running" for meta in runs)
    if stopped and timeout:
        default_type = "flowdrop.plugins.timeout_decorator.TimeoutException"
        default_message = f"the step did not finish within its @timeout ({timeout} s)"
    else:
        # As Metaflow's fallback: the task died (killed, its host lost) without an exception.
        default_type = dotted_type(FailureHandledByCatch)
        default_message = str(FailureHandledByCatch(len(runs)))
    # As Metaflow's @catch: the var holds the exception's dotted type, its text and the stack trace.
    failure = MetaflowExceptionWrapper(
        type=last.get("exception_class") or (f"builtins.{last['exception_type']}" if last.get("exception_type")
                                             else default_type),
        exception=last.get("exception_message", default_message),
        stacktrace=last.get("exception") or None,
        step=payload.step,
        attempts=len(runs),
    )
    if catch.get("print_exception", True):
        print(f"@catch: step '{payload.step}' failed after {len(runs)} attempt(s): {failure.type}: "
              f"{failure.exception}", file=sys.stderr)
    if catch.get("var"):
        flow.__dict__[catch["var"]] = failure
