"""The deploy Lambda's event: an SQS batch of S3 ObjectCreated notifications.

Owns: reading S3 notifications out of SQS messages (skipping `s3:TestEvent`,
URL-decoding keys), processing a batch with Powertools' BatchProcessor so
one failing message does not fail the others (the response lists only the
failed message ids; the event source mapping must have
ReportBatchItemFailures on), and Powertools idempotency keyed on bucket,
key, ETag and version, so a redelivered notification (or the two events of
a multipart upload) is one deployment. Does not own: deploying (deploy.py).

Retry policy: a bad package is recorded FAILED by deploy_package and the
message counts as processed; an AWS error (DeployError) fails just that
message, which SQS redelivers and finally moves to the dead-letter queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from flowdrop.deployer.clients import Clients
from flowdrop.deployer.deploy import deploy_package
from flowdrop.deployer.settings import DeployerSettings

logger = logging.getLogger(__name__)

# How long a finished deployment answers redeliveries from the idempotency
# record; later ones deploy again and come out DUPLICATE anyway.
IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class PackageNotification:
    """One object-created notification: which object, in which version."""

    bucket: str
    key: str
    etag: str = ""
    version_id: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON form (also the idempotency payload)."""
        return asdict(self)


def package_notifications(body: str) -> list[PackageNotification]:
    """The ObjectCreated notifications in an SQS message body; [] for a test event or anything else."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        logger.warning("ignoring an SQS message that is not JSON: %.200s", body)
        return []
    if not isinstance(message, dict) or message.get("Event") == "s3:TestEvent":
        return []
    out = []
    for record in message.get("Records") or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        obj = s3.get("object") or {}
        bucket, key = (s3.get("bucket") or {}).get("name"), obj.get("key")
        if not bucket or not key:
            logger.warning("ignoring an S3 notification without bucket or key: %.200s", record)
            continue
        note = PackageNotification(bucket, unquote_plus(key), str(obj.get("eTag") or "").strip('"'),
                                   str(obj.get("versionId") or ""))
        if note not in out:  # a multipart upload can notify twice in one message
            out.append(note)
    return out


def handle_package_batch(event: dict[str, Any], clients: Clients, settings: DeployerSettings,
                         clock: Callable[[], datetime], lambda_context: Any = None) -> dict[str, Any]:
    """Deploy every package notified in an SQS batch; returns the partial batch response."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    deploy_once = idempotent_deployer(clients, settings, clock, lambda_context)

    def record_handler(record: Any) -> list[dict[str, Any]]:
        return [deploy_once(notification=note.to_dict()) for note in package_notifications(record.body)]

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=lambda_context)


def idempotent_deployer(clients: Clients, settings: DeployerSettings, clock: Callable[[], datetime],
                        lambda_context: Any = None) -> Callable[..., dict[str, Any]]:
    """deploy_package wrapped so one notification (bucket, key, ETag, version) deploys once."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=clients.dynamodb)
    config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_SECONDS, raise_on_no_idempotency_key=True)
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="notification", persistence_store=persistence, config=config,
                         key_prefix="flowdrop-deploy")
    def deploy_once(notification: dict[str, Any]) -> dict[str, Any]:
        record = deploy_package(notification["bucket"], notification["key"], clients, settings, clock())
        return record.to_dict()

    return deploy_once
