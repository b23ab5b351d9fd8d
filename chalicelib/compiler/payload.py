"""The state data every compiled state machine carries, and the task payload built from it.

Owns: the shape of the state data (below), the states at the start of every
state machine that normalize the execution input into it, and the payload
template each Task sends its backend (model.TaskPayload's JSON form).
Does not own: the transport of that payload (batch.py, lambda_.py, worker.py).

State data, the same at every point of every execution:

    {"run":     {"flow_name", "run_id", "parameters", "code_package", "datastore_root"},
     "indices": [i, j, ...],           # foreach indices of the current task
     "task":    {"output": {...}}}     # the last task's model.task_output (or caught error)

`run` is set once by the first states, so what is the same for every task
of a deployment is written once in the definition, not once per Task. Map
iterations get `run` and their `indices`; `task` is overwritten by every
Task (ResultPath "$.task"), so state data never grows with the flow.
"""

from __future__ import annotations

from typing import Any

from flowdrop.compiler.options import CompileOptions
from flowdrop.model.graph import Graph
from flowdrop.model.runs import RUN_ID_PREFIX
from flowdrop.model.state_names import CHECK_PARAMETERS, DEFAULT_PARAMETERS, ENCODE_PARAMETERS, START_RUN

# Where each piece of the payload comes from at run time.
RUN_ID = f"States.Format('{RUN_ID_PREFIX}{{}}', $$.Execution.Name)"
RETRY_COUNT = "$$.State.RetryCount"


def start_states(graph: Graph, options: CompileOptions, first_step: str) -> dict[str, dict[str, Any]]:
    """The states that turn the execution input into the state data, then enter `first_step`.

    The seed's input is {"Parameters": "{\\"alpha\\": 0.5}"}; a missing or
    null key means every default ("{}"), and an object (typed in the console)
    is encoded to the string the runner expects.
    """
    return {
        CHECK_PARAMETERS: {
            "Type": "Choice",
            "Choices": [
                # One rule per test: Choice rules run in order, so IsString only
                # sees a present value (AWS fails a comparison on a missing path).
                {"Variable": "$.Parameters", "IsPresent": False, "Next": DEFAULT_PARAMETERS},
                {"Variable": "$.Parameters", "IsNull": True, "Next": DEFAULT_PARAMETERS},
                {"Variable": "$.Parameters", "IsString": True, "Next": START_RUN},
            ],
            "Default": ENCODE_PARAMETERS,
        },
        DEFAULT_PARAMETERS: {"Type": "Pass", "Result": {"Parameters": "{}"}, "Next": START_RUN},
        ENCODE_PARAMETERS: {
            "Type": "Pass",
            "Parameters": {"Parameters.$": "States.JsonToString($.Parameters)"},
            "Next": START_RUN,
        },
        START_RUN: {
            "Type": "Pass",
            "Parameters": {
                "run": {
                    "flow_name": graph.flow_name,
                    "run_id.$": RUN_ID,
                    "parameters.$": "$.Parameters",
                    "code_package": options.code_package,
                    "datastore_root": options.datastore_root,
                },
                "indices": [],
            },
            "Next": first_step,
        },
    }


def payload_template(step: str, mode: str, input_paths: str | None = None) -> dict[str, Any]:
    """model.TaskPayload's JSON form as ASL Parameters: literals for this step, paths for the rest.

    `input_paths`, an expression for the task(s) feeding this one, is given
    where that depends on data (after a switch, compiler/switch.py).
    """
    template = {
        "flow_name.$": "$.run.flow_name",
        "step": step,
        "run_id.$": "$.run.run_id",
        "indices.$": "$.indices",
        "parameters.$": "$.run.parameters",
        "mode": mode,
        "retry_count.$": RETRY_COUNT,
        "code_package.$": "$.run.code_package",
        "datastore_root.$": "$.run.datastore_root",
    }
    if input_paths is not None:
        template["input_paths.$"] = input_paths
    return template


def iteration_selector(depth: int, with_task: bool = False) -> dict[str, Any]:
    """A Map's ItemSelector: each iteration's indices are the enclosing ones plus its own.

    `depth` is the number of indices the Map's own input already has (the
    foreach step's foreach_depth), known when compiling, so the list is
    built with States.Array over fixed positions; there is no array-concat
    intrinsic. The item's position, not its value, is the index: inline
    items are [0, 1, ...] and S3 items are [{"index": i}, ...].
    `with_task` also hands each iteration the foreach task's id (not its
    output, which holds up to 1,000 indices), for a first step that names
    its input task.
    """
    parts = [f"$.indices[{i}]" for i in range(depth)] + ["$$.Map.Item.Index"]
    selector: dict[str, Any] = {"run.$": "$.run", "indices.$": f"States.Array({', '.join(parts)})"}
    if with_task:
        selector["task"] = {"output": {"task_id.$": "$.task.output.task_id"}}
    return selector
