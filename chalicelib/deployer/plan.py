"""Deployments as plans: what is live + what is wanted -> a list of API calls, executed separately.

Owns: the actions (frozen dataclasses, printable as a dry run), the pure
planners (plan_deployment, plan_rollback, plan_removal, rule_actions) and
execute_plan, the one place those actions become boto3 calls. Reading what
is live (read_live) lives here too, next to the calls it mirrors.

Emulator notes (shared/EMULATOR.md): create_state_machine with an existing
name silently returns the old ARN on moto, so we describe first and then
create or update; ListStateMachineVersions fails on moto, so version ARNs
are kept in our own records; a definition AWS refuses (InvalidDefinition)
comes back from moto with an empty error code and HTTP 400.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from ..errors import CompileError
from . import names
from .clients import AWS_ERRORS, Clients, aws_error, error_code
from .records import ACCEPTED, DUPLICATE, SUPERSEDED, DeploymentStore, Production, Release


class DefinitionRejectedError(CompileError):
    """Step Functions refused the definition itself: the package is at fault, so retrying cannot help."""


# -- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishVersion:
    """Create or update the state machine and publish its definition as a new version."""

    machine_arn: str
    name: str
    definition: str
    role_arn: str
    description: str
    create: bool


@dataclass(frozen=True)
class RecordRelease:
    """Remember the published version (its number and ARN come from PublishVersion)."""

    release: Release


@dataclass(frozen=True)
class ClaimProduction:
    """Point the production record at the published release unless a newer package won meanwhile."""

    release: Release


@dataclass(frozen=True)
class RestoreProduction:
    """Point the production record at an earlier release (rollback)."""

    release: Release
    newest_uploaded: str


@dataclass(frozen=True)
class PointAlias:
    """Create or move the `production` alias; version_arn None means the version just published."""

    alias_arn: str
    machine_arn: str
    version_arn: str | None
    create: bool


@dataclass(frozen=True)
class PutRule:
    """Create or update the flow's EventBridge rule and its one target, the scheduled Lambda."""

    rule: str
    expression: str
    description: str
    target_arn: str
    target_input: str


@dataclass(frozen=True)
class DeleteRule:
    """Remove the rule's targets, then the rule (AWS refuses to delete a rule with targets)."""

    rule: str
    target_ids: tuple[str, ...]


@dataclass(frozen=True)
class DeleteAlias:
    alias_arn: str


@dataclass(frozen=True)
class DeleteStateMachine:
    machine_arn: str


@dataclass(frozen=True)
class ClearProduction:
    flow: str


Action = (PublishVersion | RecordRelease | ClaimProduction | RestoreProduction | PointAlias | PutRule | DeleteRule
          | DeleteAlias | DeleteStateMachine | ClearProduction)


@dataclass(frozen=True)
class Live:
    """What exists now for one flow."""

    machine_exists: bool
    alias_exists: bool
    rule_expression: str | None  # None: no rule
    rule_targets: tuple[tuple[str, str, str], ...]  # (id, arn, input)
    production: Production | None


@dataclass(frozen=True)
class Plan:
    """The outcome a deployment will have if the actions succeed, and the actions."""

    status: str
    reason: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Outcome:
    """What executing a plan did."""

    version_arn: str | None = None
    superseded: bool = False


# -- planners (pure) --------------------------------------------------------------------------


def plan_deployment(release: Release, definition: str, live: Live, *, machine_arn: str, role_arn: str,
                    schedule_expression: str | None, target_arn: str) -> Plan:
    """The calls that put `release` (version fields still empty) in production, given what is live."""
    current = live.production
    if current is not None and current.release.fingerprint == release.fingerprint:
        return Plan(DUPLICATE, f"code {release.code_sha256[:12]} with the same options is already production "
                               f"(version {current.release.version})", ())
    # "Newer" is the server's upload time, never the manifest's `created`: a
    # laptop clock that runs slow (or a forged year 2999) must not decide.
    if current is not None and release.uploaded < current.newest_uploaded:
        return Plan(SUPERSEDED, f"package uploaded {release.uploaded} is older than the newest accepted upload "
                                f"({current.newest_uploaded}); production stays on version {current.release.version}",
                    ())
    alias = names.alias_arn(machine_arn)
    actions: list[Action] = [
        PublishVersion(machine_arn, release.flow, definition, role_arn, f"code {release.code_sha256}",
                       create=not live.machine_exists),
        RecordRelease(release),
        ClaimProduction(release),
        PointAlias(alias, machine_arn, None, create=not live.alias_exists),
        *rule_actions(release.flow, schedule_expression, live, target_arn),
    ]
    return Plan(ACCEPTED, "", tuple(actions))


def plan_rollback(target: Release, live: Live, *, machine_arn: str, target_arn: str) -> tuple[Action, ...]:
    """The calls that move production back to `target`, schedule included."""
    assert live.production is not None
    expression = target.schedule["expression"] if target.schedule else None
    return (
        PointAlias(names.alias_arn(machine_arn), machine_arn, target.version_arn, create=not live.alias_exists),
        RestoreProduction(target, live.production.newest_uploaded),
        *rule_actions(target.flow, expression, live, target_arn),
    )


def plan_removal(flow: str, live: Live, *, machine_arn: str) -> tuple[Action, ...]:
    """The calls that take a flow out of production: rule, alias, state machine, pointer (records stay)."""
    actions: list[Action] = []
    if live.rule_expression is not None:
        actions.append(DeleteRule(names.rule_name(flow), tuple(t[0] for t in live.rule_targets)))
    if live.alias_exists:
        actions.append(DeleteAlias(names.alias_arn(machine_arn)))
    if live.machine_exists:
        actions.append(DeleteStateMachine(machine_arn))
    if live.production is not None:
        actions.append(ClearProduction(flow))
    return tuple(actions)


def rule_actions(flow: str, expression: str | None, live: Live, target_arn: str) -> tuple[Action, ...]:
    """Put the rule when the schedule changed, delete it when the schedule went away."""
    rule = names.rule_name(flow)
    if expression is None:
        if live.rule_expression is None:
            return ()
        return (DeleteRule(rule, tuple(t[0] for t in live.rule_targets)),)
    target_input = scheduled_input(flow)
    wanted = ((names.RULE_TARGET_ID, target_arn, target_input),)
    if live.rule_expression == expression and live.rule_targets == wanted:
        return ()
    return (PutRule(rule, expression, f"flowdrop schedule of {flow}", target_arn, target_input),)


def scheduled_input(flow: str) -> str:
    """The rule target's Input: it replaces the event the scheduled Lambda receives."""
    return json.dumps({"flow": flow}, sort_keys=True)


# -- reading what is live -----------------------------------------------------------------


def read_live(clients: Clients, store: DeploymentStore, flow: str, machine_arn: str) -> Live:
    """Describe the state machine, alias, rule and production record of `flow`."""
    machine = _exists(lambda: clients.sfn.describe_state_machine(stateMachineArn=machine_arn),
                      "Step Functions", "DescribeStateMachine", machine_arn)
    alias_arn = names.alias_arn(machine_arn)
    alias = _exists(lambda: clients.sfn.describe_state_machine_alias(stateMachineAliasArn=alias_arn),
                    "Step Functions", "DescribeStateMachineAlias", alias_arn) if machine else None
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
        production=store.production(flow),
    )


_NOT_FOUND = {"StateMachineDoesNotExist", "ResourceNotFound", "ResourceNotFoundException"}


def _exists(call: Any, service: str, operation: str, resource: str) -> dict[str, Any] | None:
    try:
        return call()
    except AWS_ERRORS as err:
        if error_code(err) in _NOT_FOUND:
            return None
        raise aws_error(service, operation, resource, err) from err


# -- execution --------------------------------------------------------------------------------


def execute_plan(actions: tuple[Action, ...], clients: Clients, store: DeploymentStore) -> Outcome:
    """Carry out `actions` in order; stops (superseded=True) when a newer package claimed production first."""
    published: Release | None = None
    version_arn: str | None = None
    for action in actions:
        match action:
            case PublishVersion():
                version_arn = _publish(clients, action)
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
            case PutRule():
                _put_rule(clients, action)
            case DeleteRule():
                _delete_rule(clients, action)
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


def _put_rule(clients: Clients, action: PutRule) -> None:
    _call("EventBridge", "PutRule", action.rule, lambda: clients.events.put_rule(
        Name=action.rule, ScheduleExpression=action.expression, State="ENABLED", Description=action.description))
    response = _call("EventBridge", "PutTargets", action.rule, lambda: clients.events.put_targets(
        Rule=action.rule, Targets=[{"Id": names.RULE_TARGET_ID, "Arn": action.target_arn,
                                    "Input": action.target_input}]))
    if response.get("FailedEntryCount"):
        raise aws_error("EventBridge", "PutTargets", action.rule, RuntimeError(str(response.get("FailedEntries"))))


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
