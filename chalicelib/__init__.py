"""flowdrop: Metaflow-compatible flows, in production on AWS Step Functions via an S3 upload.

The public SDK, with Metaflow's names: change `from metaflow import ...` to
`from flowdrop import ...` and a flow runs.
"""

from flowdrop.current import current
from flowdrop.decorators import (
    batch, card, catch, conda, conda_base, environment, exit_hook, kubernetes, project, pypi, pypi_base, resources,
    retry, schedule, secrets, step, timeout, trigger, trigger_on_finish,
)
from flowdrop.flowspec import FlowSpec, StepFailure
from flowdrop.includefile import IncludeFile
from flowdrop.model.version import __version__
from flowdrop.parameters import JSONType, Parameter
from flowdrop.user_configs import Config, config_expr


def __getattr__(name: str):
    # The client API imports the datastore; load it only when asked for.
    if name in ("Metaflow", "Flow", "Run", "Step", "Task", "DataArtifact", "MetaflowCode", "namespace",
                "get_namespace", "default_namespace", "set_datastore", "get_metadata", "metadata", "MissingObjectError",
                "NamespaceMismatchError"):
        from flowdrop import client

        return getattr(client, name)
    if name == "Event":
        from flowdrop.cli import publish  # the laptop's side (or a task's): publishing goes through the API

        return publish.Event
    if name in ("Deployer", "DeployedFlow", "TriggeredRun"):
        from flowdrop.cli import python_api  # the laptop's side: only code that deploys loads it

        return getattr(python_api, name)
    if name in ("Runner", "ExecutingRun"):
        from flowdrop.cli import runner  # local runs from Python: a subprocess per run, as Metaflow's Runner

        return getattr(runner, name)
    if name == "profile":
        from flowdrop.profiling import profile

        return profile
    if name == "S3":
        from flowdrop.datatools import S3  # boto3 only when a step makes one

        return S3
    if name == "parallel":
        from flowdrop import not_offered  # Metaflow's names flowdrop lacks: they import, and refuse when used

        return getattr(not_offered, name)
    raise AttributeError(f"module 'flowdrop' has no attribute {name!r}")


__all__ = [
    "__version__",
    "FlowSpec", "Parameter", "JSONType", "IncludeFile", "Config", "config_expr", "current",
    "step", "retry", "catch", "timeout", "resources",
    "batch", "environment", "schedule", "project", "trigger", "trigger_on_finish", "exit_hook", "StepFailure",
    "card", "pypi", "conda", "kubernetes", "secrets", "pypi_base", "conda_base",  # accepted, not carried out
    "Event",
    "Metaflow", "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace", "default_namespace",
    "Deployer", "DeployedFlow", "TriggeredRun", "Runner", "ExecutingRun", "profile", "S3",
]
