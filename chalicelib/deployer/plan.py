"""Deployments as plans: what is live + what is wanted -> a list of API calls, executed separately.

Owns: the actions (frozen dataclasses, printable as a dry run), what is live
(Live) and the pure planners (plan_deployment, plan_rollback, plan_removal,
rule_actions). Does not own: reading what is live or executing a plan
(publish.py, the only code here that calls AWS). Pure: no boto3, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flowdrop.deployer.records import Production, Release
from flowdrop.model import names
from flowdrop.model.deployments import ACCEPTED, DUPLICATE, SUPERSEDED

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
