"""The folder Storage backend and FlowDatastore over it.

The tests every backend runs are in tests/helpers/datastore.py; the same
tests against S3 on the session's moto server: tests/functional/test_datastore_s3.py.
"""

from __future__ import annotations

import threading

import pytest

from flowdrop.datastore import FolderStorage, Storage
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


@pytest.fixture(params=["folder"])
def storage(tmp_path) -> Storage:
    return FolderStorage(tmp_path / "store")


def test_folder_put_leaves_no_temp_files_and_concurrent_put_if_absent_has_one_winner(tmp_path):
    storage = FolderStorage(tmp_path)
    wins: dict[int, bool] = {}

    def write(i: int) -> None:
        wins[i] = storage.put_if_absent("race/key", str(i).encode())

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [i for i, won in wins.items() if won]
    assert len(winners) == 1
    assert storage.get("race/key") == str(winners[0]).encode()
    assert sorted(p.name for p in (tmp_path / "race").iterdir()) == ["key"]
