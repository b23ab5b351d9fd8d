"""flowdrop.events.Trigger over the trigger data the deployer records: Metaflow's events.py is the spec."""

from __future__ import annotations

import json
from datetime import datetime

from flowdrop.deployer.events import TriggerEvent
from flowdrop.events import MetaflowEvent, Trigger


class FakeRun:
    """What Trigger needs of a client Run: its pathspec and path components."""

    def __init__(self, pathspec: str):
        self.pathspec = pathspec
        self.path_components = pathspec.split("/")


def upstream_meta(flow: str, execution: str, stop_ms: int) -> dict:
    """The meta the events handler records for an upstream flow's success (a Step Functions status event)."""
    arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{flow}"
    detail = {"stateMachineArn": arn, "name": execution, "executionArn": f"{arn}:{execution}", "stopDate": stop_ms,
              "status": "SUCCEEDED"}
    body = {"flow": "ReportFlow", "event": {"source": "aws.states", "detail": detail,
                                            "detail-type": "Step Functions Execution Status Change"}}
    return TriggerEvent.from_message(json.dumps(body)).meta


def test_runs_lists_every_upstream_run_and_run_is_the_latest():
    # Recorded in trigger order (train finished first); Metaflow sorts them newest first.
    metas = [upstream_meta("TrainFlow", "e1", 1_700_000_000_000), upstream_meta("ScoreFlow", "e2", 1_700_000_100_000)]
    trigger = Trigger(metas, FakeRun)
    assert [r.pathspec for r in trigger.runs] == ["ScoreFlow/sfn-e2", "TrainFlow/sfn-e1"]
    assert trigger.run.pathspec == "ScoreFlow/sfn-e2" and trigger.run is trigger.runs[0]
    assert [e.id for e in trigger.events] == ["ScoreFlow/sfn-e2/end/end", "TrainFlow/sfn-e1/end/end"]
    assert trigger.event == MetaflowEvent("metaflow.ScoreFlow.end", "ScoreFlow/sfn-e2/end/end",
                                          datetime.fromtimestamp(1_700_000_100), "run")
    assert trigger["TrainFlow"].pathspec == "TrainFlow/sfn-e1" and "ScoreFlow" in trigger and "Other" not in trigger


def test_an_events_only_trigger_has_no_runs():
    trigger = Trigger([{"type": "event", "name": "a.ready", "id": "1", "timestamp": 10},
                       {"type": "event", "name": "b.ready", "id": "2", "timestamp": 20}], FakeRun)
    assert trigger.runs is None and trigger.run is None
    assert [e.name for e in trigger] == ["b.ready", "a.ready"] and trigger["a.ready"].id == "1"
