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
    from flowdrop import S3, get_metadata, metadata, parallel
    from flowdrop.errors import DecoratorError, FlowdropError

    assert all(hasattr(flowdrop, name) for name in ("S3", "parallel", "get_metadata", "metadata"))
    with pytest.raises(FlowdropError, match="flowdrop does not offer Metaflow's S3: use boto3 in the step"):
        S3(run=None)
    with pytest.raises(FlowdropError, match="no metadata service"):
        get_metadata()
    with pytest.raises(FlowdropError, match="no metadata service"):
        metadata("service@http://x")
    with pytest.raises(DecoratorError, match=r"test_metaflow_names.py:\d+: flowdrop does not offer Metaflow's "
                                             r"@parallel: .*use a foreach"):
        parallel(lambda self: None)
    with pytest.raises(AttributeError):
        flowdrop.no_such_name  # noqa: B018  (anything else is the usual AttributeError)
