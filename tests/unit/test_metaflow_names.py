"""Metaflow's top-level names beyond the SDK proper: `profile`, and those flowdrop lacks, which refuse when used."""

from __future__ import annotations

import time

import pytest

import flowdrop


def test_profile_prints_start_and_time_or_adds_to_the_stats_dict(capsys):
    from flowdrop import profile

    with profile("fit"):
        time.sleep(0.02)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PROFILE: fit starting"
    assert out[1].startswith("PROFILE: fit completed in ") and int(out[1].split(" in ")[1][:-2]) >= 20
    stats: dict[str, int] = {}
    for _ in range(2):
        with profile("load", stats):
            time.sleep(0.01)
    assert capsys.readouterr().out == "" and stats["load"] >= 20


def test_metaflows_names_flowdrop_lacks_import_and_refuse_when_used_saying_what_to_do():
    from flowdrop import get_metadata, metadata, parallel
    from flowdrop.errors import DecoratorError, FlowdropError

    assert all(hasattr(flowdrop, name) for name in ("S3", "parallel", "get_metadata", "metadata"))
    with pytest.raises(FlowdropError, match="no metadata service"):
        metadata("service@http://x")
    assert get_metadata().startswith("local@")  # refusing the service changed nothing
    with pytest.raises(DecoratorError, match=r"test_metaflow_names.py:\d+: flowdrop does not offer Metaflow's "
                                             r"@parallel: .*use a foreach"):
        parallel(lambda self: None)
    with pytest.raises(AttributeError):
        flowdrop.no_such_name  # noqa: B018  (anything else is the usual AttributeError)


def test_get_metadata_and_metadata_answer_with_the_datastore_as_metaflows_local_provider(tmp_path):
    from flowdrop import client, get_metadata, metadata

    try:
        assert metadata(f"local@{tmp_path}") == f"local@{tmp_path}"
        assert get_metadata() == f"local@{tmp_path}"
        assert client.reading.storages()[0].url == tmp_path.as_uri()  # where the client now reads runs
        client.set_datastore("s3://some-bucket/runs")
        assert get_metadata() == "s3@s3://some-bucket/runs"
        metadata("local")  # back to the configured datastore
        assert get_metadata() != f"local@{tmp_path}"
        with pytest.raises(ValueError, match=r"metadata\('mongo@x'\): give 'local'"):
            metadata("mongo@x")
    finally:
        client.set_datastore(None)
