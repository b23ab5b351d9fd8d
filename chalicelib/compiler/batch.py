"""The batch backend: each task is an AWS Batch job, awaited with submitJob.sync.

Owns: the SubmitJob fields (queue, job definition, resources, the task's
identity as the environment variables model/task.py names), and how a foreach step's fan-out is read
back from the datastore (a Batch job cannot return a value to Step
Functions: submitJob.sync yields the job description, not the task output).
Does not own: the job definition (image, command, common environment: job.py) or the
datastore layout itself (datastore/flow.py; the two keys used here follow it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdrop.compiler.options import BackendSettings, CompileOptions
from flowdrop.compiler.payload import RETRY_COUNT
from flowdrop.errors import CompileError
from flowdrop.model import layout
from flowdrop.model.graph import Node
from flowdrop.model.task import ENV_INDICES, ENV_MODE, ENV_RETRY_COUNT, ENV_RUN, ENV_STEP

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
                backend: BackendSettings, timeout: int | None = None) -> dict[str, Any]:
    """Resource and SubmitJob Parameters of a task run as a Batch job (killed by Batch after `timeout`)."""
    overrides: dict[str, Any] = {
        "Environment": [
            {"Name": ENV_RUN, "Value.$": "States.JsonToString($.run)"},
            {"Name": ENV_INDICES, "Value.$": "States.JsonToString($.indices)"},
            {"Name": ENV_STEP, "Value": step},
            {"Name": ENV_MODE, "Value": mode},
            {"Name": ENV_RETRY_COUNT, "Value.$": f"States.Format('{{}}', {RETRY_COUNT})"},
        ],
    }
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


def inline_indices_state(next_state: str) -> dict[str, Any]:
    """A Pass that turns the fetched foreach_count into [0, ..., n-1] for an inline Map.

    Only entered for n <= the step's inline threshold, never more than
    model.INLINE_FOREACH_LIMIT (1,000), which is also the most
    States.ArrayRange makes.
    """
    return {
        "Type": "Pass",
        "Parameters": {
            "foreach_count.$": "$.task.output.foreach_count",
            "foreach_indices.$": "States.ArrayRange(0, States.MathAdd($.task.output.foreach_count, -1), 1)",
        },
        "ResultPath": "$.task.output",
        "Next": next_state,
    }


def items_reader_parameters(options: CompileOptions, flow_name: str, node: Node) -> dict[str, Any]:
    """Bucket and Key of the foreach-items.json the foreach task wrote, for a Distributed Map."""
    return _task_file_key(options, flow_name, node, layout.FOREACH_ITEMS_FILE)
