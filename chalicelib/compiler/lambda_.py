"""The lambda backend: each task is one synchronous invoke of the task-runner function.

Owns: the Task fields that send a payload to the function and read its
result. Does not own: the payload (payload.py) or the function itself.
Lambda's memory is a property of the function, so @resources does not
change anything here; a step that needs more uses @batch.
"""

from __future__ import annotations

from typing import Any

from flowdrop.compiler.options import BackendSettings

RESOURCE = "arn:aws:states:::lambda:invoke"


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
