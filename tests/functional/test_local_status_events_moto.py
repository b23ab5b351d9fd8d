"""local/status_events.py on moto: status changes become EventBridge events that a rule routes to a queue.

Also the canary of the gap it fills: moto itself emits no status event, so
the queue stays empty until the emitter polls (drop the emitter once it does).
"""

from __future__ import annotations

import json
import time

from flowdrop.local.resources import RUN_STATUS_PATTERN
from flowdrop.local.status_events import DETAIL_TYPE, SOURCE, StatusEventEmitter, status_event

PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}})
FAIL = json.dumps({"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "flowdrop.Boom",
                                                          "Cause": "line 1\nValueError: boom"}}})


def _queue_with_rule(aws, name: str) -> str:
    sqs, events = aws.client("sqs"), aws.client("events")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps(RUN_STATUS_PATTERN), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "alerts", "Arn": arn}])
    return url


def _run(aws, name: str, definition: str) -> str:
    sfn, iam = aws.client("stepfunctions"), aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    machine = sfn.create_state_machine(name=name, definition=definition, roleArn=role)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="api-1")["executionArn"]
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    return arn


def _received(aws, url: str) -> list[dict]:
    out = []
    for _ in range(5):
        got = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not got.get("Messages"):
            break
        out += [json.loads(m["Body"]) for m in got["Messages"]]
    return out


def test_run_ends_reach_the_queue_once_each_through_the_rule(aws, unique_name):
    url = _queue_with_rule(aws, unique_name)
    good = _run(aws, f"{unique_name}-good", PASS)
    bad = _run(aws, f"{unique_name}-bad", FAIL)
    assert _received(aws, url) == []  # moto emits nothing by itself (the gap this module fills)
    emitter = StatusEventEmitter(aws.client("stepfunctions"), aws.client("events"))
    mine: list = []
    for _ in range(10):  # the shared moto server holds other tests' executions too: poll until ours are seen
        emitter.poll_once()
        mine += [e for e in _received(aws, url) if e["detail"]["executionArn"] in (good, bad)]
        if len(mine) >= 2:
            break
    assert sorted(e["detail"]["status"] for e in mine) == ["FAILED", "SUCCEEDED"]
    failed = next(e for e in mine if e["detail"]["status"] == "FAILED")
    assert (failed["source"], failed["detail-type"], failed["resources"]) == (SOURCE, DETAIL_TYPE, [bad])
    assert (failed["detail"]["error"], failed["detail"]["cause"]) == ("flowdrop.Boom", "line 1\nValueError: boom")
    assert failed["detail"]["name"] == "api-1" and failed["detail"]["stateMachineArn"].endswith(f"{unique_name}-bad")
    emitter.poll_once()  # nothing changed: nothing again
    assert [e for e in _received(aws, url) if e["detail"]["executionArn"] in (good, bad)] == []


def test_status_event_shape():
    from datetime import datetime, timezone

    entry = status_event({"executionArn": "arn:e", "stateMachineArn": "arn:m", "name": "n", "status": "RUNNING",
                          "startDate": datetime(2026, 11, 25, 10, tzinfo=timezone.utc), "input": "{}"})
    detail = json.loads(entry["Detail"])
    assert (entry["Source"], entry["DetailType"], entry["Resources"]) == ("aws.states", DETAIL_TYPE, ["arn:e"])
    assert detail["startDate"] == 1795600800000 and detail["stopDate"] is None and detail["status"] == "RUNNING"
