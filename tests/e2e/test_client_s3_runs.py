"""A run made with `--datastore s3` reads through the client API as a local one does (the session's moto S3)."""

from __future__ import annotations

import json

import pytest

from flowdrop import client
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import EXAMPLES, run_flow

pytestmark = pytest.mark.slow


def test_an_s3_run_reads_like_a_local_one(aws, unique_name, tmp_path, monkeypatch):
    aws.client("s3").create_bucket(Bucket=unique_name)
    root = f"s3://{unique_name}/data"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"production_datastore": root, "aws_endpoint": aws.endpoint_url}))
    env = {"FLOWDROP_AWS_ENDPOINT": aws.endpoint_url, "FLOWDROP_USER": "ada", "FLOWDROP_CONFIG": str(config)}
    proc = run_flow(EXAMPLES / "foreach_flow.py", "run", "--width", "2", "--tag", "s3run",
                    datastore="s3", env=env, config=config)
    assert proc.returncode == 0, proc.stderr
    assert f"datastore {root}" in proc.stdout  # --datastore s3 took the configured S3 root
    monkeypatch.setenv("FLOWDROP_AWS_ENDPOINT", aws.endpoint_url)
    monkeypatch.setenv("FLOWDROP_CONFIG", str(config))
    client.set_datastore(str(tmp_path / "empty"))  # nothing local: the run is found in the production datastore
    client.namespace("user:ada")
    assert [f.id for f in client.Metaflow().flows] == ["ForeachFlow"]
    run = client.Flow("ForeachFlow").latest_run
    assert run.successful and run.user_tags == {"s3run"} and run["join"].task["total"].data == 1
    squares = list(run["square"])
    assert [t.pathspec for t in squares[1].parent_tasks] == [run["start"].task.pathspec]
    assert squares[1].metadata_dict["foreach-execution-path"] == "start:1"
    run.add_tag("checked")
    assert client.Run(run.pathspec).user_tags == {"s3run", "checked"}
    dump = run_flow(EXAMPLES / "foreach_flow.py", "--quiet", "dump", f"{run.id}/join",
                    datastore="s3", env=env, config=config)
    assert dump.returncode == 0 and "total: 1" in dump.stdout
