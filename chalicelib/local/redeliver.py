"""After a restart, packages the last stack never finished deploying are delivered to the deploy handler again.

Owns: finding the packages in the bucket that have no deployment record
(uploaded while the stack stopped or died, or whose deploy it cut short:
its SQS message is gone, since queues are not journaled), clearing the
"in progress" idempotency records a dead stack left (at start no deploy
runs, and one stack holds the state dir, so every such record is stale; on
AWS the dead Lambda's record expires with its timeout instead), and sending
each such package's S3 notification to the deploy queue again, shaped as
S3 sends it. The deploy it starts then finishes what was cut short
(deployer/plan.py takes a version already published). Does not own: the
deploy (deployer/) or the journal (local/moto/journal.py).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote_plus

from flowdrop.deployer.clients import AWS_ERRORS
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.store import DeploymentStore
from flowdrop.errors import PackageError
from flowdrop.model import names

log = logging.getLogger(__name__)

_IN_PROGRESS = "INPROGRESS"  # Powertools idempotency's status while a call runs


def clear_stale_in_progress(dynamodb: Any, table: str) -> int:
    """Delete the idempotency records still marked in progress; how many there were."""
    cleared = 0
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table, FilterExpression="#s = :p", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": _IN_PROGRESS}})
    for page in pages:
        for item in page.get("Items", []):
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})
            cleared += 1
    return cleared


def undeployed_packages(s3: Any, store: DeploymentStore, settings: DeployerSettings) -> list[dict[str, Any]]:
    """The package objects (list_objects_v2 entries) whose code has no deployment record."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=settings.package_prefix):
        for entry in page.get("Contents", []):
            try:
                flow, sha = names.parse_package_key(settings.package_prefix, entry["Key"])
            except PackageError:
                continue  # not a package key: the deployer would ignore its notification too
            if store.get_record(flow, sha) is None:
                found.append(entry)
    return found


def notification(bucket: str, entry: dict[str, Any], region: str) -> str:
    """The SQS body S3 sends for an ObjectCreated:Put of `entry` (its key URL-encoded, as S3 does)."""
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": region, "eventName": "ObjectCreated:Put",
        "eventTime": entry["LastModified"].isoformat(),
        "s3": {"bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(entry["Key"]), "size": entry.get("Size", 0),
                          "eTag": str(entry.get("ETag", "")).strip('"')}},
    }]})


def redeliver_undeployed(clients: Any, sqs: Any, queue_url: str, settings: DeployerSettings) -> list[str]:
    """Clear stale in-progress deploys, then queue the notification of every undeployed package; their keys."""
    try:
        cleared = clear_stale_in_progress(clients.dynamodb, settings.idempotency_table)
        store = DeploymentStore(clients.dynamodb, settings.deployments_table)
        pending = undeployed_packages(clients.s3, store, settings)
        for entry in pending:
            sqs.send_message(QueueUrl=queue_url, MessageBody=notification(settings.bucket, entry, settings.aws.region))
    except AWS_ERRORS:
        log.exception("could not look for packages left undeployed by the last stop; upload them again if needed")
        return []
    if cleared or pending:
        log.warning("after the restart: %d deploy(s) cut short were cleared; %d package(s) without a deployment "
                    "record delivered again: %s", cleared, len(pending), [e["Key"] for e in pending])
    return [entry["Key"] for entry in pending]
