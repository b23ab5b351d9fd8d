"""What a deployment would do, without doing it: the service behind `step-functions create --plan`.

Owns: preview_deployment. The uploader sends the manifest it would upload
and the flow's source (not the package: nothing reaches the package bucket);
this runs the very checks, compile and fingerprint a dropped package gets
(candidate.check_candidate), reads what is live and plans the calls
(plan.plan_deployment), then answers with the outcome (a new flow, a new
version, or a duplicate of production), both definitions and both schedules,
so the deployer stays the one judge of "the same deployment". Does not own:
rendering the answer (cli/deploy_plan.py) or executing anything: no action
of the plan is run here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowdrop.codepackage.manifest import Manifest
from flowdrop.deployer.candidate import check_candidate
from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error
from flowdrop.deployer.deploy import REJECTIONS, candidate_release
from flowdrop.deployer.plan import plan_deployment
from flowdrop.deployer.publish import read_live
from flowdrop.deployer.records import Release, timestamp
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.errors import PackageError, RequestError
from flowdrop.model import names
from flowdrop.model.deployments import DUPLICATE

NEW_FLOW, NEW_VERSION = "NEW_FLOW", "NEW_VERSION"


def preview_deployment(flow: str, body: Any, clients: Clients, settings: DeployerSettings,
                       now: datetime) -> dict[str, Any]:
    """The plan for deploying `body` ({"manifest": {...}, "flow_source": "..."}) as `flow`; nothing changes.

    `status` is NEW_FLOW, NEW_VERSION, DUPLICATE (with `production_version`) or FAILED (with the `message`
    a real deployment would record).
    """
    manifest, source = _request(flow, body)
    key = names.package_key(settings.package_prefix, flow, manifest.code_sha256)
    try:
        candidate = check_candidate(settings.bucket, key, manifest, source, settings)
    except REJECTIONS as err:
        return {"flow": flow, "status": "FAILED", "message": str(err), "code_sha256": manifest.code_sha256}
    machine_arn = names.state_machine_arn(settings.partition, settings.aws.region, settings.account_id, flow)
    store = DeploymentStore(clients.dynamodb, settings.deployments_table)
    events = settings.event_target()
    live = read_live(clients, store, flow, machine_arn, settings.schedule_group, events)
    release = candidate_release(candidate, timestamp(now), now)
    plan = plan_deployment(release, candidate.definition, live, machine_arn=machine_arn,
                           role_arn=settings.state_machine_role_arn, target=settings.schedule_target(), events=events)
    current = live.production.release if live.production else None
    status = DUPLICATE if plan.status == DUPLICATE else NEW_VERSION if current else NEW_FLOW
    return {
        "flow": flow,
        "status": status,
        "reason": plan.reason,
        "code_sha256": manifest.code_sha256,
        "production_version": current.version if current else None,
        "production_code_sha256": current.code_sha256 if current else None,
        "definition": candidate.definition,
        "production_definition": _definition(clients, current) if current else None,
        "schedule": _schedule_view(candidate.schedule.to_dict() if candidate.schedule else None,
                                   release.overlap),
        "production_schedule": _schedule_view(current.schedule, current.overlap) if current else None,
        "actions": [type(action).__name__ for action in plan.actions],
        "notes": list(candidate.notes),
    }


def _request(flow: str, body: Any) -> tuple[Manifest, str]:
    if not isinstance(body, Mapping):
        raise RequestError("the plan request is invalid", ('the body must be {"manifest": {...}, '
                                                           '"flow_source": "..."}',))
    problems = []
    if not isinstance(body.get("manifest"), Mapping):
        problems.append("manifest: an object (the manifest.json the uploader would upload) is required")
    if not isinstance(body.get("flow_source"), str):
        problems.append("flow_source: the flow file's text is required")
    if problems:
        raise RequestError("the plan request is invalid", tuple(problems))
    try:
        manifest = Manifest.from_dict(dict(body["manifest"]))
    except PackageError as err:
        raise RequestError("the plan request's manifest is invalid", tuple(str(err).splitlines())) from err
    if manifest.state_machine_name != flow:
        raise RequestError("the plan request is invalid", (f"manifest.state_machine_name is "
                                                           f"{manifest.state_machine_name!r}, the route names "
                                                           f"{flow!r}",))
    return manifest, body["flow_source"]


def _definition(clients: Clients, release: Release) -> str | None:
    """The production version's definition (DescribeStateMachine on its version ARN)."""
    try:
        return str(clients.sfn.describe_state_machine(stateMachineArn=release.version_arn)["definition"])
    except AWS_ERRORS as err:
        raise aws_error("Step Functions", "DescribeStateMachine", release.version_arn, err) from err


def _schedule_view(schedule: Mapping[str, Any] | None, overlap: str) -> dict[str, Any] | None:
    if not schedule:
        return None
    return {"expression": schedule.get("expression"), "timezone": schedule.get("timezone") or "UTC",
            "overlap": overlap}

