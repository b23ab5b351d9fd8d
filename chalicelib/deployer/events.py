"""Event triggers: publishing events, and the events queue's handler that starts triggered runs.

Owns: publish_event (POST /events: put_events on the flowdrop bus, with
Metaflow's payload fields name, id, timestamp), reading a queue message
into a TriggerEvent (a user event, or Step Functions' status change of an
upstream flow for @trigger_on_finish), and handle_trigger_event: map the
payload to parameters (model/triggers.py), check them as the trigger API
does (model/parameters.py), record the run's trigger in the production
datastore, and start one run of the production version named from the
event id(s), so a redelivered event starts nothing new. A multi-event
trigger remembers arrivals (store.py) and starts when every event arrived
within the window. Every event's outcome is recorded (started, waiting,
duplicate, rejected with the reason) and logged. Does not own: the rules
(plan.py, publish.py) or StartExecution itself (trigger.py).

Retry policy: a rejected event is recorded and consumed; an AWS failure
fails just that message, which SQS redelivers (then its dead-letter queue).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flowdrop.datastore import FlowDatastore
from flowdrop.datastore.backends import open_storage
from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error
from flowdrop.deployer.records import timestamp
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.deployer.trigger import machine_arn, start_execution
from flowdrop.errors import DecoratorError, DeployError, ParameterError, RequestError
from flowdrop.model import runs as run_ids
from flowdrop.model.parameters import ParameterSpec, resolve_parameters
from flowdrop.model.triggers import (
    EVENT_SOURCE,
    STATUS_DETAIL_TYPE,
    STATUS_SOURCE,
    FlowTriggers,
    event_execution_name,
    mapped_parameters,
    trigger_events,
    upstream_key,
)

logger = logging.getLogger(__name__)

STARTED, WAITING, DUPLICATE, REJECTED = "started", "waiting", "duplicate", "rejected"
MAX_PAYLOAD_BYTES = 64 * 1024


# -- publishing -------------------------------------------------------------------------------


def event_payload(name: str, payload: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    """Metaflow's payload: name, a fresh id, the timestamp (epoch seconds), then the user's fields (which may set id)."""
    return {"name": name, "id": str(uuid.uuid4()), "timestamp": int(now.timestamp()), **dict(payload or {})}


def publish_event(name: Any, payload: Any, clients: Clients, settings: DeployerSettings,
                  now: datetime) -> dict[str, Any]:
    """Put one event on the flowdrop bus; RequestError names a bad name or payload."""
    problems = []
    try:
        trigger_events({"event": name})
    except DecoratorError as err:
        problems.append(str(err).replace("@trigger(event=...): ", ""))
    if payload is not None and not isinstance(payload, dict):
        problems.append(f"payload must be an object of field -> value, got {type(payload).__name__}")
    if problems:
        raise RequestError("the event is invalid", tuple(problems))
    detail = event_payload(name, payload, now)
    text = json.dumps(detail, sort_keys=True)
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise RequestError("the event is invalid", (f"the payload is more than {MAX_PAYLOAD_BYTES} bytes of JSON",))
    entry = {"Source": EVENT_SOURCE, "DetailType": name, "Detail": text, "EventBusName": settings.event_bus}
    try:
        response = clients.events.put_events(Entries=[entry])
    except AWS_ERRORS as err:
        raise aws_error("EventBridge", "PutEvents", settings.event_bus, err) from err
    if response.get("FailedEntryCount"):
        failed = (response.get("Entries") or [{}])[0]
        raise DeployError(f"EventBridge PutEvents on {settings.event_bus} refused event {name!r}: "
                          f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
    return {"name": name, "id": detail["id"], "timestamp": detail["timestamp"], "bus": settings.event_bus}


# -- what arrives -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerEvent:
    """One delivery to one flow: a user event (key = its name) or an upstream success (key = flow:<machine>)."""

    flow: str  # the triggered state machine
    key: str
    id: str
    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)  # as current.trigger shows it (Metaflow's MetaflowEvent)

    @classmethod
    def from_message(cls, body: str) -> TriggerEvent:
        """The queue message a rule's InputTransformer made: {"flow": ..., "event": <EventBridge event>}."""
        try:
            message = json.loads(body)
        except json.JSONDecodeError as err:
            raise RequestError("the events queue message is not JSON", (body[:200],)) from err
        if not isinstance(message, dict) or not isinstance(message.get("flow"), str):
            raise RequestError("the events queue message names no flow", (body[:200],))
        event = message.get("event") if isinstance(message.get("event"), dict) else {}
        detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
        flow = message["flow"]
        if event.get("source") == STATUS_SOURCE and event.get("detail-type") == STATUS_DETAIL_TYPE:
            return cls._upstream(flow, detail)
        if event.get("source") != EVENT_SOURCE:
            raise RequestError(f"event source {event.get('source')!r} is not {EVENT_SOURCE!r}", (body[:200],))
        name = str(event.get("detail-type") or detail.get("name") or "")
        ident = str(detail.get("id") or event.get("id") or "")
        if not name or not ident:
            raise RequestError("the event has no name or no id", (body[:200],))
        stamp = detail.get("timestamp")
        meta = {"type": "event", "name": name, "id": ident,
                "timestamp": stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else None}
        return cls(flow, name, ident, name, dict(detail), meta)

    @classmethod
    def _upstream(cls, flow: str, detail: Mapping[str, Any]) -> TriggerEvent:
        arn, execution = str(detail.get("stateMachineArn") or ""), str(detail.get("name") or "")
        if ":stateMachine:" not in arn or not execution:
            raise RequestError("the Step Functions status event has no stateMachineArn or name", ())
        deployed = arn.split(":stateMachine:", 1)[1].split(":")[0]
        upstream_flow = deployed.rsplit(".", 1)[-1]
        run = run_ids.run_id(execution)
        stop = detail.get("stopDate")
        meta = {"type": "run", "name": f"metaflow.{upstream_flow}.end", "id": f"{upstream_flow}/{run}/end/end",
                "timestamp": int(stop / 1000) if isinstance(stop, (int, float)) else None}
        return cls(flow, upstream_key(deployed), str(detail.get("executionArn") or f"{arn}/{execution}"),
                   meta["name"], {}, meta)


@dataclass(frozen=True)
class EventOutcome:
    """What one delivery did."""

    flow: str
    event_id: str
    name: str
    outcome: str  # STARTED | WAITING | DUPLICATE | REJECTED
    reason: str = ""
    run_id: str | None = None
    waiting_for: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"flow": self.flow, "event_id": self.event_id, "name": self.name,
                               "outcome": self.outcome}
        if self.reason:
            out["reason"] = self.reason
        if self.run_id:
            out["run_id"] = self.run_id
        if self.waiting_for:
            out["waiting_for"] = list(self.waiting_for)
        return out


# -- handling -----------------------------------------------------------------------------------


def handle_event_batch(event: Mapping[str, Any], clients: Clients, settings: DeployerSettings,
                       now: datetime) -> dict[str, Any]:
    """Handle an SQS batch from the events queue; the partial batch response lists the messages to retry."""
    failures = []
    for record in event.get("Records", []):
        try:
            handle_message(record.get("body", ""), clients, settings, now)
        except DeployError:
            logger.exception("trigger event %s failed; SQS delivers it again", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}


def handle_message(body: str, clients: Clients, settings: DeployerSettings, now: datetime) -> EventOutcome:
    """One queue message: parse it, handle it, record and log what it did."""
    store = DeploymentStore(clients.dynamodb, settings.deployments_table)
    try:
        delivery = TriggerEvent.from_message(body)
    except RequestError as err:
        logger.warning("ignoring an events queue message: %s (%s)", err, "; ".join(err.problems))
        return EventOutcome("", "", "", REJECTED, str(err))
    outcome = handle_trigger_event(delivery, clients, settings, store, now)
    store.put_event_outcome(delivery.flow, timestamp(now), delivery.id, outcome.to_dict())
    log = logger.warning if outcome.outcome == REJECTED else logger.info
    log("event %s (%s) for %s: %s %s", delivery.name, delivery.id, delivery.flow, outcome.outcome,
        outcome.reason or outcome.run_id or ", ".join(outcome.waiting_for))
    return outcome


def handle_trigger_event(delivery: TriggerEvent, clients: Clients, settings: DeployerSettings,
                         store: DeploymentStore, now: datetime) -> EventOutcome:
    """Start the run `delivery` completes, wait for the rest of its events, or reject it with the reason."""
    flow = delivery.flow

    def rejected(reason: str) -> EventOutcome:
        return EventOutcome(flow, delivery.id, delivery.name, REJECTED, reason)

    production = store.production(flow)
    if production is None:
        return rejected(f"flow {flow!r} has no production deployment")
    release = production.release
    triggers = FlowTriggers.from_dict(release.triggers)
    if delivery.key not in triggers.keys:
        return rejected(f"production version {release.version} of {flow!r} is not triggered by {delivery.key!r} "
                        f"(its triggers: {', '.join(triggers.keys) or 'none'})")
    arrived = {delivery.key: _arrival(delivery, now)}
    if len(triggers.keys) > 1:
        store.put_arrival(flow, delivery.key, arrived[delivery.key])
        oldest = now - timedelta(seconds=triggers.window_seconds)
        for item in store.arrivals(flow):
            key = item.get("key")
            if key in triggers.keys and key != delivery.key and _moment(item.get("arrived")) >= oldest:
                arrived[key] = item
        missing = tuple(k for k in triggers.keys if k not in arrived)
        if missing:
            return EventOutcome(flow, delivery.id, delivery.name, WAITING, waiting_for=missing)
    ordered = [arrived[k] for k in triggers.keys]
    payloads = {a["name"]: a["payload"] for a in ordered if a.get("kind") == "event"}
    specs = [ParameterSpec.from_dict(p) for p in release.parameters]
    given = mapped_parameters(triggers, payloads, [s.name for s in specs])
    if len(triggers.keys) > 1:
        for a in ordered:
            store.clear_arrival(flow, a["key"], a["id"])
    try:
        resolve_parameters(specs, given, release.deploy_time_values)
    except ParameterError as err:
        return rejected(f"the payload does not fit flow {flow!r}: {'; '.join(err.problems)}")
    name = event_execution_name(a["id"] for a in ordered)
    run_id = run_ids.run_id(name)
    metas = [a["meta"] for a in ordered]
    _record_trigger(clients, settings, release.flow_name, run_id, metas)
    run_input = json.dumps({"Parameters": json.dumps(given, sort_keys=True), "Trigger": json.dumps(metas)})
    started = start_execution(clients, flow, machine_arn(settings, flow), name, run_input)
    return EventOutcome(flow, delivery.id, delivery.name, STARTED if started.started else DUPLICATE,
                        run_id=started.run_id)


def event_outcomes(flow: str, clients: Clients, settings: DeployerSettings) -> dict[str, Any]:
    """GET /flows/{flow}/events: what every trigger event of the flow did, oldest first."""
    return {"events": DeploymentStore(clients.dynamodb, settings.deployments_table).event_outcomes(flow)}


def _arrival(delivery: TriggerEvent, now: datetime) -> dict[str, Any]:
    return {"key": delivery.key, "id": delivery.id, "name": delivery.name, "payload": delivery.payload,
            "meta": delivery.meta, "kind": delivery.meta.get("type", "event"), "arrived": timestamp(now)}


def _record_trigger(clients: Clients, settings: DeployerSettings, flow_name: str, run_id: str,
                    metas: list[dict[str, Any]]) -> None:
    # Written before the execution starts, so its first task can read it; the
    # same events always write the same file, so a redelivery changes nothing.
    storage = open_storage(settings.datastore_root, settings.aws) if not settings.datastore_root.startswith("s3://") \
        else _s3_storage(clients, settings.datastore_root)
    FlowDatastore(storage, flow_name).write_trigger(run_id, metas)


def _s3_storage(clients: Clients, root: str) -> Any:
    from flowdrop.datastore.s3 import S3Storage

    bucket, _, prefix = root[len("s3://"):].partition("/")
    return S3Storage(clients.s3, bucket, prefix)


def _moment(text: Any) -> datetime:
    if not isinstance(text, str):
        return datetime.min.replace(tzinfo=timezone.utc)
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
