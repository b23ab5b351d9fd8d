"""Where a flow deploys and with which flags: the light part of `step-functions create`.

Owns: DeployOptions (the create flags that shape a deployment), DeployTarget
and deployment_target (state machine name, @project branch), and
deploy_alerts (the `--notify-on-*` targets, checked). Does not own:
packaging, the upload or waiting (uploader.py, which re-exports these).

Kept apart from uploader.py so that `create --only-json` and the other
step-functions commands load neither the packager (tarfile, gzip) nor the
manifest: every flow CLI process that resolves a target pays only for this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowdrop.decorators import project_info
from flowdrop.errors import ConfigError
from flowdrop.model.graph import Graph

if TYPE_CHECKING:
    from flowdrop.model.alerts import Alerts


@dataclass(frozen=True)
class DeployOptions:
    """The `step-functions create` flags that shape a deployment."""

    name: str | None = None
    branch: str | None = None
    production: bool = False
    max_workers: int = 100
    workflow_timeout: int | None = None
    with_specs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    backend: str = "batch"
    suffixes: tuple[str, ...] = (".py",)
    schedule_overlap: str = "skip"  # model.schedule.OVERLAPS
    notify_on_error: tuple[str, ...] = ()  # alert targets (model.alerts): SNS topic ARNs or https webhooks
    notify_on_success: tuple[str, ...] = ()
    distributed_map: bool = False  # --use-distributed-map: every foreach in a Distributed Map


@dataclass(frozen=True)
class DeployTarget:
    """Where a flow deploys: its state machine name and, for @project flows, project and branch."""

    state_machine_name: str
    project: str | None = None
    branch: str | None = None


def deployment_target(graph: Graph, user: str, name: str | None = None, branch: str | None = None,
                      production: bool = False) -> DeployTarget:
    """The state machine a flow deploys to: its name, `--name`, or `<project>.<branch>.<Flow>`."""
    project = graph.flow_decorator("project")
    if project is None:
        if branch or production:
            raise ConfigError(f"{graph.flow_name}: --branch and --production need @project(name=...) on the flow")
        return DeployTarget(name or graph.flow_name)
    if name:
        # Metaflow's rule: a project's names come from its branch, so that
        # user, test and production deployments never collide.
        raise ConfigError(f"{graph.flow_name}: --name cannot be used with @project; use --branch or --production")
    info = project_info(str(project.attributes["name"]), graph.flow_name, user, branch, production)
    return DeployTarget(info.project_flow_name, info.project_name, info.branch_name)


def deploy_alerts(options: DeployOptions) -> Alerts:
    """The deployment's alert targets; ConfigError names every bad `--notify-on-*` value."""
    from flowdrop.model.alerts import Alerts, option_problems

    problems = [*option_problems("--notify-on-error", options.notify_on_error),
                *option_problems("--notify-on-success", options.notify_on_success)]
    if problems:
        raise ConfigError("\n".join(problems))
    return Alerts(tuple(dict.fromkeys(options.notify_on_error)), tuple(dict.fromkeys(options.notify_on_success)))
