"""A stand-in for Step Functions' execution status events, which moto never emits (EMULATOR.md).

Owns: polling the state machines' executions on the embedded stack,
noticing each status change (RUNNING, then SUCCEEDED, FAILED, TIMED_OUT or
ABORTED), and putting the event AWS would put on the default EventBridge
bus, same source, detail-type and detail shape ("aws.states", "Step
Functions Execution Status Change", executionArn, stateMachineArn, name,
status, startDate, stopDate, input, output, error, cause). moto's rules
then match it and deliver it, here to the alerts queue (local/resources.py),
whose event source feeds app.py's `alerts` handler, as on AWS. Does not own:
the rule, the queue or the handler.

A status is remembered as emitted only once put_events accepted it, so a
moto hiccup retries on the next poll; a restarted stack passes the
statuses of the runs it restored as seen, so nothing old is re-emitted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from flowdrop.local.loop import RepeatingThread

log = logging.getLogger(__name__)

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
PUT_EVENTS_BATCH = 10  # PutEvents' most entries per call


def _millis(value: Any) -> int | None:
    """AWS's status events give times as milliseconds since the epoch."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(moment.timestamp() * 1000)
    return None


def status_event(execution: Mapping[str, Any]) -> dict[str, Any]:
    """The PutEvents entry AWS emits for `execution` (a DescribeExecution answer) in its current status."""
    detail = {
        "executionArn": execution["executionArn"],
        "stateMachineArn": execution["stateMachineArn"],
        "name": execution.get("name"),
        "status": execution["status"],
        "startDate": _millis(execution.get("startDate")),
        "stopDate": _millis(execution.get("stopDate")),
        "input": execution.get("input"),
        "output": execution.get("output"),
        "error": execution.get("error"),
        "cause": execution.get("cause"),
    }
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Resources": [str(execution["executionArn"])],
            "Detail": json.dumps(detail, sort_keys=True)}


class StatusEventEmitter:
    """Polls every state machine's executions and puts a status event for each change it sees."""

    def __init__(self, sfn: Any, events: Any, *, interval: float = 1.0, bus: str = "default",
                 seen: Mapping[str, str] | None = None):
        self.sfn, self.events, self.bus = sfn, events, bus
        self.emitted = 0  # events put so far
        # execution ARN -> the status last emitted (`seen`: what was emitted before a restart)
        self._seen: dict[str, str] = dict(seen or {})
        self._loop = RepeatingThread("flowdrop-status-events", self.poll_once, pause=interval)

    def start(self) -> StatusEventEmitter:
        """Start polling in a background thread."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the poll in hand."""
        self._loop.stop(timeout)

    def poll_once(self) -> int:
        """One look at every execution; returns how many status events were put."""
        changed = []
        for machine in self._pages(self.sfn.list_state_machines, "stateMachines"):
            for item in self._pages(self.sfn.list_executions, "executions",
                                    stateMachineArn=machine["stateMachineArn"]):
                if self._seen.get(item["executionArn"]) != item["status"]:
                    changed.append(item["executionArn"])
        entries = []
        for arn in changed:
            execution = self.sfn.describe_execution(executionArn=arn)  # error and cause are not in the listing
            entries.append((arn, execution["status"], status_event(execution)))
        put = 0
        for start in range(0, len(entries), PUT_EVENTS_BATCH):
            batch = entries[start:start + PUT_EVENTS_BATCH]
            answer = self.events.put_events(Entries=[{**entry, "EventBusName": self.bus} for _, _, entry in batch])
            for (arn, status, _), result in zip(batch, answer.get("Entries", []), strict=False):
                if result.get("EventId"):
                    self._seen[arn] = status
                    put += 1
                else:
                    log.warning("put_events refused the status event of %s: %s", arn, result)
        self.emitted += put
        return put

    @staticmethod
    def _pages(call: Any, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = call(maxResults=1000, **kwargs)
            yield from page.get(key, [])
            if not page.get("nextToken"):
                return
            kwargs["nextToken"] = page["nextToken"]
