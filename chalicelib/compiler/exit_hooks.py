"""@exit_hook in the state machine: one hook task at the end of the success path and of the failure path.

Owns: rewriting a compiled machine's top-level states so that a run of a
flow with @exit_hook ends through a hook task, which the task runner answers
by calling the hooks (runtime/exit_hooks.py):

- success: every state that ended the machine (the end step's Task, its
  `-catch` Task) goes on to `exit-hook-success` (mode exit_hook_success),
  which ends the machine. If the hook task itself cannot run (its backend
  is lost, after its Retry), its Catch goes to `run-succeeded`: the run
  succeeded, a hook's fate does not change that.
- failure: every top-level Task, Map and Parallel gets one more Catch,
  States.ALL after its own (@catch still comes first), keeping the state data
  and putting the error at `$.failure` (a top-level Fail state, a switch's
  no-case or repeat limit, becomes a Pass putting its error there); it leads to `exit-hook-error` (mode
  exit_hook_error), then `run-failed-check`, then a Fail state, so the
  execution still ends FAILED: error `flowdrop.RunFailed` (a Fail state may
  not raise a States.* error), cause "<caught error>: <caught cause>".
- the hook task has its own Retry (a lost worker or host) and a one-hour
  TimeoutSeconds, so a hanging hook cannot keep an ended run RUNNING. States inside a Map or Parallel need
  no Catch: their failure fails the enclosing state, which is caught.

Only the hook lists the flow has get their path: a flow with on_success
hooks only keeps its failure path as it was. Flows without @exit_hook are
not touched (their definitions stay byte-identical). A run stopped by the
machine's TimeoutSeconds or StopExecution runs no hook (Step Functions
passes no Catch there). Pure: dicts in, new dicts out.
"""

from __future__ import annotations

from typing import Any

from flowdrop.compiler import batch, lambda_, worker
from flowdrop.compiler.options import CompileOptions
from flowdrop.compiler.payload import payload_template
from flowdrop.model.exit_hooks import ERROR_MODE, HOOK_STEP, SUCCESS_MODE, hook_names
from flowdrop.model.graph import Graph
from flowdrop.model.state_names import (
    EXIT_HOOK_ERROR, EXIT_HOOK_SUCCESS, RUN_FAILED, RUN_FAILED_CHECK, RUN_FAILED_NO_CAUSE, RUN_SUCCEEDED,
)

# A Fail state may not raise an error named States.* (a Task's States.TaskFailed, States.Timeout), so the
# failure path ends on its own error name, with the caught error and cause in the Cause.
RUN_FAILED_ERROR = "flowdrop.RunFailed"
FAILURE_PATH = "$.failure"  # where a caught error lands; the hook task's own result goes elsewhere
HOOK_FAILURE_PATH = "$.exit_hook_failure"
CATCHABLE = ("Task", "Map", "Parallel")

# A hook that hangs must not keep a run that has ended RUNNING for ever: after this, its Catch ends the run.
HOOK_TIMEOUT_SECONDS = 3600

# The hook task's Retry, as the -catch Task's: its failure means a lost worker or host, not a hook's.
HOOK_RETRY = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 5, "BackoffRate": 2.0}]


def with_exit_hooks(states: dict[str, dict[str, Any]], graph: Graph,
                    options: CompileOptions) -> dict[str, dict[str, Any]]:
    """The top-level `states` with the hook paths the flow's @exit_hook needs."""
    on_success, on_error = bool(hook_names(graph, True)), bool(hook_names(graph, False))
    out: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        state = dict(state)
        if on_error and state["Type"] in CATCHABLE:
            state["Catch"] = [*state.get("Catch", []),
                              {"ErrorEquals": ["States.ALL"], "ResultPath": FAILURE_PATH, "Next": EXIT_HOOK_ERROR}]
        if on_error and state["Type"] == "Fail":
            state = _to_failure_path(state)
        if on_success and state.pop("End", False):
            state["Next"] = EXIT_HOOK_SUCCESS
        out[name] = state
    if on_success:
        out[EXIT_HOOK_SUCCESS] = hook_task(graph, options, SUCCESS_MODE, None, RUN_SUCCEEDED)
        out[RUN_SUCCEEDED] = {"Type": "Succeed"}
    if on_error:
        out.update(failure_states(graph, options))
    return out


def _to_failure_path(fail: dict[str, Any]) -> dict[str, Any]:
    """A top-level Fail state (a switch's no-case or repeat limit) as a Pass that puts its error where a Catch
    would and goes to the error hook: the run still ends FAILED with that error, after the hooks ran."""
    failure: dict[str, Any] = {"Error": fail.get("Error", RUN_FAILED_ERROR)}
    if "CausePath" in fail:
        failure["Cause.$"] = fail["CausePath"]
    elif "Cause" in fail:
        failure["Cause"] = fail["Cause"]
    return {"Type": "Pass", "Parameters": failure, "ResultPath": FAILURE_PATH, "Next": EXIT_HOOK_ERROR}


def failure_states(graph: Graph, options: CompileOptions) -> dict[str, dict[str, Any]]:
    """The error hook task, then a Fail state repeating the caught error (and its cause, when it has one)."""
    return {
        EXIT_HOOK_ERROR: hook_task(graph, options, ERROR_MODE, RUN_FAILED_CHECK, RUN_FAILED_CHECK),
        # A Fail state's CausePath on a missing Cause is itself an error: check first.
        RUN_FAILED_CHECK: {
            "Type": "Choice",
            "Choices": [{"Variable": f"{FAILURE_PATH}.Cause", "IsPresent": True, "Next": RUN_FAILED}],
            "Default": RUN_FAILED_NO_CAUSE,
        },
        RUN_FAILED: {"Type": "Fail", "Error": RUN_FAILED_ERROR,
                     "CausePath": f"States.Format('{{}}: {{}}', {FAILURE_PATH}.Error, {FAILURE_PATH}.Cause)"},
        RUN_FAILED_NO_CAUSE: {"Type": "Fail", "Error": RUN_FAILED_ERROR,
                              "CausePath": f"States.Format('{{}}', {FAILURE_PATH}.Error)"},
    }


def hook_task(graph: Graph, options: CompileOptions, mode: str, next_state: str | None,
              if_lost: str) -> dict[str, Any]:
    """The Task that calls the hooks, on the deployment's backend; it goes to `if_lost` when it cannot run."""
    backend = options.backend
    payload = payload_template(HOOK_STEP, mode)
    match backend.kind:
        case "batch":
            fields = batch.task_fields(graph.flow_name, HOOK_STEP, mode, {}, backend, HOOK_TIMEOUT_SECONDS)
        case "lambda":
            fields = lambda_.task_fields(payload, backend)
        case _:
            fields = worker.task_fields(payload, backend, HOOK_TIMEOUT_SECONDS)
    state: dict[str, Any] = {
        "Type": "Task", **fields, "TimeoutSeconds": HOOK_TIMEOUT_SECONDS, "Retry": HOOK_RETRY,
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": HOOK_FAILURE_PATH, "Next": if_lost}],
    }
    state.update({"Next": next_state} if next_state is not None else {"End": True})
    return state
