"""Metaflow's S3 client (`from flowdrop import S3`) against the moto server over HTTP: Metaflow's names and answers."""

from __future__ import annotations

import os

import pytest

from flowdrop import S3
from flowdrop.datatools import MetaflowS3NotFound, MetaflowS3URLException


@pytest.fixture
def root(aws, unique_name):
    aws.client("s3").create_bucket(Bucket=unique_name)
    return f"s3://{unique_name}/data"


def test_put_then_get_as_metaflows_s3_answers(aws, root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path), external_client=aws.client("s3")) as s3:
        url = s3.put("models/a.txt", "hello", metadata={"who": "me"}, content_type="text/plain")
        assert url == f"{root}/models/a.txt"
        obj = s3.get("models/a.txt")
        assert (obj.key, obj.url, obj.text, obj.blob, obj.size) == ("models/a.txt", url, "hello", b"hello", 5)
        assert obj.exists and obj.downloaded and obj.has_info and obj.metadata == {"who": "me"}
        assert obj.content_type == "text/plain" and isinstance(obj.last_modified, int)
        assert open(obj.path, "rb").read() == b"hello"
        s3.put("models/a.txt", b"again", overwrite=False)  # kept
        assert s3.get("models/a.txt").text == "hello"
        folder = os.path.dirname(obj.path)
    assert os.path.dirname(folder) == str(tmp_path) and not os.path.exists(folder)  # downloads removed at exit


def test_many_recursive_and_listing(aws, root, tmp_path):
    (tmp_path / "f.bin").write_bytes(b"\x00\x01")
    with S3(s3root=root, tmproot=str(tmp_path), external_client=aws.client("s3")) as s3:
        put = s3.put_many([("x/1", "one"), ("x/2", "two"), ("y/3", b"three")])
        assert [key for key, _ in put] == ["x/1", "x/2", "y/3"]
        assert s3.put_files([("z/f.bin", str(tmp_path / "f.bin"))]) == [("z/f.bin", f"{root}/z/f.bin")]
        assert [o.text for o in s3.get_many(["x/2", "x/1"])] == ["two", "one"]
        assert sorted(o.key for o in s3.get_all()) == ["x/1", "x/2", "y/3", "z/f.bin"]
        assert sorted(o.key for o in s3.get_recursive(["x"])) == ["x/1", "x/2"]
        top = s3.list_paths()
        assert sorted(o.key for o in top) == ["x", "y", "z"] and not any(o.exists for o in top)
        assert [(o.key, o.size) for o in s3.list_paths(["x"])] == [("x/1", 3), ("x/2", 3)]
        assert len(s3.list_recursive()) == 4
        assert s3.info("y/3").size == 5 and not s3.info("y/3").downloaded


def test_a_missing_key_raises_or_answers_missing(aws, root, tmp_path):
    with S3(s3root=root, tmproot=str(tmp_path), external_client=aws.client("s3")) as s3:
        with pytest.raises(MetaflowS3NotFound, match="nope does not exist"):
            s3.get("nope")
        assert not s3.get("nope", return_missing=True).exists
        assert [o.exists for o in s3.info_many(["nope"], return_missing=True)] == [False]


def test_full_urls_only_without_a_root_and_run_needs_a_running_step(aws, root, tmp_path):
    with S3(tmproot=str(tmp_path), external_client=aws.client("s3")) as s3:
        s3.put(f"{root}/k", "v")
        assert s3.get(f"{root}/k").text == "v"
        with pytest.raises(MetaflowS3URLException, match="not a full s3:// URL"):
            s3.get("k")
    with pytest.raises(MetaflowS3URLException, match="s3root needs to be an S3 URL"):
        S3(s3root="/tmp/x")
    from flowdrop import FlowSpec

    with pytest.raises(MetaflowS3URLException, match="inside a running step"):
        S3(run=FlowSpec.__new__(FlowSpec), tmproot=str(tmp_path))
