"""The client API finding production runs in the production datastore, S3 on the session's moto server."""

from __future__ import annotations

import pytest

from flowdrop.client import Flow, Run, Task, namespace, set_datastore
from flowdrop.datastore import FlowDatastore, open_storage
from flowdrop.errors import MissingObjectError
from tests.helpers.client import FLOW, ds, isolated_client, make_run  # noqa: F401  (fixtures)


def test_production_runs_are_found_in_the_production_datastore(ds, aws, unique_name, monkeypatch, tmp_path):
    aws.client("s3").create_bucket(Bucket=unique_name)
    monkeypatch.setenv("FLOWDROP_PRODUCTION_DATASTORE", f"s3://{unique_name}/flowdrop")
    monkeypatch.setenv("FLOWDROP_AWS_ENDPOINT", aws.endpoint_url)
    monkeypatch.setenv("FLOWDROP_DATASTORE", str(tmp_path / ".flowdrop"))
    set_datastore(None)  # re-read the config
    prod = FlowDatastore(open_storage(f"s3://{unique_name}/flowdrop", aws), FLOW)
    make_run(prod, "sfn-abc", "2026-06-01T09:00:00+00:00", x="from s3", tags=("production:tok", "user:alice"))
    make_run(ds, "1", "2026-05-01T09:00:00+00:00", x="local")

    run = Run(f"{FLOW}/sfn-abc")
    assert run.data.x == "from s3"
    assert run["end"].task.stdout == "hello from end\n"
    assert Task(f"{FLOW}/sfn-abc/end/end").data.x == "from s3"
    assert [r.id for r in Flow(FLOW)] == ["sfn-abc", "1"]
    namespace("production:tok")
    assert Flow(FLOW).latest_run.id == "sfn-abc"

    make_run(FlowDatastore(prod.storage, "OnlyInProduction"), "sfn-1", "2026-06-01T09:00:00+00:00",
             tags=("production:tok",))
    assert Flow("OnlyInProduction").latest_successful_run.id == "sfn-1"

    set_datastore(str(tmp_path / ".flowdrop"), production=None)
    with pytest.raises(MissingObjectError, match=f"Run\\('{FLOW}/sfn-abc'\\)"):
        Run(f"{FLOW}/sfn-abc")
