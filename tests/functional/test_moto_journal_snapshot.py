"""The journal's snapshot of a running execution (local/moto/journal.py): only new events are encoded.

Against a moto server with a state dir (it journals): a Map of callback tasks stays
RUNNING while the test answers its tokens one by one; after each answer the snapshot's
history is exactly what GetExecutionHistory says, and once the run ended too. The
canary fails once moto's EventManager stops keeping its events where the snapshot reads them.
"""

from __future__ import annotations

import inspect
import json
import time

from flowdrop.local.moto.server import start_moto_server

ROLE = "arn:aws:iam::123456789012:role/flowdrop-test"


def test_stock_event_manager_still_appends_to_its_list_under_its_mutex():
    # Canary: when this fails, the snapshot's incremental read (executions._running_events) must be redone.
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    assert "return copy.deepcopy(self._history_event_list)" in inspect.getsource(EventManager.get_event_history)
    assert "self._history_event_list.append(history_event)" in inspect.getsource(EventManager)
    assert "with self._mutex:" in inspect.getsource(EventManager.add_event)


def _history(sfn, arn: str) -> list[tuple]:
    events = sfn.get_execution_history(executionArn=arn)["events"]
    return [(e["id"], e.get("previousEventId"), e["type"]) for e in events]


def _snapshot_history(server, state_dir, arn: str) -> tuple[str, list[tuple]]:
    server.snapshot_journal()
    records = json.loads((state_dir / "moto" / "executions.json").read_text())
    record = next(r for r in records if r["arn"] == arn)
    return record["status"], [(e["id"], e.get("previousEventId"), e["type"]) for e in record["history"]]


def test_a_running_snapshot_has_every_event_as_it_grows(tmp_path):
    from flowdrop.aws import AwsConfig

    server = start_moto_server(state_dir=str(tmp_path))
    try:
        server.restore_journal()
        aws = AwsConfig(endpoint_url=server.endpoint_url)
        sqs, sfn = aws.client("sqs"), aws.client("stepfunctions")
        url = sqs.create_queue(QueueName="tokens")["QueueUrl"]
        task = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token", "item.$": "$"}},
                "End": True}
        definition = {"StartAt": "M", "States": {"M": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
            "ItemProcessor": {"StartAt": "T", "States": {"T": task}}, "End": True}}}
        machine = sfn.create_state_machine(name="snap", definition=json.dumps(definition), roleArn=ROLE)
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="r1",
                                  input=json.dumps({"items": [1, 2, 3]}))["executionArn"]
        tokens: list[str] = []
        while len(tokens) < 3:
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5).get(
                    "Messages", []):
                tokens.append(json.loads(message["Body"])["token"])
        for token in tokens:
            # Events are only appended: the history read before the snapshot is a prefix of it, and it of the
            # history read after (the run goes on meanwhile).
            before = _history(sfn, arn)
            status, events = _snapshot_history(server, tmp_path, arn)
            after = _history(sfn, arn)
            assert status == "RUNNING"
            assert events[:len(before)] == before and after[:len(events)] == events
            sfn.send_task_success(taskToken=token, output=json.dumps({"ok": token[:8]}))
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            time.sleep(0.05)
        status, events = _snapshot_history(server, tmp_path, arn)
        assert status == "SUCCEEDED" and events == _history(sfn, arn) and events[-1][2] == "ExecutionSucceeded"
    finally:
        server.stop()
