"""The batch backend: each task is an AWS Batch job, awaited with submitJob.sync.

Owns: the SubmitJob fields (queue, job definition, resources, the task's
identity as the environment variables model/task.py names), and how a foreach step's fan-out is read
back from the datastore (a Batch job cannot return a value to Step
Functions: submitJob.sync yields the job description, not the task output).
In a flow with a switch, the task's result is read back the same way
(task_done_states): after a switch step (its Choice reads the case) and
before a step that names its input task, a GetObject puts the task's
done.json ({"task_id", "switch_value", ...}) into $.task.output. A
recursive switch's pass is only known at run time, so its read is chosen
by a Choice: after another step it is the first pass (the usual key); after
itself, the previous pass's done.json names this pass's id (next_task_id).
Does not own: the job definition (image, command, common environment: job.py) or the
datastore layout itself (datastore/flow.py; the two keys used here follow it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flowdrop.compiler.options import BackendSettings, CompileOptions
from flowdrop.compiler.payload import RETRY_COUNT
from flowdrop.errors import CompileError
from flowdrop.model import layout
from flowdrop.model.graph import Node
from flowdrop.model import state_names as sn
from flowdrop.model.state_names import state_name
from flowdrop.model.task import ENV_INDICES, ENV_INPUT_TASK, ENV_MODE, ENV_RETRY_COUNT, ENV_RUN, ENV_STEP

RESOURCE = "arn:aws:states:::batch:submitJob.sync"
GET_OBJECT = "arn:aws:states:::aws-sdk:s3:getObject"

def resource_requirements(decorators: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """Batch ResourceRequirements from @resources and @batch (the larger of the two wins, as in Metaflow)."""
    specs = [decorators[name] for name in ("resources", "batch") if name in decorators]
    if not specs:
        return []
    cpu = max(float(spec.get("cpu") or 0) for spec in specs)
    memory = max(int(spec.get("memory") or 0) for spec in specs)
    gpu = max(int(spec.get("gpu") or 0) for spec in specs)
    out = [{"Type": "VCPU", "Value": _number(cpu)}, {"Type": "MEMORY", "Value": str(memory)}]
    if gpu > 0:
        out.append({"Type": "GPU", "Value": str(gpu)})
    return out


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


# Batch refuses an attempt duration under 60 s; a shorter @timeout is still
# exact in Step Functions (the Task's TimeoutSeconds), Batch then ends the job.
MIN_ATTEMPT_SECONDS = 60


def task_fields(flow_name: str, step: str, mode: str, decorators: Mapping[str, Mapping[str, Any]],
                backend: BackendSettings, timeout: int | None = None, input_task: bool = False) -> dict[str, Any]:
    """Resource and SubmitJob Parameters of a task run as a Batch job (killed by Batch after `timeout`).

    `input_task`: the job is told the task that ran before (a step after a switch, compiler/switch.py).
    """
    environment: list[dict[str, Any]] = [
        {"Name": ENV_RUN, "Value.$": "States.JsonToString($.run)"},
        {"Name": ENV_INDICES, "Value.$": "States.JsonToString($.indices)"},
        {"Name": ENV_STEP, "Value": step},
        {"Name": ENV_MODE, "Value": mode},
        {"Name": ENV_RETRY_COUNT, "Value.$": f"States.Format('{{}}', {RETRY_COUNT})"},
    ]
    if input_task:
        environment.append({"Name": ENV_INPUT_TASK, "Value.$": "$.task.output.task_id"})
    overrides: dict[str, Any] = {"Environment": environment}
    requirements = resource_requirements(decorators)
    if requirements:
        overrides["ResourceRequirements"] = requirements
    queue = (decorators.get("batch") or {}).get("queue") or backend.job_queue
    parameters: dict[str, Any] = {
        # Job names allow letters, digits, '-' and '_': flow and step names qualify.
        "JobName": f"{flow_name}-{step}"[:128],
        "JobQueue": queue,
        "JobDefinition": backend.job_definition,
        "ContainerOverrides": overrides,
    }
    if timeout:
        # Without it a task Step Functions gave up on would run on, holding its instance.
        parameters["Timeout"] = {"AttemptDurationSeconds": max(MIN_ATTEMPT_SECONDS, int(timeout))}
    return {
        "Resource": RESOURCE,
        "Parameters": parameters,
        # The job description is large and nobody reads it.
        "ResultPath": None,
    }


def split_datastore_root(options: CompileOptions, step: str) -> tuple[str, str]:
    """(bucket, key prefix) of an s3:// datastore root; a CompileError naming the step otherwise."""
    root = options.datastore_root or ""
    if not root.startswith("s3://"):
        raise CompileError([f"step '{step}': a foreach step on the batch backend reads its fan-out from the "
                            f"datastore, so datastore_root must be s3://bucket/prefix (got {root or 'none'})"])
    bucket, _, prefix = root[len("s3://"):].partition("/")
    prefix = prefix.strip("/")
    if not bucket or any(ch in prefix for ch in "{}'\\"):
        raise CompileError([f"datastore_root {root!r}: expected s3://bucket/prefix without {{ }} ' or \\"])
    return bucket, prefix


def _task_file_key(options: CompileOptions, flow_name: str, node: Node, filename: str) -> dict[str, Any]:
    """S3 Bucket and Key (as a States.Format of run id and indices) of one of the task's files."""
    bucket, prefix = split_datastore_root(options, node.name)
    task_id = node.name + "-{}" * node.foreach_depth
    base = f"{prefix}/" if prefix else ""
    template = base + layout.task_key(flow_name, "{}", node.name, task_id, filename)
    args = ["$.run.run_id"] + [f"$.indices[{i}]" for i in range(node.foreach_depth)]
    return {"Bucket": bucket, "Key.$": f"States.Format('{template}', {', '.join(args)})"}


def fetch_output_state(options: CompileOptions, flow_name: str, node: Node, next_state: str) -> dict[str, Any]:
    """A state that reads the foreach task's done.json ({"foreach_count": n, ...}) into $.task.output."""
    return {
        "Type": "Task",
        "Resource": GET_OBJECT,
        "Parameters": _task_file_key(options, flow_name, node, layout.DONE_FILE),
        "ResultSelector": {"output.$": "States.StringToJson($.Body)"},
        "ResultPath": "$.task",
        "Next": next_state,
    }


def inline_indices_state(next_state: str, keep_task_id: bool = False) -> dict[str, Any]:
    """A Pass that turns the fetched foreach_count into [0, ..., n-1] for an inline Map.

    Only entered for n <= the step's inline threshold, never more than
    model.INLINE_FOREACH_LIMIT (1,000), which is also the most
    States.ArrayRange makes.
    """
    parameters = {
        "foreach_count.$": "$.task.output.foreach_count",
        "foreach_indices.$": "States.ArrayRange(0, States.MathAdd($.task.output.foreach_count, -1), 1)",
    }
    if keep_task_id:  # the body's first step names its input task (a recursive switch)
        parameters["task_id.$"] = "$.task.output.task_id"
    return {"Type": "Pass", "Parameters": parameters, "ResultPath": "$.task.output", "Next": next_state}


def items_reader_parameters(options: CompileOptions, flow_name: str, node: Node) -> dict[str, Any]:
    """Bucket and Key of the foreach-items.json the foreach task wrote, for a Distributed Map."""
    return _task_file_key(options, flow_name, node, layout.FOREACH_ITEMS_FILE)


def task_done_states(options: CompileOptions, flow_name: str, node: Node, scope_name: Callable[[str], str],
                     then: Mapping[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """(entry state's base name, states) that read a switch flow's Batch task's done.json into
    $.task.output, then go on as `then` says."""
    read = scope_name(state_name(node.name, sn.OUTPUT))
    first = {k: v for k, v in fetch_output_state(options, flow_name, node, "").items() if k != "Next"} | dict(then)
    if not node.is_recursive:
        return state_name(node.name, sn.OUTPUT), {read: first}
    # Before the read, $.task.output is still the task that ran before this one (a Batch Task keeps no result).
    which, again = scope_name(state_name(node.name, sn.PASS)), scope_name(state_name(node.name, sn.OUTPUT_AGAIN))
    bucket, prefix = split_datastore_root(options, node.name)
    base = f"{prefix}/" if prefix else ""
    template = base + layout.task_key(flow_name, "{}", node.name, "{}", layout.DONE_FILE)
    previous = "$.task.output.task_id"
    return state_name(node.name, sn.PASS), {
        which: {
            "Type": "Choice",
            "Choices": [{"Or": [{"Variable": previous, "StringEquals": node.name},
                                {"Variable": previous, "StringMatches": f"{node.name}.*"},
                                {"Variable": previous, "StringMatches": f"{node.name}-*"}], "Next": again}],
            "Default": read,
        },
        read: first,
        again: {**first, "Parameters": {
            "Bucket": bucket,
            "Key.$": f"States.Format('{template}', $.run.run_id, $.task.output.next_task_id)"}},
    }
