"""The lambda backend: each task is one synchronous invoke of the task-runner function.

Owns: the Task fields that send a payload to the function and read its
result. Does not own: the payload (payload.py) or the function itself.
Lambda's memory is a property of the function, so @resources is checked
against it (a step asking for more memory than the function has, or for
any GPU, is refused with its name: such a step uses @batch, which runs it
on Batch whatever the deployment's backend).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdrop.compiler.options import BackendSettings

RESOURCE = "arn:aws:states:::lambda:invoke"


def resource_problems(step: str, decorators: Mapping[str, Mapping[str, Any]], backend: BackendSettings) -> list[str]:
    """Why the task function cannot give `step` what its @resources asks for."""
    asked = decorators.get("resources") or {}
    problems = []
    if int(asked.get("gpu") or 0) > 0:
        problems.append(f"step '{step}': @resources(gpu={asked['gpu']}) cannot run on the lambda backend (Lambda "
                        "has no GPUs); add @batch to run this step on Batch")
    memory = int(asked.get("memory") or 0)
    if memory > backend.task_function_memory:
        problems.append(f"step '{step}': @resources(memory={memory}) is more than the task function's "
                        f"{backend.task_function_memory} MB; add @batch to run this step on Batch, or give the "
                        "function more memory (FLOWDROP_TASK_FUNCTION_MEMORY)")
    return problems


def task_fields(payload: dict[str, Any], backend: BackendSettings) -> dict[str, Any]:
    """Resource, Parameters and result handling of a task run by the task-runner Lambda."""
    return {
        "Resource": RESOURCE,
        "Parameters": {"FunctionName": backend.task_function, "Payload": payload},
        # The invoke result wraps the function's return value (model.task_output)
        # in Payload next to status codes and headers; keep only the value.
        "ResultSelector": {"output.$": "$.Payload"},
        "ResultPath": "$.task",
    }
