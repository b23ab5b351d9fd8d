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
    if name in ("Metaflow", "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
                "default_namespace", "set_datastore", "MissingObjectError", "NamespaceMismatchError"):
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
    if name in NOT_OFFERED:  # Metaflow has it, flowdrop does not: say so, and what to do instead
        raise ImportError(f"flowdrop does not offer Metaflow's {name}: {NOT_OFFERED[name]}", name=name)
    raise AttributeError(f"module 'flowdrop' has no attribute {name!r}")


NOT_OFFERED = {
    "S3": "use boto3 in the step (boto3.client('s3')); artifacts (self.x = ...) are stored in S3 for you",
    "parallel": "@parallel's multi-node gangs have no Step Functions form; use a foreach",
    "pytorch_parallel": "@parallel's multi-node gangs have no Step Functions form; use a foreach",
    "get_metadata": "runs are recorded in the datastore (flowdrop.set_datastore chooses which); there is no "
                    "metadata service",
    "metadata": "runs are recorded in the datastore (flowdrop.set_datastore chooses which); there is no "
                "metadata service",
}


__all__ = [
    "__version__",
    "FlowSpec", "Parameter", "JSONType", "IncludeFile", "Config", "config_expr", "current",
    "step", "retry", "catch", "timeout", "resources",
    "batch", "environment", "schedule", "project", "trigger", "trigger_on_finish", "exit_hook", "StepFailure",
    "card", "pypi", "conda", "kubernetes", "secrets", "pypi_base", "conda_base",  # accepted, not carried out
    "Event",
    "Metaflow", "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace", "default_namespace",
    "Deployer", "DeployedFlow", "TriggeredRun", "Runner", "ExecutingRun", "profile",
]
