"""What every Storage backend must do, and FlowDatastore over it: test functions the backends' test modules share.

Not collected here (no test_ prefix on the file): tests/unit/test_datastore.py
(the folder backend) and tests/functional/test_datastore_s3.py (S3 on the
session's moto server) each import these functions and `flow_ds`, and define
the `storage` fixture they run against, so each test runs once per backend.
"""

from __future__ import annotations

import json
import threading

import pytest

from flowdrop.datastore import FlowDatastore, FolderStorage, S3Storage, Storage
from flowdrop.errors import DatastoreError, MissingKey


@pytest.fixture
def flow_ds(storage) -> FlowDatastore:
    return FlowDatastore(storage, "TrainFlow")


# --- Storage ---------------------------------------------------------------------


def test_put_get_exists_overwrite(storage):
    assert not storage.exists("a/b/c.json")
    storage.put("a/b/c.json", b"one")
    assert storage.exists("a/b/c.json")
    assert storage.get("a/b/c.json") == b"one"
    storage.put("a/b/c.json", b"two")
    assert storage.get("a/b/c.json") == b"two"
    assert not storage.exists("a/b")  # a 'directory' is not a key


def test_list_is_recursive_sorted_and_directory_like(storage):
    for key in ["x/b/2", "x/a", "x/b/1", "xy/z", "top"]:
        storage.put(key, key.encode())
    assert storage.list("x") == ["x/a", "x/b/1", "x/b/2"]
    assert storage.list("x/") == ["x/a", "x/b/1", "x/b/2"]
    assert storage.list("") == ["top", "x/a", "x/b/1", "x/b/2", "xy/z"]
    assert storage.list("nothing") == []


def test_list_children_names_keys_and_dirs(storage):
    for key in ["runs/2/run.json", "runs/10/start/start/done.json", "runs/1/run.json", "runs/readme"]:
        storage.put(key, b"{}")
    assert storage.list_children("runs") == ["1", "10", "2", "readme"]
    assert storage.list_children("runs/10") == ["start"]
    assert storage.list_children("") == ["runs"]
    assert storage.list_children("missing") == []


def test_list_paginates(storage):
    if isinstance(storage, S3Storage):
        storage.page_size = 2  # S3 pages hold up to 1,000 keys; make several pages out of 7
    for i in range(5):
        storage.put(f"many/{i}", b"")
    storage.put("many/sub/a", b"")
    storage.put("many/sub/b", b"")
    assert storage.list("many") == ["many/0", "many/1", "many/2", "many/3", "many/4", "many/sub/a", "many/sub/b"]
    assert storage.list_children("many") == ["0", "1", "2", "3", "4", "sub"]


def test_put_if_absent_keeps_the_first_value(storage):
    assert storage.put_if_absent("k/once", b"first") is True
    assert storage.put_if_absent("k/once", b"second") is False
    assert storage.get("k/once") == b"first"


def test_missing_key_names_url_and_key(storage):
    with pytest.raises(MissingKey) as info:
        storage.get("no/such/key")
    assert isinstance(info.value, DatastoreError)
    assert "no/such/key" in str(info.value)
    assert storage.url in str(info.value)


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ""])
def test_unsafe_keys_are_refused(storage, key):
    with pytest.raises(DatastoreError, match="invalid datastore key"):
        storage.put(key, b"x")


def test_location(storage):
    if isinstance(storage, S3Storage):
        assert storage.location("a/b") == {"Bucket": storage.bucket, "Key": "root/prefix/a/b"}
        assert storage.url == f"s3://{storage.bucket}/root/prefix"
    else:
        assert storage.location("a/b") is None
        assert storage.url.startswith("file:///")


# --- FlowDatastore ---------------------------------------------------------------


class Unpicklable:
    def __reduce__(self):
        raise TypeError("no pickling here")


def test_artifacts_round_trip_and_dedup(flow_ds, storage):
    shas = flow_ds.save_artifacts({"x": 1, "y": [1, 2], "same_as_x": 1, "df": {"a": (1.5, None)}})
    assert shas["x"] == shas["same_as_x"] != shas["y"]
    assert len(storage.list("TrainFlow/data")) == 3
    again = flow_ds.save_artifacts({"z": [1, 2]})
    assert again["z"] == shas["y"]
    assert len(storage.list("TrainFlow/data")) == 3
    assert flow_ds.load_artifact(shas["y"]) == [1, 2]
    assert flow_ds.load_artifact(shas["df"]) == {"a": (1.5, None)}
    sha = shas["x"]
    assert storage.list("TrainFlow/data").count(f"TrainFlow/data/{sha[:2]}/{sha}") == 1


def test_unpicklable_artifact_is_named(flow_ds):
    with pytest.raises(DatastoreError, match="artifact 'model'"):
        flow_ds.save_artifacts({"ok": 1, "model": Unpicklable()})


def test_missing_artifact_names_the_key(flow_ds):
    sha = "ab" * 32
    with pytest.raises(MissingKey, match=f"TrainFlow/data/ab/{sha}"):
        flow_ds.load_artifact(sha)


def test_runs_and_their_order(flow_ds):
    assert flow_ds.list_runs() == []
    flow_ds.write_run("1", {"run_id": "1", "created": "2026-01-01T00:00:00+00:00", "tags": ["user:a"]})
    flow_ds.write_run("2", {"run_id": "2", "created": "2026-03-01T00:00:00+00:00"})
    flow_ds.write_run("3", {"run_id": "3", "created": "2026-02-01T00:00:00+00:00"})
    flow_ds.write_run("4", {"run_id": "4", "created": "2026-03-01T00:00:00+00:00"})
    assert flow_ds.list_runs() == ["4", "2", "3", "1"]
    assert flow_ds.read_run("1")["tags"] == ["user:a"]
    assert flow_ds.read_run("nope") is None
    assert flow_ds.ensure_run("1", {"run_id": "other"}) is False
    assert flow_ds.read_run("1")["run_id"] == "1"
    assert flow_ds.ensure_run("sfn-x", {"run_id": "sfn-x", "created": "2027-01-01T00:00:00+00:00"}) is True
    assert flow_ds.list_runs()[0] == "sfn-x"
    assert flow_ds.read_run_status("1") is None
    flow_ds.write_run_status("1", {"status": "failed", "failed_step": "fit"})
    assert flow_ds.read_run_status("1") == {"status": "failed", "failed_step": "fit"}
    assert flow_ds.list_steps("1") == []


def test_attempts_done_logs(flow_ds):
    assert flow_ds.next_attempt("1", "fit", "fit-0") == 0
    assert flow_ds.read_done("1", "fit", "fit-0") is None
    shas = flow_ds.save_artifacts({"score": 0.5})
    flow_ds.write_attempt("1", "fit", "fit-0", 0, {"status": "failed", "attempt": 0, "exception": "boom"})
    flow_ds.save_logs("1", "fit", "fit-0", 0, b"out0", b"err0")
    flow_ds.write_attempt("1", "fit", "fit-0", 1, {"status": "succeeded", "attempt": 1, "artifacts": shas})
    flow_ds.save_logs("1", "fit", "fit-0", 1, b"out1", b"")
    flow_ds.write_attempt("1", "fit", "fit-10", 0, {"status": "running", "attempt": 0})
    flow_ds.write_attempt("1", "start", "start", 0, {"status": "running", "attempt": 0})
    assert flow_ds.list_attempts("1", "fit", "fit-0") == [0, 1]
    assert flow_ds.next_attempt("1", "fit", "fit-0") == 2
    assert flow_ds.read_attempt("1", "fit", "fit-0", 0)["exception"] == "boom"
    assert flow_ds.read_attempt("1", "fit", "fit-0", 5) is None
    assert flow_ds.list_steps("1") == ["fit", "start"]
    assert flow_ds.list_tasks("1", "fit") == ["fit-0", "fit-10"]

    flow_ds.mark_done("1", "fit", "fit-0", 1, {"caught": False})
    done = flow_ds.read_done("1", "fit", "fit-0")
    assert done["attempt"] == 1 and done["status"] == "succeeded" and done["caught"] is False
    assert done["artifacts"] == shas
    assert flow_ds.read_done_record("1", "fit", "fit-0") == {"caught": False, "attempt": 1}  # done.json alone
    assert flow_ds.read_done_record("1", "fit", "fit-10") is None
    assert flow_ds.load_task_artifacts("1", "fit", "fit-0") == {"score": 0.5}
    with pytest.raises(DatastoreError, match="TrainFlow/1/fit/fit-10"):
        flow_ds.load_task_artifacts("1", "fit", "fit-10")

    assert flow_ds.load_logs("1", "fit", "fit-0") == (b"out1", b"")
    assert flow_ds.load_logs("1", "fit", "fit-0", 0) == (b"out0", b"err0")
    assert flow_ds.load_logs("1", "fit", "fit-10") == (b"", b"")
    assert flow_ds.load_logs("1", "nope", "nope") == (b"", b"")
    # Logs and done.json are not attempts.
    assert flow_ds.next_attempt("1", "fit", "fit-0") == 2


def test_claim_attempt_takes_the_first_free_number_atomically(flow_ds):
    assert flow_ds.claim_attempt("1", "fit", "fit-0", {"status": "running"}) == 0
    assert flow_ds.claim_attempt("1", "fit", "fit-0", {"status": "running"}) == 1
    assert flow_ds.read_attempt("1", "fit", "fit-0", 1) == {"status": "running", "attempt": 1}
    # A hint skips the numbers below it (Step Functions' retry count).
    assert flow_ds.claim_attempt("1", "fit", "fit-0", {"status": "running"}, first=3) == 3
    assert flow_ds.claim_attempt("1", "fit", "fit-0", {"status": "running"}, first=1) == 2
    assert flow_ds.list_attempts("1", "fit", "fit-0") == [0, 1, 2, 3]
    # Two deliveries of one task racing: each gets its own attempt.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: flow_ds.claim_attempt("1", "end", "end", {"status": "running"}), range(4)))
    assert sorted(got) == [0, 1, 2, 3]


def test_foreach_items(flow_ds, storage):
    location = flow_ds.write_foreach_items("1", "start", "start", 3)
    key = "TrainFlow/runs/1/start/start/foreach-items.json"
    assert json.loads(storage.get(key)) == [{"index": 0}, {"index": 1}, {"index": 2}]
    if isinstance(storage, S3Storage):
        assert location == {"Bucket": storage.bucket, "Key": f"root/prefix/{key}"}
        body = storage.client.get_object(**location)["Body"].read()
        assert json.loads(body)[2] == {"index": 2}
    else:
        assert location is None


def test_metadata_must_be_json(flow_ds):
    with pytest.raises(DatastoreError, match="run.json: metadata is not JSON"):
        flow_ds.write_run("1", {"created": object()})


@pytest.mark.parametrize("bad", ["a/b", "..", ""])
def test_ids_cannot_escape_their_place(flow_ds, bad):
    with pytest.raises(DatastoreError, match="invalid run id"):
        flow_ds.read_run(bad)


def test_copy_artifacts_between_stores(flow_ds, tmp_path):
    origin = FlowDatastore(FolderStorage(tmp_path / "origin"), "TrainFlow")
    shas = origin.save_artifacts({"a": "alpha", "b": [2]})
    flow_ds.copy_artifacts_from(origin, shas.values())
    flow_ds.copy_artifacts_from(origin, shas.values())  # again: nothing changes
    assert flow_ds.load_artifact(shas["a"]) == "alpha" and flow_ds.load_artifact(shas["b"]) == [2]
    assert len(flow_ds.storage.list("TrainFlow/data")) == 2


# --- few requests per task ------------------------------------------------------


class CountingStorage(Storage):
    """A Storage in front of another that counts the requests of each kind (a fake of our own interface)."""

    def __init__(self, inner: Storage, concurrent: bool | None = None):
        self.inner, self.url = inner, inner.url
        self.prefers_concurrent_reads = inner.prefers_concurrent_reads if concurrent is None else concurrent
        self.gets: list[str] = []
        self.puts: list[str] = []
        self._lock = threading.Lock()

    def put(self, key, data):
        with self._lock:
            self.puts.append(key)
        self.inner.put(key, data)

    def put_if_absent(self, key, data):
        with self._lock:
            self.puts.append(key)
        return self.inner.put_if_absent(key, data)

    def get(self, key):
        with self._lock:
            self.gets.append(key)
        return self.inner.get(key)

    def exists(self, key):
        return self.inner.exists(key)

    def list(self, prefix):
        return self.inner.list(prefix)

    def list_children(self, prefix):
        return self.inner.list_children(prefix)

    def location(self, key):
        return self.inner.location(key)


def test_done_json_with_its_attempt_record_is_one_read(storage):
    counting = CountingStorage(storage)
    ds = FlowDatastore(counting, "TrainFlow")
    record = {"status": "succeeded", "attempt": 0, "artifacts": {"x": "ab" * 32}, "foreach_stack": []}
    ds.write_attempt("1", "fit", "fit-0", 0, record)
    ds.mark_done("1", "fit", "fit-0", 0, {"foreach_count": None, "status": "succeeded"}, record=record)
    counting.gets.clear()
    done = ds.read_done("1", "fit", "fit-0")
    assert done == {**record, "foreach_count": None, "status": "succeeded", "attempt": 0}
    assert len(counting.gets) == 1 and counting.gets[0].endswith("done.json")
    # Without the record (a done.json written before, or a record too big to copy): done.json, then the attempt.
    ds.mark_done("1", "fit", "fit-1", 0, {"status": "succeeded"}, record={"artifacts": {"x": "y" * 40_000}})
    ds.write_attempt("1", "fit", "fit-1", 0, {"status": "succeeded", "attempt": 0, "artifacts": {"x": "z"}})
    counting.gets.clear()
    assert ds.read_done("1", "fit", "fit-1")["artifacts"] == {"x": "z"}
    assert len(counting.gets) == 2
    many = ds.read_done_many("1", [("fit", "fit-1"), ("fit", "nope"), ("fit", "fit-0")])
    assert many == [ds.read_done("1", "fit", "fit-1"), None, done]


def test_empty_logs_are_not_written_and_read_empty(storage):
    counting = CountingStorage(storage)
    ds = FlowDatastore(counting, "TrainFlow")
    ds.write_attempt("1", "fit", "fit-0", 0, {"status": "succeeded", "attempt": 0})
    counting.puts.clear()
    ds.save_logs("1", "fit", "fit-0", 0, b"", b"")
    ds.save_logs("1", "fit", "fit-1", 0, b"", b"warning\n")
    assert [key.rsplit("/", 2)[-2:] for key in counting.puts] == [["fit-1", "attempt-0.stderr"]]
    assert ds.load_logs("1", "fit", "fit-0") == (b"", b"")
    assert ds.load_logs("1", "fit", "fit-1", 0) == (b"", b"warning\n")


def test_a_task_fetches_and_writes_each_blob_once(storage):
    counting = CountingStorage(storage)
    ds = FlowDatastore(counting, "TrainFlow")
    ds.cache_blobs()
    shas = ds.save_artifacts({"item": [1, 2], "copy": [1, 2]})
    assert shas["item"] == shas["copy"] and len(counting.puts) == 1
    ds.save_artifacts({"again": [1, 2]})
    assert len(counting.puts) == 1
    first, second = ds.load_artifact(shas["item"]), ds.load_artifact(shas["item"])
    assert first == second == [1, 2] and first is not second  # each use unpickles its own value
    assert counting.gets == []
    # Off by default (a long-lived client keeps nothing): every load reads the store.
    plain = FlowDatastore(counting, "TrainFlow")
    plain.load_artifact(shas["item"])
    plain.load_artifact(shas["item"])
    assert len(counting.gets) == 2


def test_a_join_reads_its_inputs_artifact_ahead(storage):
    from flowdrop.datastore.flow import READAHEAD

    writer = FlowDatastore(storage, "TrainFlow")
    shas = [writer.save_artifacts({"score": i})["score"] for i in range(READAHEAD + 4)]
    counting = CountingStorage(storage, concurrent=True)
    ds = FlowDatastore(counting, "TrainFlow")
    ds.cache_blobs()
    ds.read_together([shas])
    assert ds.load_artifact(shas[0]) == 0
    assert len(counting.gets) == READAHEAD  # the first READAHEAD inputs' blobs, read at once
    assert [ds.load_artifact(sha) for sha in shas[:READAHEAD]] == list(range(READAHEAD))
    assert len(counting.gets) == READAHEAD
    assert [ds.load_artifact(sha) for sha in shas] == list(range(READAHEAD + 4))
    assert sorted(counting.gets) == sorted({g for g in counting.gets}) and len(counting.gets) == len(shas)
