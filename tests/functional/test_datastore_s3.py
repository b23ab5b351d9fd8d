"""The S3 Storage backend on the session's moto server, open_storage, and FlowDatastore over S3.

The tests every backend runs are in tests/helpers/datastore.py; the folder
backend's run: tests/unit/test_datastore.py.
"""

from __future__ import annotations

import pytest

from flowdrop.datastore import FolderStorage, S3Storage, Storage, open_storage
from flowdrop.errors import DatastoreError
from tests.helpers.datastore import (  # noqa: F401  (the fixture flow_ds and the tests every backend runs)
    flow_ds, test_put_get_exists_overwrite, test_list_is_recursive_sorted_and_directory_like,
    test_list_children_names_keys_and_dirs, test_list_paginates, test_put_if_absent_keeps_the_first_value,
    test_missing_key_names_url_and_key, test_unsafe_keys_are_refused, test_location,
    test_artifacts_round_trip_and_dedup, test_unpicklable_artifact_is_named, test_missing_artifact_names_the_key,
    test_runs_and_their_order, test_attempts_done_logs, test_claim_attempt_takes_the_first_free_number_atomically,
    test_foreach_items, test_metadata_must_be_json, test_ids_cannot_escape_their_place,
    test_copy_artifacts_between_stores, test_done_json_with_its_attempt_record_is_one_read,
    test_empty_logs_are_not_written_and_read_empty, test_a_task_fetches_and_writes_each_blob_once,
    test_a_join_reads_its_inputs_artifact_ahead,
)


@pytest.fixture(params=["s3"])
def storage(aws, unique_name) -> Storage:
    client = aws.client("s3")
    client.create_bucket(Bucket=unique_name)
    return S3Storage(client, unique_name, "root/prefix")


def test_open_storage(tmp_path, monkeypatch, aws, unique_name):
    monkeypatch.chdir(tmp_path)
    relative = open_storage(".flowdrop")
    assert isinstance(relative, FolderStorage) and relative.root == tmp_path / ".flowdrop"
    assert open_storage(f"file://{tmp_path}/x").root == tmp_path / "x"
    aws.client("s3").create_bucket(Bucket=unique_name)
    s3 = open_storage(f"s3://{unique_name}/some/prefix/", aws)
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == (unique_name, "some/prefix")
    s3.put("k", b"v")
    assert aws.client("s3").get_object(Bucket=unique_name, Key="some/prefix/k")["Body"].read() == b"v"
    with pytest.raises(DatastoreError, match="unknown scheme"):
        open_storage("gs://bucket/x")
    with pytest.raises(DatastoreError, match="names no bucket"):
        open_storage("s3:///x", aws)


def test_s3_errors_name_the_operation_and_bucket(aws, unique_name):
    storage = S3Storage(aws.client("s3"), unique_name)  # the bucket was never created
    with pytest.raises(DatastoreError, match=f"PutObject s3://{unique_name}/k"):
        storage.put("k", b"v")
