"""Deployments as plans: what is live + what is wanted -> a list of API calls, executed separately.

Owns: the actions (frozen dataclasses, printable as a dry run), what is live
(Live) and the pure planners (plan_deployment, plan_rollback, plan_removal,
schedule_actions). Does not own: reading what is live or executing a plan
(publish.py, the only code here that calls AWS). Pure: no boto3, no clock.

A flow's schedule is an EventBridge Scheduler schedule (time zones, the
scheduled time in the target's Input, retries); deployments from before
kept an EventBridge rule instead. Moving a flow onto a schedule puts the
schedule first and deletes the rule after it: for a moment both exist, and
a tick that both deliver is still one run, since the execution name comes
from the tick. The other order could leave a flow with no trigger at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from flowdrop.deployer.records import Production, Release
from flowdrop.model import names
from flowdrop.model.deployments import ACCEPTED, DUPLICATE, SUPERSEDED
from flowdrop.model.schedule import Schedule
from flowdrop.model.triggers import EVENT_SOURCE, STATUS_DETAIL_TYPE, STATUS_SOURCE, FlowTriggers, upstream_key

# Scheduler's context attributes, replaced in a target's Input when it fires.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
ATTEMPT = "<aws.scheduler.attempt-number>"

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
class UseVersion:
    """Take a version already published for this code (by a deploy that died after publishing) instead of publishing."""

    version_arn: str


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
class PutSchedule:
    """Create or update the flow's Scheduler schedule, whose one target is the scheduled Lambda."""

    name: str
    group: str
    expression: str
    timezone: str | None
    description: str
    target_arn: str
    role_arn: str  # the role Scheduler assumes to invoke the target
    target_input: str
    create: bool


@dataclass(frozen=True)
class DeleteSchedule:
    name: str
    group: str


@dataclass(frozen=True)
class DeleteRule:
    """Remove the rule's targets, then the rule (AWS refuses to delete a rule with targets)."""

    rule: str
    target_ids: tuple[str, ...]


@dataclass(frozen=True)
class PutEventRule:
    """Create or update one trigger rule, whose one target is the events queue (wrapped with the flow's name)."""

    rule: "EventRule"


@dataclass(frozen=True)
class DeleteEventRule:
    """Remove a trigger rule's target, then the rule."""

    name: str
    bus: str


@dataclass(frozen=True)
class DeleteAlias:
    alias_arn: str


@dataclass(frozen=True)
class DeleteStateMachine:
    machine_arn: str


@dataclass(frozen=True)
class ClearProduction:
    flow: str


Action = (PublishVersion | UseVersion | RecordRelease | ClaimProduction | RestoreProduction | PointAlias | PutSchedule
          | DeleteSchedule | DeleteRule | PutEventRule | DeleteEventRule | DeleteAlias | DeleteStateMachine
          | ClearProduction)


@dataclass(frozen=True)
class EventRule:
    """A trigger rule as the deployer sets it (and as read back)."""

    name: str
    bus: str
    pattern: str  # JSON, keys sorted
    target_arn: str
    input_template: str
    description: str = ""

    def same_as(self, other: "EventRule") -> bool:
        return (self.name, self.bus, self.pattern, self.target_arn, self.input_template) == (
            other.name, other.bus, other.pattern, other.target_arn, other.input_template)


@dataclass(frozen=True)
class EventTarget:
    """Where trigger rules deliver: the events queue; user events come on `bus`, Step Functions' on the default bus."""

    queue_arn: str
    bus: str = names.EVENT_BUS
    status_bus: str = "default"
    partition: str = "aws"
    region: str = "us-east-1"
    account: str = ""


@dataclass(frozen=True)
class LiveSchedule:
    """The parts of a Scheduler schedule that the deployer sets."""

    expression: str
    timezone: str | None
    target_arn: str
    role_arn: str
    target_input: str
    enabled: bool = True


@dataclass(frozen=True)
class PublishedVersion:
    """A version of the state machine that no release records: a deploy died between publishing and recording it."""

    version_arn: str
    definition: str
    description: str


@dataclass(frozen=True)
class Live:
    """What exists now for one flow."""

    machine_exists: bool
    alias_exists: bool
    rule_expression: str | None  # None: no rule (a deployment from before schedules)
    rule_targets: tuple[tuple[str, str, str], ...]  # (id, arn, input)
    production: Production | None
    schedule: LiveSchedule | None = None
    event_rules: tuple[EventRule, ...] = ()
    alias_version_arn: str | None = None  # the version the alias routes to (its heaviest)
    releases: tuple[Release, ...] = ()  # every recorded version, oldest first
    unrecorded_versions: tuple[PublishedVersion, ...] = ()  # published after the newest recorded release


@dataclass(frozen=True)
class ScheduleTarget:
    """Where a flow's schedule delivers: the scheduled Lambda, invoked by Scheduler with `role_arn`."""

    function_arn: str
    role_arn: str
    group: str = names.SCHEDULE_GROUP


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
                    target: ScheduleTarget, events: EventTarget | None = None) -> Plan:
    """The calls that put `release` (version fields still empty) in production, given what is live."""
    current = live.production
    if current is not None and current.release.fingerprint == release.fingerprint:
        if _same_upload(current.release, release):
            return _finish(current.release, live, machine_arn, target, events)
        return Plan(DUPLICATE, f"code {release.code_sha256[:12]} with the same options is already production "
                               f"(version {current.release.version})", ())
    # "Newer" is the server's upload time, never the manifest's `created`: a
    # laptop clock that runs slow (or a forged year 2999) must not decide.
    if current is not None and release.uploaded < current.newest_uploaded:
        return Plan(SUPERSEDED, f"package uploaded {release.uploaded} is older than the newest accepted upload "
                                f"({current.newest_uploaded}); production stays on version {current.release.version}",
                    ())
    alias = names.alias_arn(machine_arn)
    description = f"code {release.code_sha256}"
    # A deploy of this upload that died after publishing left its version, recorded (but production not claimed)
    # or not: take it rather than publish it twice.
    recorded = next((r.version_arn for r in live.releases
                     if _same_upload(r, release) and r.fingerprint == release.fingerprint), None)
    leftover = recorded or next((v.version_arn for v in live.unrecorded_versions
                                 if (v.definition, v.description) == (definition, description)), None)
    actions: list[Action] = [
        UseVersion(leftover) if leftover else
        PublishVersion(machine_arn, release.flow, definition, role_arn, description, create=not live.machine_exists),
        RecordRelease(release),
        ClaimProduction(release),
        PointAlias(alias, machine_arn, None, create=not live.alias_exists),
        *schedule_actions(release.flow, _schedule(release), live, target),
        *event_rule_actions(release.flow, FlowTriggers.from_dict(release.triggers), live, events),
    ]
    return Plan(ACCEPTED, "", tuple(actions))


def _same_upload(production: Release, release: Release) -> bool:
    """Whether production was claimed by this very upload: same code, received by S3 at the same second, and the
    same manifest time (two uploads of one snapshot within a second differ by it)."""
    return ((production.code_sha256, production.uploaded, production.created)
            == (release.code_sha256, release.uploaded, release.created))


def _finish(production: Release, live: Live, machine_arn: str, target: ScheduleTarget,
            events: EventTarget | None) -> Plan:
    """What is left of a deployment of this upload that claimed production and died (none if it finished)."""
    actions: list[Action] = [UseVersion(production.version_arn)]
    if live.alias_version_arn != production.version_arn:
        actions.append(PointAlias(names.alias_arn(machine_arn), machine_arn, None, create=not live.alias_exists))
    actions += schedule_actions(production.flow, _schedule(production), live, target)
    actions += event_rule_actions(production.flow, FlowTriggers.from_dict(production.triggers), live, events)
    return Plan(ACCEPTED, "", tuple(actions))


def plan_rollback(release: Release, live: Live, *, machine_arn: str, target: ScheduleTarget,
                  events: EventTarget | None = None) -> tuple[Action, ...]:
    """The calls that move production back to `release`, schedule and trigger rules included."""
    assert live.production is not None
    return (
        PointAlias(names.alias_arn(machine_arn), machine_arn, release.version_arn, create=not live.alias_exists),
        RestoreProduction(release, live.production.newest_uploaded),
        *schedule_actions(release.flow, _schedule(release), live, target),
        *event_rule_actions(release.flow, FlowTriggers.from_dict(release.triggers), live, events),
    )


def plan_removal(flow: str, live: Live, *, machine_arn: str, group: str = names.SCHEDULE_GROUP) -> tuple[Action, ...]:
    """The calls that take a flow out of production: schedule, rule, alias, state machine, pointer (records stay)."""
    actions: list[Action] = []
    if live.schedule is not None:
        actions.append(DeleteSchedule(names.schedule_name(flow), group))
    if live.rule_expression is not None:
        actions.append(DeleteRule(names.rule_name(flow), tuple(t[0] for t in live.rule_targets)))
    actions += [DeleteEventRule(rule.name, rule.bus) for rule in live.event_rules]
    if live.alias_exists:
        actions.append(DeleteAlias(names.alias_arn(machine_arn)))
    if live.machine_exists:
        actions.append(DeleteStateMachine(machine_arn))
    if live.production is not None:
        actions.append(ClearProduction(flow))
    return tuple(actions)


def schedule_actions(flow: str, schedule: Schedule | None, live: Live, target: ScheduleTarget) -> tuple[Action, ...]:
    """Put the schedule when it changed, delete it when it went away; a legacy rule goes after the schedule."""
    actions: list[Action] = []
    name = names.schedule_name(flow)
    if schedule is not None:
        wanted = LiveSchedule(schedule.expression, utc_as_none(schedule.timezone), target.function_arn,
                              target.role_arn, scheduled_input(flow))
        current = live.schedule and replace(live.schedule, timezone=utc_as_none(live.schedule.timezone))
        if current != wanted:
            actions.append(PutSchedule(name, target.group, schedule.expression, schedule.timezone,
                                       f"flowdrop schedule of {flow}", target.function_arn, target.role_arn,
                                       wanted.target_input, create=live.schedule is None))
    elif live.schedule is not None:
        actions.append(DeleteSchedule(name, target.group))
    if live.rule_expression is not None:
        actions.append(DeleteRule(names.rule_name(flow), tuple(t[0] for t in live.rule_targets)))
    return tuple(actions)


def scheduled_input(flow: str) -> str:
    """The schedule target's Input, with Scheduler's context attributes filled in at each tick.

    `scheduled_time` is the tick itself (not when the invocation happens), so
    a late or retried delivery still names the run of its own tick.
    """
    return json.dumps({"flow": flow, "scheduled_time": SCHEDULED_TIME, "attempt": ATTEMPT}, sort_keys=True)


def utc_as_none(zone: str | None) -> str | None:
    """A schedule's zone with UTC spelled None: Scheduler reports UTC for a schedule given no zone."""
    return None if zone in (None, "", "UTC") else zone


def _schedule(release: Release) -> Schedule | None:
    return Schedule.from_dict(release.schedule) if release.schedule else None


# -- trigger rules ------------------------------------------------------------------------------

# The rule wraps the whole event with the flow it is for: one queue serves every flow.
def rule_input_template(flow: str) -> str:
    """The target's InputTransformer template: {"flow": <flow>, "event": <the EventBridge event>}."""
    return '{"flow": ' + json.dumps(flow) + ', "event": <aws.events.event.json>}'


def wanted_event_rules(flow: str, triggers: FlowTriggers, target: EventTarget) -> tuple[EventRule, ...]:
    """One rule per @trigger event (flowdrop bus) and per upstream flow (Step Functions' SUCCEEDED, default bus)."""
    template = rule_input_template(flow)
    rules = [EventRule(names.event_rule_name(flow, e.name), target.bus,
                       _pattern({"source": [EVENT_SOURCE], "detail-type": [e.name]}), target.queue_arn, template,
                       f"flowdrop: event {e.name} starts {flow}"[:512]) for e in triggers.events]
    for upstream in triggers.flows:
        arn = names.state_machine_arn(target.partition, target.region, target.account, upstream.deployed)
        pattern = {"source": [STATUS_SOURCE], "detail-type": [STATUS_DETAIL_TYPE],
                   "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [arn]}}
        rules.append(EventRule(names.event_rule_name(flow, upstream_key(upstream.deployed)), target.status_bus,
                               _pattern(pattern), target.queue_arn, template,
                               f"flowdrop: success of {upstream.deployed} starts {flow}"[:512]))
    return tuple(rules)


def event_rule_actions(flow: str, triggers: FlowTriggers, live: Live,
                       target: EventTarget | None) -> tuple[Action, ...]:
    """Put the trigger rules that are missing or differ, delete the ones no trigger wants any more."""
    wanted = wanted_event_rules(flow, triggers, target) if target is not None and triggers else ()
    live_by_key = {(r.bus, r.name): r for r in live.event_rules}
    actions: list[Action] = [PutEventRule(rule) for rule in wanted
                             if not (rule.bus, rule.name) in live_by_key
                             or not live_by_key[(rule.bus, rule.name)].same_as(rule)]
    keep = {(r.bus, r.name) for r in wanted}
    actions += [DeleteEventRule(r.name, r.bus) for r in live.event_rules if (r.bus, r.name) not in keep]
    return tuple(actions)


def _pattern(pattern: dict) -> str:
    return json.dumps(pattern, sort_keys=True)
