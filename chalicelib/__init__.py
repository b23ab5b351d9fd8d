"""flowdrop: Metaflow-compatible flows, in production on AWS Step Functions via an S3 upload.

The public SDK, with Metaflow's names: change `from metaflow import ...` to
`from flowdrop import ...` and a flow runs.
"""

from .current import current
from .decorators import batch, catch, environment, project, resources, retry, schedule, step, timeout
from .flowspec import FlowSpec, StepFailure
from .parameters import JSONType, Parameter

__version__ = "0.1.0"


def __getattr__(name: str):
    # The client API imports the datastore; load it only when asked for.
    if name in ("Flow", "Run", "Step", "Task", "namespace", "get_namespace", "default_namespace",
                "set_datastore", "MissingObjectError", "NamespaceMismatchError"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'flowdrop' has no attribute {name!r}")


__all__ = [
    "FlowSpec", "Parameter", "JSONType", "current", "step", "retry", "catch", "timeout", "resources",
    "batch", "environment", "schedule", "project", "StepFailure",
    "Flow", "Run", "Step", "Task", "namespace", "get_namespace", "default_namespace",
]
