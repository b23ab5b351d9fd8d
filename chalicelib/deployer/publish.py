"""Deployment plans carried out: reading what is live and turning actions into AWS calls.

Owns: read_live (the state machine, alias, schedule, legacy rule and
production record of a flow) and execute_plan, the one place plan.py's actions become boto3 calls,
with AWS errors turned into flowdrop errors naming the operation.

Emulator notes (shared/EMULATOR.md): create_state_machine with an existing
name silently returns the old ARN on moto, so we describe first and then
create or update; ListStateMachineVersions fails on moto, so version ARNs
are kept in our own records; a definition AWS refuses (InvalidDefinition)
comes back from moto with an empty error code and HTTP 400.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error, error_code
from flowdrop.deployer.plan import (
    Action,
    ClaimProduction,
    ClearProduction,
    DeleteAlias,
    DeleteEventRule,
    DeleteRule,
    DeleteSchedule,
    DeleteStateMachine,
    EventRule,
    EventTarget,
    Live,
    LiveSchedule,
    Outcome,
    PointAlias,
    PublishVersion,
    PutEventRule,
    PublishedVersion,
    PutSchedule,
    RecordRelease,
    RestoreProduction,
    UseVersion,
)
from flowdrop.deployer.records import Release
from flowdrop.deployer.store import DeploymentStore
from flowdrop.errors import ConfigError, DefinitionRejectedError
from flowdrop.model import names


def read_live(clients: Clients, store: DeploymentStore, flow: str, machine_arn: str,
              group: str = names.SCHEDULE_GROUP, events: EventTarget | None = None) -> Live:
    """Describe the state machine, alias, schedule, legacy rule and production record of `flow`."""
    machine = _exists(lambda: clients.sfn.describe_state_machine(stateMachineArn=machine_arn),
                      "Step Functions", "DescribeStateMachine", machine_arn)
    alias_arn = names.alias_arn(machine_arn)
    alias = _exists(lambda: clients.sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn),
                    "Step Functions", "DescribeStateMachineAlias", alias_arn) if machine else None
    production = store.production(flow)
    releases = tuple(store.releases(flow)) if machine else ()
    rule = names.rule_name(flow)
    described = _exists(lambda: clients.events.describe_rule(Name=rule), "EventBridge", "DescribeRule", rule)
    targets: tuple[tuple[str, str, str], ...] = ()
    if described is not None:
        try:
            listed = clients.events.list_targets_by_rule(Rule=rule).get("Targets", [])
        except AWS_ERRORS as err:
            raise aws_error("EventBridge", "ListTargetsByRule", rule, err) from err
        targets = tuple(sorted((t["Id"], t["Arn"], t.get("Input", "")) for t in listed))
    return Live(
        machine_exists=machine is not None,
        alias_exists=alias is not None,
        rule_expression=described.get("ScheduleExpression") if described is not None else None,
        rule_targets=targets,
        production=production,
        schedule=_live_schedule(clients, names.schedule_name(flow), group),
        event_rules=read_event_rules(clients, flow, events) if events is not None else (),
        alias_version_arn=_routed_version(alias),
        releases=releases,
        unrecorded_versions=_unrecorded_versions(clients, releases, machine_arn) if machine else (),
    )


def _routed_version(alias: dict[str, Any] | None) -> str | None:
    routes = (alias or {}).get("routingConfiguration") or []
    return max(routes, key=lambda r: r.get("weight", 0))["stateMachineVersionArn"] if routes else None


# How far past the newest recorded version to look for versions a dead deploy published (one per crash).
_UNRECORDED_LOOKAHEAD = 5


def _unrecorded_versions(clients: Clients, releases: tuple[Release, ...],
                         machine_arn: str) -> tuple[PublishedVersion, ...]:
    """The versions published after the newest recorded release, found by describing the next version numbers.

    A deploy killed between PublishVersion and RecordRelease leaves one. (ListStateMachineVersions would list
    them, but moto answers it with HTTP 500: EMULATOR.md.)
    """
    newest = max((r.version for r in releases), default=0)
    found = []
    for number in range(newest + 1, newest + 1 + _UNRECORDED_LOOKAHEAD):
        arn = f"{machine_arn}:{number}"
        described = _exists(lambda: clients.sfn.describe_state_machine(stateMachineArn=arn),
                            "Step Functions", "DescribeStateMachine", arn)
        if described is None:
            break
        found.append(PublishedVersion(arn, described.get("definition", ""), described.get("description", "")))
    return tuple(found)


def read_event_rules(clients: Clients, flow: str, events: EventTarget) -> tuple[EventRule, ...]:
    """The flow's trigger rules on the flowdrop bus and the default bus (names start with its prefix)."""
    prefix = names.event_rule_prefix(flow)
    found: list[EventRule] = []
    for bus in dict.fromkeys((events.bus, events.status_bus)):
        try:
            rules = clients.events.list_rules(NamePrefix=prefix, EventBusName=bus).get("Rules", [])
        except AWS_ERRORS as err:
            if error_code(err) in _NOT_FOUND:
                continue
            raise aws_error("EventBridge", "ListRules", f"{bus}/{prefix}*", err) from err
        for rule in rules:
            name = rule["Name"]
            targets = _call("EventBridge", "ListTargetsByRule", f"{bus}/{name}",
                            lambda: clients.events.list_targets_by_rule(Rule=name, EventBusName=bus)).get("Targets", [])
            target = next((t for t in targets if t.get("Id") == names.EVENT_TARGET_ID), {})
            pattern = json.dumps(json.loads(rule.get("EventPattern") or "{}"), sort_keys=True)
            found.append(EventRule(name, bus, pattern, target.get("Arn", ""),
                                   (target.get("InputTransformer") or {}).get("InputTemplate", ""),
                                   rule.get("Description", "")))
    return tuple(found)


def _live_schedule(clients: Clients, name: str, group: str) -> LiveSchedule | None:
    found = _exists(lambda: clients.scheduler.get_schedule(Name=name, GroupName=group), "EventBridge Scheduler",
                    "GetSchedule", f"{group}/{name}")
    if found is None:
        return None
    target = found.get("Target") or {}
    return LiveSchedule(expression=found.get("ScheduleExpression", ""),
                        timezone=found.get("ScheduleExpressionTimezone") or None,
                        target_arn=target.get("Arn", ""), role_arn=target.get("RoleArn", ""),
                        target_input=target.get("Input", ""), enabled=found.get("State") == "ENABLED")


_NOT_FOUND = {"StateMachineDoesNotExist", "ResourceNotFound", "ResourceNotFoundException"}


def _exists(call: Any, service: str, operation: str, resource: str) -> dict[str, Any] | None:
    try:
        return call()
    except AWS_ERRORS as err:
        if error_code(err) in _NOT_FOUND:
            return None
        raise aws_error(service, operation, resource, err) from err


def execute_plan(actions: tuple[Action, ...], clients: Clients, store: DeploymentStore) -> Outcome:
    """Carry out `actions` in order; stops (superseded=True) when a newer package claimed production first."""
    if any(isinstance(a, PutSchedule) and not a.role_arn for a in actions):
        # Refused before the first call: production must not move without its schedule.
        raise ConfigError("the deployer is not configured for scheduled flows: set FLOWDROP_SCHEDULER_ROLE_ARN "
                          "(the role EventBridge Scheduler assumes to invoke the scheduled function)")
    published: Release | None = None
    version_arn: str | None = None
    for action in actions:
        match action:
            case PublishVersion():
                version_arn = _publish(clients, action)
            case UseVersion():
                version_arn = action.version_arn
            case RecordRelease(release=release):
                published = _with_version(release, version_arn)
                store.put_release(published)
            case ClaimProduction(release=release):
                published = published or _with_version(release, version_arn)
                if not store.claim_production(published):
                    return Outcome(version_arn, superseded=True)
            case RestoreProduction(release=release, newest_uploaded=newest):
                store.restore_production(release, newest)
            case PointAlias():
                target = action.version_arn or version_arn
                assert target is not None, "PointAlias needs a published version"
                _point_alias(clients, action.alias_arn, action.machine_arn, target, action.create)
                if action.version_arn is None:
                    _reconcile_alias(clients, store, action, target)
            case PutSchedule():
                _put_schedule(clients, action)
            case DeleteSchedule(name=name, group=group):
                _call("EventBridge Scheduler", "DeleteSchedule", f"{group}/{name}",
                      lambda: clients.scheduler.delete_schedule(Name=name, GroupName=group))
            case DeleteRule():
                _delete_rule(clients, action)
            case PutEventRule(rule=rule):
                _put_event_rule(clients, rule)
            case DeleteEventRule(name=name, bus=bus):
                _call("EventBridge", "RemoveTargets", f"{bus}/{name}", lambda: clients.events.remove_targets(
                    Rule=name, EventBusName=bus, Ids=[names.EVENT_TARGET_ID]))
                _call("EventBridge", "DeleteRule", f"{bus}/{name}",
                      lambda: clients.events.delete_rule(Name=name, EventBusName=bus))
            case DeleteAlias(alias_arn=arn):
                _call("Step Functions", "DeleteStateMachineAlias", arn,
                      lambda: clients.sfn.delete_state_machine_alias(stateMachineAliasArn=arn))
            case DeleteStateMachine(machine_arn=arn):
                _call("Step Functions", "DeleteStateMachine", arn,
                      lambda: clients.sfn.delete_state_machine(stateMachineArn=arn))
            case ClearProduction(flow=flow):
                store.clear_production(flow)
    return Outcome(version_arn)


def _with_version(release: Release, version_arn: str | None) -> Release:
    assert version_arn is not None, "a release is recorded after its version is published"
    return replace(release, version=names.version_number(version_arn), version_arn=version_arn)


def _publish(clients: Clients, action: PublishVersion) -> str:
    if action.create:
        operation, resource = "CreateStateMachine", action.name
        call = lambda: clients.sfn.create_state_machine(  # noqa: E731
            name=action.name, definition=action.definition, roleArn=action.role_arn, type="STANDARD",
            publish=True, versionDescription=action.description)
    else:
        operation, resource = "UpdateStateMachine", action.machine_arn
        call = lambda: clients.sfn.update_state_machine(  # noqa: E731
            stateMachineArn=action.machine_arn, definition=action.definition, roleArn=action.role_arn,
            publish=True, versionDescription=action.description)
    try:
        response = call()
    except AWS_ERRORS as err:
        if _definition_refused(err):
            raise DefinitionRejectedError([f"Step Functions {operation} on {resource} refused the compiled "
                                           f"definition, so nothing was published: {_short(err)}"]) from err
        raise aws_error("Step Functions", operation, resource, err) from err
    return str(response["stateMachineVersionArn"])


# AWS answers a definition it will not take with InvalidDefinition (or
# ValidationException for limits); moto answers "" with HTTP 400 (EMULATOR.md).
_DEFINITION_ERRORS = {"InvalidDefinition", "ValidationException"}


def _definition_refused(err: BaseException) -> bool:
    if not isinstance(err, ClientError):
        return False
    code = error_code(err)
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in _DEFINITION_ERRORS or (code == "" and status == 400)


def _short(err: BaseException, limit: int = 600) -> str:
    text = str(err)
    return text if len(text) <= limit else text[:limit] + "..."


def _point_alias(clients: Clients, alias_arn: str, machine_arn: str, version_arn: str, create: bool) -> None:
    routing = [{"stateMachineVersionArn": version_arn, "weight": 100}]
    if create:
        _call("Step Functions", "CreateStateMachineAlias", alias_arn, lambda: clients.sfn.create_state_machine_alias(
            name=names.PRODUCTION_ALIAS, routingConfiguration=routing,
            description="the version flowdrop runs; moved by every accepted deployment"))
    else:
        _call("Step Functions", "UpdateStateMachineAlias", alias_arn, lambda: clients.sfn.update_state_machine_alias(
            stateMachineAliasArn=alias_arn, routingConfiguration=routing))


def _reconcile_alias(clients: Clients, store: DeploymentStore, action: PointAlias, moved_to: str) -> None:
    # Two deploys of one flow may claim in one order and move the alias in the
    # other; the production record is the truth, so make the alias follow it.
    production = store.production(action.machine_arn.rsplit(":", 1)[1])
    if production is not None and production.release.version_arn != moved_to:
        _point_alias(clients, action.alias_arn, action.machine_arn, production.release.version_arn, create=False)


# Scheduler retries a failed invocation for up to a day; the run it starts is
# named from the tick, so a retry after a success starts nothing new.
_RETRY_POLICY = {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 86400}


def _put_schedule(clients: Clients, action: PutSchedule) -> None:
    request: dict[str, Any] = {
        "Name": action.name,
        "GroupName": action.group,
        "ScheduleExpression": action.expression,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": action.description,
        "Target": {"Arn": action.target_arn, "RoleArn": action.role_arn, "Input": action.target_input,
                   "RetryPolicy": _RETRY_POLICY},
    }
    if action.timezone:
        request["ScheduleExpressionTimezone"] = action.timezone
    if action.create:
        _call("EventBridge Scheduler", "CreateSchedule", f"{action.group}/{action.name}",
              lambda: clients.scheduler.create_schedule(**request))
    else:
        _call("EventBridge Scheduler", "UpdateSchedule", f"{action.group}/{action.name}",
              lambda: clients.scheduler.update_schedule(**request))


def _put_event_rule(clients: Clients, rule: EventRule) -> None:
    where = f"{rule.bus}/{rule.name}"
    _call("EventBridge", "PutRule", where, lambda: clients.events.put_rule(
        Name=rule.name, EventBusName=rule.bus, EventPattern=rule.pattern, State="ENABLED",
        Description=rule.description))
    _call("EventBridge", "PutTargets", where, lambda: clients.events.put_targets(
        Rule=rule.name, EventBusName=rule.bus, Targets=[{
            "Id": names.EVENT_TARGET_ID, "Arn": rule.target_arn,
            "InputTransformer": {"InputPathsMap": {}, "InputTemplate": rule.input_template}}]))


def _delete_rule(clients: Clients, action: DeleteRule) -> None:
    if action.target_ids:
        _call("EventBridge", "RemoveTargets", action.rule,
              lambda: clients.events.remove_targets(Rule=action.rule, Ids=list(action.target_ids)))
    _call("EventBridge", "DeleteRule", action.rule, lambda: clients.events.delete_rule(Name=action.rule))


def _call(service: str, operation: str, resource: str, call: Any) -> Any:
    try:
        return call()
    except AWS_ERRORS as err:
        raise aws_error(service, operation, resource, err) from err
