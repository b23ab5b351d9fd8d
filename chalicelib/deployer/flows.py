"""Flows in production: describe, list, deployment records, rollback and removal.

Owns: the read views of the API (list_flows, describe_flow, get_deployment)
and the two operator actions that change production besides a package drop:
rollback (the alias back to an earlier recorded version, schedule included,
recorded as a ROLLBACK record) and delete_flow (rule, alias and state machine
removed; records kept). Both plan their calls with plan.py and execute them.
Does not own: runs (trigger.py, runs.py) or deployments (deploy.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdrop.deployer.clients import Clients
from flowdrop.deployer.plan import plan_removal, plan_rollback
from flowdrop.deployer.publish import execute_plan, read_live
from flowdrop.deployer.records import DeploymentRecord, Release, timestamp
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.deployer.trigger import machine_arn, production_release
from flowdrop.deployer.trigger_views import PLACEHOLDER_TARGET, trigger_views
from flowdrop.errors import FlowNotFoundError, RequestError
from flowdrop.model import names
from flowdrop.model.alerts import shown_alerts
from flowdrop.model.deployments import ROLLBACK
from flowdrop.model.excerpts import short_repr
from flowdrop.model.schedule import Schedule, next_fire_times
from flowdrop.model.triggers import FlowTriggers

NEXT_FIRE_TIMES = 3


def _store(clients: Clients, settings: DeployerSettings) -> DeploymentStore:
    return DeploymentStore(clients.dynamodb, settings.deployments_table)


def fire_times(schedule: dict[str, Any] | None, now: datetime, count: int = NEXT_FIRE_TIMES) -> list[str]:
    """The next `count` fire times of a recorded schedule, ISO 8601 UTC."""
    if not schedule:
        return []
    return [t.isoformat() for t in next_fire_times(Schedule.from_dict(schedule), now, count)]


def release_view(release: Release) -> dict[str, Any]:
    """A release as the API shows it."""
    return {
        "version": release.version,
        "version_arn": release.version_arn,
        "code_sha256": release.code_sha256,
        "created": release.created,
        "deployed_at": release.deployed_at,
        "user": release.user,
        "schedule": release.schedule["expression"] if release.schedule else None,
        "timezone": release.schedule.get("timezone") if release.schedule else None,
        "overlap": release.overlap if release.schedule else None,
        "alerts": shown_alerts(release.alerts),
    }


def drawn_graph(release: Release) -> list[dict[str, Any]]:
    """The release's steps with their edges, for the operator page (graph.render.render_outline); a
    release recorded before outlines were kept: its steps in a line."""
    if release.graph:
        return release.graph
    steps = release.steps
    return [{"name": step, "type": "linear", "out_funcs": steps[i + 1:i + 2]} for i, step in enumerate(steps)]


def list_flows(clients: Clients, settings: DeployerSettings) -> list[dict[str, Any]]:
    """Every flow with a production deployment: name, production version, schedule."""
    return [{"flow": p.release.flow, "flow_name": p.release.flow_name, **release_view(p.release)}
            for p in _store(clients, settings).productions()]


def describe_flow(flow: str, clients: Clients, settings: DeployerSettings, now: datetime) -> dict[str, Any]:
    """A flow's versions, production version, parameters and schedule with its next fire times."""
    store = _store(clients, settings)
    release = production_release(store, flow)
    return {
        "flow": flow,
        "flow_name": release.flow_name,
        "production": release_view(release),
        "production_version": release.version,
        "alias_arn": names.alias_arn(machine_arn(settings, flow)),
        "versions": [release_view(r) for r in store.releases(flow)],
        "parameters": [{k: p.get(k) for k in ("name", "type", "default", "required", "help", "deploy_time", "value")
                        if k in p} for p in release.parameters],
        "schedule": release.schedule["expression"] if release.schedule else None,
        "timezone": release.schedule.get("timezone") if release.schedule else None,
        "overlap": release.overlap if release.schedule else None,
        "next_fire_times": fire_times(release.schedule, now),
        "alerts": shown_alerts(release.alerts),
        "steps": release.steps,
        "graph": drawn_graph(release),
        "triggers": release.triggers,
        "trigger_rules": _trigger_rules(release, settings),
    }


def _trigger_rules(release: Release, settings: DeployerSettings) -> list[dict[str, Any]]:
    """The flow's trigger rules and schedule as the deployer keeps them (trigger_views.py)."""
    triggers = FlowTriggers.from_dict(release.triggers)
    target = settings.event_target() if triggers else PLACEHOLDER_TARGET  # no rules: the queue is never read
    return trigger_views(release.flow, triggers, release.schedule, release.overlap, target, settings.schedule_group)


def get_deployment(flow: str, sha: str, clients: Clients, settings: DeployerSettings,
                   now: datetime) -> dict[str, Any]:
    """The latest deployment record of code `sha` (what the uploader polls); FlowNotFoundError until written."""
    record = _store(clients, settings).get_record(flow, sha)
    if record is None:
        raise FlowNotFoundError(f"no deployment of {flow!r} with code {sha} (yet)")
    out = record.to_dict()
    if record.schedule:
        out["next_fire_times"] = fire_times({"expression": record.schedule, "timezone": record.schedule_timezone}, now)
    return out


def rollback(flow: str, version: Any, clients: Clients, settings: DeployerSettings,
             now: datetime) -> DeploymentRecord:
    """Point `production` at an earlier recorded version (and its schedule); recorded as ROLLBACK."""
    if type(version) is not int or version < 1:
        raise RequestError("the rollback request is invalid", (f"version must be an integer >= 1, got {short_repr(version, 60)}",))
    store = _store(clients, settings)
    current = production_release(store, flow)
    target = store.get_release(flow, version)
    if target is None:
        known = ", ".join(str(r.version) for r in store.releases(flow)) or "none"
        raise FlowNotFoundError(f"flow {flow!r} has no version {version} (recorded versions: {known})")
    arn = machine_arn(settings, flow)
    live = read_live(clients, store, flow, arn, settings.schedule_group, settings.event_target())
    execute_plan(plan_rollback(target, live, machine_arn=arn, target=settings.schedule_target(),
                               events=settings.event_target()), clients, store)
    record = DeploymentRecord(
        flow=flow, code_sha256=target.code_sha256, status=ROLLBACK, flow_name=target.flow_name,
        version=target.version, version_arn=target.version_arn, alias_arn=names.alias_arn(arn),
        schedule=target.schedule["expression"] if target.schedule else None,
        schedule_timezone=target.schedule.get("timezone") if target.schedule else None, user=target.user,
        created=target.created, deployed_at=timestamp(now), package_key=target.package_key,
        message=f"production rolled back from version {current.version} to version {target.version}",
    )
    store.put_record(record)
    return record


def delete_flow(flow: str, clients: Clients, settings: DeployerSettings) -> dict[str, Any]:
    """Remove `flow` from production: schedule (and any legacy rule), alias, state machine; records stay."""
    store = _store(clients, settings)
    arn = machine_arn(settings, flow)
    live = read_live(clients, store, flow, arn, settings.schedule_group, settings.event_target())
    actions = plan_removal(flow, live, machine_arn=arn, group=settings.schedule_group)
    if not actions:
        raise FlowNotFoundError(f"flow {flow!r} is not deployed")
    execute_plan(actions, clients, store)
    return {"flow": flow, "deleted": [type(a).__name__ for a in actions]}
