"""The alerts Lambda's service: Step Functions execution status events -> run alerts, once each.

Owns: reading "Step Functions Execution Status Change" events out of the
alerts queue (EventBridge delivers the whole event as the SQS body), the
partial batch response (Powertools' BatchProcessor: one failing message
does not fail the others), finding what failed (the failed step from the
execution's history, its exception and traceback from the task's attempt
records in the datastore, else the execution's error and cause), and
delivering the message of model/alerts.py to the production release's
targets: a webhook POST (Slack's payload) through urllib with a timeout,
or SNS Publish. Each (execution, status, target) is claimed in the
deployments table first (a conditional put), so a redelivered event sends
nothing twice; a failed delivery gives its claim back and fails the
message, which SQS delivers again and finally moves to the dead-letter
queue. Delivery is therefore at most once per target if a Lambda dies
between claim and send, which an alert can afford.

The targets are those of the flow's production release when the event
arrives (a run of an older version alerts where the flow alerts now).

Also, when a scheduled run (`sched-...`) ends, the queued ticks of its
flow (overlap "queue") are drained: the next one starts now, not at the
next tick. Does not own: the message text (model/alerts.py), the targets'
validation (model/alerts.py) or the schedule logic (schedule.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowdrop.datastore.flow import FlowDatastore
from flowdrop.datastore.s3 import S3Storage
from flowdrop.deployer.clients import AWS_ERRORS, Clients, aws_error
from flowdrop.deployer.records import Release
from flowdrop.deployer.runs import TERMINATED_ERROR
from flowdrop.deployer.schedule import drain_queued_ticks
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.step_states import step_states
from flowdrop.deployer.store import DeploymentStore
from flowdrop.errors import AlertError, FlowdropError
from flowdrop.model import names
from flowdrop.model import runs as run_ids
from flowdrop.model.alerts import (
    SNS,
    Alerts,
    Failure,
    RunOutcome,
    shown_target,
    slack_payload,
    sns_message,
    target_kind,
)
from flowdrop.model.exit_hooks import with_exit_hook_failures

logger = logging.getLogger(__name__)

STATUS_CHANGE = "Step Functions Execution Status Change"
STATUS_SOURCE = "aws.states"
WEBHOOK_TIMEOUT_SECONDS = 10.0
# A failed run's history is read to name the failed step; a 10,000-item Map
# has 40,000 events, so reading stops after this many pages.
MAX_HISTORY_PAGES = 50

STATUS_FILE_WAITS = (0.0, 0.5, 1.0, 1.5)  # seconds before each read of a stopped run's status.json

Post = Callable[[str, bytes], None]


@dataclass(frozen=True)
class StatusChange:
    """One execution status event: which execution of which state machine, and its new status."""

    execution_arn: str
    state_machine: str  # the state machine's name (the flow's deployment)
    execution_name: str
    status: str
    error: str = ""
    cause: str = ""

    @property
    def run_id(self) -> str:
        """The Metaflow-style run id, `sfn-<execution name>`."""
        return run_ids.run_id(self.execution_name)

    @classmethod
    def from_event(cls, event: Any) -> StatusChange | None:
        """The status change an EventBridge event stands for; None for any other event."""
        if not isinstance(event, Mapping) or event.get("detail-type") != STATUS_CHANGE:
            return None
        detail = event.get("detail")
        if not isinstance(detail, Mapping):
            return None
        arn, status = detail.get("executionArn"), detail.get("status")
        parts = arn.split(":") if isinstance(arn, str) else []
        # arn:<partition>:states:<region>:<account>:execution:<state machine>:<execution name>
        if len(parts) < 8 or parts[5] != "execution" or not isinstance(status, str):
            logger.warning("ignoring a status event without an execution ARN and status: %.300s", detail)
            return None
        return cls(str(arn), parts[6], parts[7], status, str(detail.get("error") or ""),
                   str(detail.get("cause") or ""))


def status_changes(body: str) -> list[StatusChange]:
    """The status change in one SQS message body ([] for anything else, logged)."""
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        logger.warning("ignoring an alerts-queue message that is not JSON: %.200s", body)
        return []
    change = StatusChange.from_event(event)
    return [change] if change else []


def handle_status_batch(event: dict[str, Any], clients: Clients, settings: DeployerSettings,
                        lambda_context: Any = None, post: Post | None = None) -> dict[str, Any]:
    """Alert for every status event in an SQS batch; returns the partial batch response."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record: Any) -> list[list[str]]:
        return [handle_status_change(change, clients, settings, post) for change in status_changes(record.body)]

    # A batch that failed entirely answers so too (Powertools would raise): SQS redelivers the listed ones alike.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=lambda_context)


def handle_status_change(change: StatusChange, clients: Clients, settings: DeployerSettings,
                         post: Post | None = None) -> list[str]:
    """Do what one run's status change asks: drain queued ticks, send its alerts; the targets alerted now."""
    if change.status not in run_ids.TERMINAL_STATUSES:
        return []
    store = DeploymentStore(clients.dynamodb, settings.deployments_table)
    production = store.production(change.state_machine)
    if production is None:
        logger.info("status event of %s: not a flowdrop deployment (or deleted); nothing to do", change.execution_arn)
        return []
    release = production.release
    if names.scheduled_tick_of(change.execution_name) is not None:
        started = drain_queued_ticks(change.state_machine, clients, settings, store)
        if started:
            logger.info("%s ended %s: started queued run(s) %s", change.run_id, change.status, ", ".join(started))
    targets = Alerts.from_dict(release.alerts).targets_for(change.status)
    if not targets:
        return []
    outcome = run_outcome(change, release, clients, settings)
    sent = []
    for target in targets:
        key = alert_key(change, target)
        if not store.claim_alert(change.state_machine, key, {"target": target, "status": change.status,
                                                             "execution_arn": change.execution_arn}):
            logger.info("alert %s was sent before (a redelivered event); not again", key)
            continue
        try:
            deliver(target, outcome, clients, post or post_json)
        except AlertError:
            store.release_alert(change.state_machine, key)
            raise
        sent.append(target)
        logger.info("alerted %s: %s %s", shown_target(target), change.run_id, change.status)
    return sent


def alert_key(change: StatusChange, target: str) -> str:
    """`<execution name>#<status>#<target digest>`: one alert per run end and target."""
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:16]
    return f"{change.execution_name}#{change.status}#{digest}"


def deliver(target: str, outcome: RunOutcome, clients: Clients, post: Post) -> None:
    """Send one alert; AlertError names the run, the target and why."""
    try:
        if target_kind(target) == SNS:
            if clients.sns is None:
                raise AlertError(f"alert for {outcome.run_id}: no SNS client to publish to {target}")
            clients.sns.publish(TopicArn=target, **sns_message(outcome))
        else:
            post(target, json.dumps(slack_payload(outcome)).encode("utf-8"))
    except AWS_ERRORS as err:
        raise AlertError(str(aws_error("SNS", "Publish", target, err))) from err
    except (OSError, ValueError) as err:  # urllib's URLError and HTTPError are OSErrors
        raise AlertError(f"alert for {outcome.run_id} to {shown_target(target)} failed: {err}") from err


def post_json(url: str, body: bytes) -> None:
    """POST a JSON body; raises OSError (urllib's HTTPError, URLError, a timeout) when it was not accepted."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "flowdrop-alerts"})
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 - checked URL
        response.read()


# -- what failed ---------------------------------------------------------------------------------


def run_outcome(change: StatusChange, release: Release, clients: Clients, settings: DeployerSettings) -> RunOutcome:
    """The run's end as the alert tells it; reading what failed never stops the alert (it says less)."""
    failed_steps: tuple[str, ...] = ()
    failure = None
    error, cause = change.error, change.cause
    if change.status == run_ids.ABORTED:
        # Stopped, not failed: no step is to blame. The cause (who terminated it, why) is the event's;
        # moto drops StopExecution's error and cause, so the run's status.json (runs.terminate_run) fills in.
        if not cause:
            error, cause = error or TERMINATED_ERROR, _stopped_cause(clients, settings, release.flow_name,
                                                                      change.run_id)
    elif change.status != run_ids.SUCCEEDED:
        try:
            events = _history(clients, change.execution_arn)
            states = with_exit_hook_failures(events, step_states(events, change.status))
            failed_steps = tuple(step for step, state in states.items() if state == "FAILED")
            failure = _task_failure(clients, settings, release.flow_name, change.run_id, failed_steps)
        except (*AWS_ERRORS, FlowdropError, ValueError, KeyError) as err:
            logger.warning("alert for %s: could not read what failed (%s); sending what the event says",
                           change.run_id, err)
    tick = run_ids.scheduled_time(change.run_id)
    return RunOutcome(flow_name=release.flow_name, state_machine=change.state_machine, run_id=change.run_id,
                      status=change.status, failure=failure, failed_steps=failed_steps, error=error if cause else change.error,
                      cause=cause,
                      scheduled_time=tick.isoformat().replace("+00:00", "Z") if tick else "")


def _stopped_cause(clients: Clients, settings: DeployerSettings, flow_name: str, run_id: str) -> str:
    datastore = _datastore(clients, settings, flow_name)
    for wait in STATUS_FILE_WAITS if datastore else ():
        # terminate_run writes status.json just after StopExecution: the event may come first.
        time.sleep(wait)
        try:
            status = datastore.read_run_status(run_id)
        except (*AWS_ERRORS, FlowdropError, ValueError) as err:
            logger.warning("alert for %s: could not read its status.json (%s)", run_id, err)
            return ""
        if status and status.get("cause"):
            return str(status["cause"])
    return ""


def _datastore(clients: Clients, settings: DeployerSettings, flow_name: str) -> FlowDatastore | None:
    root = settings.datastore_root
    if not root.startswith("s3://"):
        return None
    bucket, _, prefix = root[len("s3://"):].partition("/")
    return FlowDatastore(S3Storage(clients.s3, bucket, prefix.strip("/")), flow_name)


def _history(clients: Clients, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    for _ in range(MAX_HISTORY_PAGES):
        page = clients.sfn.get_execution_history(**kwargs)
        events += page.get("events", [])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return events


def _task_failure(clients: Clients, settings: DeployerSettings, flow_name: str, run_id: str,
                  failed_steps: tuple[str, ...]) -> Failure | None:
    """The newest failed (not @catch-caught) attempt of the first failed step that recorded one."""
    datastore = _datastore(clients, settings, flow_name)
    if datastore is None:
        return None
    for step in failed_steps:
        attempts = []
        for task_id in datastore.list_tasks(run_id, step):
            for number in datastore.list_attempts(run_id, step, task_id):
                meta = datastore.read_attempt(run_id, step, task_id, number) or {}
                if meta.get("status") == "failed" and not meta.get("caught"):
                    attempts.append((str(meta.get("finished") or ""), task_id, number, meta))
        if attempts:
            _, task_id, number, meta = max(attempts, key=lambda a: (a[0], a[2]))
            return Failure(step=step, task_id=task_id, attempt=number,
                           exception_type=str(meta.get("exception_class") or meta.get("exception_type") or ""),
                           exception_message=str(meta.get("exception_message") or ""),
                           traceback=str(meta.get("exception") or ""))
    return Failure(step=failed_steps[0]) if failed_steps else None
