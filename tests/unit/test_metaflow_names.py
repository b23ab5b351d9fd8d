"""Metaflow's top-level names beyond the SDK proper: `profile`, and a clear ImportError for those flowdrop lacks."""

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


@pytest.mark.parametrize("name, said", [("S3", "use boto3 in the step"), ("parallel", "use a foreach"),
                                         ("get_metadata", "no metadata service")])
def test_a_metaflow_name_flowdrop_lacks_is_an_import_error_that_says_what_to_do(name, said):
    with pytest.raises(ImportError, match=f"flowdrop does not offer Metaflow's {name}: .*{said}"):
        exec(f"from flowdrop import {name}", {})
    with pytest.raises(AttributeError):
        flowdrop.no_such_name  # noqa: B018  (anything else is the usual AttributeError)
