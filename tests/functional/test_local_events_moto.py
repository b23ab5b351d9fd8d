"""The embedded stack's SQS event source on the session's moto server: batches of ten, the redrive to the DLQ."""

from __future__ import annotations

import json
import time

import pytest

from flowdrop.local.events import SqsEventSource


@pytest.mark.slow
def test_batches_of_at_most_ten_and_failures_go_to_the_dead_letter_queue(aws, unique_name):
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{unique_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=unique_name, Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    for i in range(14):
        sqs.send_message(QueueUrl=queue, MessageBody="bad" if i == 0 else f"good-{i}")
    batches: list[list[str]] = []

    def handler(event, ctx):
        bodies = [r["body"] for r in event["Records"]]
        batches.append(bodies)
        assert all(r["eventSource"] == "aws:sqs" and r["eventSourceARN"].endswith(unique_name)
                   for r in event["Records"])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                      if r["body"] == "bad"]}

    source = SqsEventSource(aws.client("sqs"), queue, "arn:aws:sqs:us-east-1:123456789012:" + unique_name, handler,
                            wait_seconds=1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        source.poll_once()
        in_dlq = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0, VisibilityTimeout=0).get("Messages", [])
        if in_dlq:
            break
    assert [m["Body"] for m in in_dlq] == ["bad"]
    assert max(len(b) for b in batches) <= 10
    goods = [body for batch in batches for body in batch if body != "bad"]
    assert sorted(goods) == sorted(f"good-{i}" for i in range(1, 14))  # each success delivered once
    assert sum(batch.count("bad") for batch in batches) == 2  # maxReceiveCount deliveries, then the DLQ
