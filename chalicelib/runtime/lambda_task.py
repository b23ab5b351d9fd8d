"""The task Lambda's handler: `flowdrop.runtime.lambda_task.handler`, one task per invoke.

Owns: turning the lambda backend's Payload (model.TaskPayload's JSON form,
compiler/lambda_.py) into a task run from its code package, extracted under
/tmp once per warm container, and returning the task's output
(model.task_output) as the function's result. A failed task raises, so
Lambda reports a function error whose errorType Step Functions' Retry and
Catch see. Does not own: the function's configuration (the template; the
embedded stack's local/resources.py) or the task runner.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

from flowdrop.aws import AwsConfig
from flowdrop.model.task import TaskPayload
from flowdrop.runtime.packages import PackageCache

_CACHE: PackageCache | None = None
_LOCK = threading.Lock()


def _packages() -> PackageCache:
    global _CACHE
    with _LOCK:
        if _CACHE is None:
            _CACHE = PackageCache(AwsConfig.from_env().client("s3"), Path(tempfile.gettempdir()) / "flowdrop-packages")
        return _CACHE


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Run the task `event` describes; its task_output."""
    from flowdrop.runtime.entry import run_task_from_file

    payload = TaskPayload.from_dict(event)
    return run_task_from_file(_packages().flow_file(payload), payload)
