"""The client API finding production runs in the production datastore, S3 on the session's moto server."""

from __future__ import annotations

import json

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


FLOW_SOURCE = "from flowdrop import FlowSpec, step\n\n\nclass TrainFlow(FlowSpec):\n    pass  # \u5e74\n"


def _with_code_package(prod: FlowDatastore, run_id: str, url: str) -> None:
    """What a production task writes beside its run: the package URL in run.json and in each attempt."""
    prod.write_run(run_id, {**prod.read_run(run_id), "code_package": url})
    for step in ("start", "end"):
        prod.write_attempt(run_id, step, step, 0, {**prod.read_attempt(run_id, step, step, 0), "code_package": url,
                                                   "backend": "lambda"})


def test_a_production_runs_code_is_its_package_read_only_when_asked(ds, aws, unique_name, monkeypatch):
    import tarfile

    from flowdrop.codepackage.archive import build_package
    from flowdrop.errors import PackageError

    s3 = aws.client("s3")
    s3.create_bucket(Bucket=unique_name)
    monkeypatch.setenv("FLOWDROP_AWS_ENDPOINT", aws.endpoint_url)
    root, url = f"s3://{unique_name}/flowdrop", f"s3://{unique_name}/packages/{FLOW}/{'ab' * 32}.tar.gz"
    set_datastore(ds.storage, production=root)
    prod = FlowDatastore(open_storage(root, aws), FLOW)
    make_run(prod, "sfn-code", "2026-06-01T09:00:00+00:00", x=1, tags=("production:tok",))
    _with_code_package(prod, "sfn-code", url)
    make_run(ds, "7", "2026-05-01T09:00:00+00:00", x=2)
    namespace(None)

    run = Run(f"{FLOW}/sfn-code")
    code = run.code  # the package is not uploaded yet: nothing is read until an attribute needs its bytes
    assert code.path == url and run["end"].task.code.path == url
    with pytest.raises(PackageError, match=f"Run\\('{FLOW}/sfn-code'\\): its code package {url} is no longer"):
        code.flowspec
    manifest = {"flow_file": "flows/train.py", "flow_name": FLOW, "user": "alice"}
    files = {"flows/train.py": FLOW_SOURCE.encode(), "helpers.py": b"X = 1\n"}
    s3.put_object(Bucket=unique_name, Key=url.partition(f"{unique_name}/")[2], Body=build_package(manifest, files))
    assert code.flowspec == FLOW_SOURCE and code.script_name == "flows/train.py" and str(code) == \
        "<MetaflowCode: flows/train.py>"
    assert code.info == manifest
    assert isinstance(code.tarball, tarfile.TarFile)
    assert code.tarball.getnames() == ["manifest.json", "code/flows/train.py", "code/helpers.py"]
    assert code.tarball.extractfile("code/helpers.py").read() == b"X = 1\n"
    task = run["start"].task
    assert task.code.flowspec == FLOW_SOURCE and task.environment_info["type"] == "lambda"
    assert json.loads(task.metadata_dict["code-package"]) == {"location": url, "ds_type": "s3", "sha": "ab" * 32}

    local = Run(f"{FLOW}/7")  # a local run has no code package, as in Metaflow
    assert local.code is None and local["end"].task.code is None
    end = local["end"].task
    assert end.environment_info["type"] == "local" and "code-package" not in end.metadata_dict
