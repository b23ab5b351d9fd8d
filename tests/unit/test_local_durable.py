"""The embedded stack's durability, its pure parts: which requests the journal keeps, compaction, the lock."""

from __future__ import annotations

import pytest

from flowdrop.local.durable import StateDirLock, StateDirLockedError
from flowdrop.local.moto.journal import compact, request_kind

S3_AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/s3/aws4_request, ..."}


def _auth(service: str) -> dict[str, str]:
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20261203/us-east-1/{service}/aws4_request"}


@pytest.mark.parametrize(("method", "path", "query", "headers", "body", "kind"), [
    ("PUT", "/b/data/Flow/1/a.json", "", S3_AUTH, b"{}", "s3-object"),
    ("POST", "/b/packages/F/x.tar.gz", "uploadId=u1", S3_AUTH, b"", "s3-object"),  # a multipart upload completed
    ("PUT", "/b/packages/F/x.tar.gz", "partNumber=1&uploadId=u1", S3_AUTH, b"", None),
    ("POST", "/b/packages/F/x.tar.gz", "uploads=", S3_AUTH, b"", None),
    ("DELETE", "/b/k", "", S3_AUTH, b"", "s3-delete"),
    ("POST", "/b", "delete=", S3_AUTH, b"<Delete/>", "s3-delete-many"),
    ("PUT", "/b", "notification=", S3_AUTH, b"", "raw"),
    ("GET", "/b/k", "", S3_AUTH, b"", None),
    ("POST", "/", "", {"X-Amz-Target": "DynamoDB_20120810.PutItem"}, b"{}", "raw"),
    ("POST", "/", "", {"X-Amz-Target": "DynamoDB_20120810.Query"}, b"{}", None),
    ("POST", "/", "", {"X-Amz-Target": "AWSStepFunctions.UpdateStateMachineAlias"}, b"{}", "raw"),
    ("POST", "/", "", {"X-Amz-Target": "AWSStepFunctions.StartExecution"}, b"{}", None),
    ("POST", "/", "", {"X-Amz-Target": "AWSStepFunctions.SendTaskSuccess"}, b"{}", None),
    ("POST", "/", "", {"X-Amz-Target": "AmazonSQS.SendMessage"}, b"{}", None),
    ("POST", "/", "", {"X-Amz-Target": "AWSEvents.PutRule"}, b"{}", "raw"),
    ("POST", "/", "", {"X-Amz-Target": "AWSEvents.PutEvents"}, b"{}", None),
    ("POST", "/schedules/flowdrop-F", "", _auth("scheduler"), b"{}", "raw"),
    ("POST", "/", "", _auth("sns"), b"Action=CreateTopic&Name=t", "raw"),
    ("POST", "/", "", _auth("sns"), b"Action=Publish&Message=m", None),
    ("POST", "/v1/jobs", "", _auth("batch"), b"{}", None),
])
def test_the_journal_keeps_what_changes_durable_state_only(method, path, query, headers, body, kind):
    assert request_kind(method, path, query, headers, body) == kind


def test_compaction_keeps_the_last_write_of_each_object_and_the_order_of_the_rest():
    entries = [
        {"op": "raw", "path": "/", "n": 1},
        {"op": "s3-put", "bucket": "b", "key": "k", "blob": "one"},
        {"op": "s3-put", "bucket": "b", "key": "gone", "blob": "x"},
        {"op": "raw", "path": "/", "n": 2},
        {"op": "s3-put", "bucket": "b", "key": "k", "blob": "two"},
        {"op": "s3-delete", "bucket": "b", "key": "gone"},
    ]
    assert compact(entries) == [entries[0], entries[3], entries[4]]


def test_a_second_lock_on_a_state_dir_is_refused_naming_the_holder(tmp_path):
    first = StateDirLock(tmp_path).acquire()
    with pytest.raises(StateDirLockedError) as refused:
        StateDirLock(tmp_path).acquire()
    assert f"pid {__import__('os').getpid()}" in str(refused.value) and str(tmp_path) in str(refused.value)
    first.release()
    StateDirLock(tmp_path).acquire().release()  # free again once released


def test_a_redelivered_package_notification_reads_back_as_the_s3_one():
    from datetime import datetime, timezone

    from flowdrop.deployer.sqs_events import PackageNotification, package_notifications
    from flowdrop.local.redeliver import notification

    key = "packages/proj.main.TrainFlow/" + "a" * 64 + ".tar.gz"
    body = notification("bucket", {"Key": key, "ETag": '"e1"', "Size": 10,
                                   "LastModified": datetime(2026, 12, 3, tzinfo=timezone.utc)}, "us-east-1")
    assert "packages%2F" in body  # URL-encoded, as S3 sends it
    assert package_notifications(body) == [PackageNotification("bucket", key, "e1", "")]
