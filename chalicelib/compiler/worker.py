"""The worker backend: each task is a message on an SQS queue, answered with its task token.

Owns: the Task fields of the callback pattern (sqs:sendMessage.waitForTaskToken).
Does not own: the workers that answer (local/worker.py) or the payload.
This is the backend the embedded stack executes for real on moto.
"""

from __future__ import annotations

from typing import Any

from flowdrop.compiler.options import BackendSettings

RESOURCE = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


def task_fields(payload: dict[str, Any], backend: BackendSettings, timeout: int | None) -> dict[str, Any]:
    """Resource, Parameters, result handling and heartbeat of a task run by a queue worker."""
    fields: dict[str, Any] = {
        "Resource": RESOURCE,
        "Parameters": {
            "QueueUrl": backend.worker_queue_url,
            "MessageBody": {"task_token.$": "$$.Task.Token", "payload": payload},
        },
        # SendTaskSuccess's output is the runner's model.task_output.
        "ResultSelector": {"output.$": "$"},
        "ResultPath": "$.task",
    }
    # A worker that dies stops heartbeating, and the task fails after this
    # long instead of waiting out the whole timeout (or a year, by default).
    # Step Functions requires HeartbeatSeconds below TimeoutSeconds.
    if timeout is None or backend.heartbeat_seconds < timeout:
        fields["HeartbeatSeconds"] = backend.heartbeat_seconds
    return fields
