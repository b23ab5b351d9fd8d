"""Names and ARNs of every AWS resource the deployer makes or calls, built in one place.

Owns: the `production` alias, rule and schedule names (EventBridge: <= 64 characters of
[.-_A-Za-z0-9]), execution names (Step Functions: <= 80 characters of
[A-Za-z0-9-_]) and run ids (`sfn-<execution name>`), package keys, and the
ARNs derived from a state machine's name. Pure: no AWS calls, no clock.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime, timezone

from flowdrop.errors import PackageError

PRODUCTION_ALIAS = "production"
RULE_PREFIX = "flowdrop-"
RULE_TARGET_ID = "scheduled"
SCHEDULE_GROUP = "flowdrop"  # the EventBridge Scheduler group of every flow's schedule
DEPLOY_QUEUE = "flowdrop-deploy"  # the SQS queue the package notifications go to
ALERTS_QUEUE = "flowdrop-alerts"  # the SQS queue Step Functions' execution status events go to
MAX_RULE_NAME = 64
EVENT_BUS = "flowdrop"  # the bus @trigger events are published on (`flowdrop event publish`, POST /events)
EVENTS_QUEUE = "flowdrop-events"  # the SQS queue every trigger rule delivers to
EVENT_TARGET_ID = "events"
MAX_EXECUTION_NAME = 80

_RULE_BAD = re.compile(r"[^.\-_A-Za-z0-9]")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def rule_name(state_machine: str) -> str:
    """`flowdrop-<state machine>`; past 64 characters, cut and suffixed by a hash so names stay unique."""
    name = RULE_PREFIX + _RULE_BAD.sub("_", state_machine)
    if len(name) <= MAX_RULE_NAME and name == RULE_PREFIX + state_machine:
        return name
    digest = hashlib.sha256(state_machine.encode("utf-8")).hexdigest()[:8]
    return name[: MAX_RULE_NAME - 9] + "-" + digest


def event_rule_prefix(state_machine: str) -> str:
    """`fd-ev-<flow, cut>-<hash>-`: the names of one flow's trigger rules start with it (and no other flow's do)."""
    digest = hashlib.sha256(state_machine.encode("utf-8")).hexdigest()[:8]
    return f"fd-ev-{_RULE_BAD.sub('_', state_machine)[:40]}-{digest}-"


def event_rule_name(state_machine: str, key: str) -> str:
    """The rule of one @trigger event (or upstream flow) of a flow: its prefix plus a hash of the key."""
    return event_rule_prefix(state_machine) + hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def schedule_name(state_machine: str) -> str:
    """The flow's EventBridge Scheduler schedule: the rule's name (the same 64-character alphabet fits both)."""
    return rule_name(state_machine)


def state_machine_arn(partition: str, region: str, account: str, state_machine: str) -> str:
    """The ARN of the base state machine called `state_machine`."""
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{state_machine}"


def alias_arn(machine_arn: str, alias: str = PRODUCTION_ALIAS) -> str:
    """The ARN of an alias of a base state machine."""
    return f"{machine_arn}:{alias}"


def execution_arn(machine_arn: str, execution_name: str) -> str:
    """The ARN of an execution of a base state machine (also for executions started on its alias)."""
    prefix, _, name = machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{name}:{execution_name}"


def version_number(version_arn: str) -> int:
    """The version in `...:stateMachine:Name:7`."""
    return int(version_arn.rsplit(":", 1)[1])


def scheduled_execution_name(tick: datetime) -> str:
    """`sched-20261125T1000Z`: one name per schedule tick, so a redelivered tick is one run."""
    tick = tick.astimezone(timezone.utc)
    return "sched-" + tick.strftime("%Y%m%dT%H%MZ")


def scheduled_tick_of(execution_name: str) -> datetime | None:
    """The tick a `sched-...` execution name stands for (None for any other name)."""
    if not execution_name.startswith("sched-"):
        return None
    try:
        return datetime.strptime(execution_name[len("sched-"):], "%Y%m%dT%H%MZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def keyed_execution_name(idempotency_key: str) -> str:
    """`key-<hash>`: the same client idempotency key gives the same execution."""
    return "key-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]


def fresh_execution_name() -> str:
    """`api-<uuid>`: a run nobody asked to deduplicate."""
    return "api-" + uuid.uuid4().hex


def package_key(prefix: str, state_machine: str, sha: str) -> str:
    """`packages/<state machine>/<sha256>.tar.gz`."""
    return f"{prefix}{state_machine}/{sha}.tar.gz"


def parse_package_key(prefix: str, key: str) -> tuple[str, str]:
    """(state machine name, sha256) of a package key; PackageError says what the key should look like."""
    expected = f"{prefix}<state machine name>/<sha256>.tar.gz"
    if not key.startswith(prefix) or not key.endswith(".tar.gz"):
        raise PackageError(f"package key {key!r}: expected {expected}")
    middle = key[len(prefix): -len(".tar.gz")]
    machine, sep, sha = middle.partition("/")
    if not sep or not machine or "/" in sha or not _SHA256.match(sha):
        raise PackageError(f"package key {key!r}: expected {expected} (sha256 as 64 lowercase hex digits)")
    return machine, sha
