"""The Batch task bootstrap (compiler/job.py COMMAND) run as a container runs it: a fresh `python -c` against S3.

Its package comes from the session's moto server; the package's own flowdrop (a stub here) takes over.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from flowdrop.codepackage.archive import build_package
from flowdrop.compiler.job import COMMAND

STUB_JOB = """import os, sys
def main():
    here = os.getcwd()
    print(json_files(here))
    return 3
def json_files(here):
    import json
    found = sorted(os.path.relpath(os.path.join(d, f), here) for d, _, fs in os.walk(here) for f in fs)
    return json.dumps({"cwd": os.path.basename(here), "files": found, "sdk": __file__})
"""


def _run_bootstrap(aws, bucket: str, key: str, data: bytes, tmp_path: Path) -> subprocess.CompletedProcess:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWDROP_", "AWS_"))}
    env.update({"AWS_ENDPOINT_URL": aws.endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "TMPDIR": str(tmp_path), "FLOWDROP_RUN": json.dumps({"code_package": f"s3://{bucket}/{key}"})})
    command = [sys.executable if part == "python" else part for part in COMMAND]
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_the_bootstrap_extracts_the_package_and_hands_over_to_its_own_flowdrop(aws, unique_name, tmp_path):
    files = {"flow.py": b"print('flow')\n", "data/nested/values.txt": b"1 2 3\n", "flowdrop/__init__.py": b"",
             "flowdrop/runtime/__init__.py": b"", "flowdrop/runtime/job.py": STUB_JOB.encode()}
    done = _run_bootstrap(aws, unique_name, "packages/F/abc.tar.gz", build_package({"flow_file": "flow.py"}, files),
                          tmp_path)
    assert done.returncode == 3, done.stderr  # the package's job.main() exit code is the container's
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["cwd"] == "code" and seen["files"] == sorted(files)
    assert seen["sdk"].startswith(str(tmp_path)) and "/flowdrop-task-" in seen["sdk"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("flowdrop-task-")]  # removed afterwards


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return raw.getvalue()


def _link(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, b""


@pytest.mark.parametrize("bad", [_link("code/flow.py", "/etc/passwd"),
                                 (tarfile.TarInfo("code/../../escaped.txt"), b"x"),
                                 (tarfile.TarInfo("/tmp/absolute.txt"), b"x")], ids=["symlink", "dotdot", "absolute"])
def test_the_bootstrap_refuses_members_that_are_not_plain_files_under_the_package(aws, unique_name, tmp_path, bad):
    data = _tar((tarfile.TarInfo("manifest.json"), b"{}"), bad)
    done = _run_bootstrap(aws, unique_name, "packages/F/bad.tar.gz", data, tmp_path)
    assert done.returncode == 1
    assert f"refusing package member {bad[0].name!r}" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, the work folder removed
