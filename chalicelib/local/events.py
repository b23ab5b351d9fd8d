"""A stand-in for Lambda's SQS event source mapping: queue messages to a handler, in batches.

Owns: long-polling one queue, handing up to `batch_size` messages at a time
to a Lambda-style handler as the SQS event Lambda builds, and honouring the
partial batch response (ReportBatchItemFailures): successes are deleted,
listed failures (or the whole batch, when the handler raises or answers
garbage) stay in the queue, visible again after the visibility timeout, and
SQS's redrive policy moves them to the dead-letter queue after
maxReceiveCount. Does not own: the handler (app.py's `deploy`) or the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flowdrop.local.loop import RepeatingThread

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


def lambda_sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": dict(message.get("MessageAttributes", {})),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(response: Any, records: list[dict[str, Any]]) -> set[str]:
    """Which records failed, from a partial batch response (all of them if it is malformed)."""
    everything = {r["messageId"] for r in records}
    if response is None:
        return set()  # a handler returning nothing succeeded for the whole batch, as on AWS
    if not isinstance(response, Mapping) or not isinstance(response.get("batchItemFailures", []), list):
        return everything
    failed = set()
    for item in response.get("batchItemFailures", []):
        ident = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if ident not in everything:
            return everything  # AWS treats an unknown or empty identifier as a failure of the whole batch
        failed.add(ident)
    return failed


class SqsEventSource:
    """Polls `queue_url` and invokes `handler(event, context)` with batches of at most `batch_size`."""

    def __init__(self, sqs: Any, queue_url: str, queue_arn: str, handler: Handler, *,
                 context_factory: Callable[[], Any] = lambda: None, batch_size: int = 10,
                 wait_seconds: int = 1, region: str = "us-east-1"):
        if not 1 <= batch_size <= 10:
            raise ValueError(f"batch_size must be 1..10 for a standard queue, got {batch_size}")
        self.sqs, self.queue_url, self.queue_arn = sqs, queue_url, queue_arn
        self.handler = handler
        self.context_factory = context_factory
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.region = region
        self.delivered = 0  # messages handed to the handler (redeliveries count again)
        self.failed = 0
        self._loop = RepeatingThread("flowdrop-sqs-event-source", self.poll_once)

    def start(self) -> SqsEventSource:
        """Start polling in a background thread."""
        self._loop.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling after the batch in hand (if any) is handled."""
        self._loop.stop(timeout)

    def poll_once(self) -> int:
        """Receive one batch and deliver it; returns how many messages were delivered."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                            WaitTimeSeconds=self.wait_seconds, AttributeNames=["All"],
                                            MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return 0
        records = [lambda_sqs_record(m, self.queue_arn, self.region) for m in messages]
        return self.deliver(records)

    def deliver(self, records: list[dict[str, Any]]) -> int:
        """Invoke the handler with these records; delete the ones it did not report as failed."""
        self.delivered += len(records)
        try:
            response = self.handler({"Records": records}, self.context_factory())
            failed = failed_message_ids(response, records)
        except Exception:  # noqa: BLE001 - a raising handler fails the whole batch, as on Lambda
            log.exception("the handler of %s raised; the whole batch of %d will be redelivered",
                          self.queue_url, len(records))
            failed = {r["messageId"] for r in records}
        self.failed += len(failed)
        if failed:
            log.warning("%d of %d messages from %s failed; SQS redelivers them after the visibility timeout",
                        len(failed), len(records), self.queue_url)
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"])
        return len(records)
