"""A fault injected into a local run's datastore: its disk fills up while a task saves an artifact.

The datastore folder is a 4 MiB tmpfs, mounted in a mount namespace of the
test's own (`unshare -rm`: no root needed where user namespaces are allowed,
and the mount goes away with the namespace). Step `fill` saves a 6 MiB
artifact. The task must fail naming the artifact and the cause, leave no
partial file behind, and nothing it half-wrote may be read as done.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DISK_FULL_FLOW = '''
import os

from flowdrop import FlowSpec, step


class DiskFullFlow(FlowSpec):

    @step
    def start(self):
        self.small = 'fits'
        self.next(self.fill)

    @step
    def fill(self):
        self.big = os.urandom(6 * 1024 * 1024)  # more than the datastore's disk holds
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    DiskFullFlow()
'''

# Runs inside the namespace, after the run: what a reader of the datastore sees.
INSPECT = '''
import json, os, sys
from pathlib import Path
from flowdrop.client import Flow, namespace, set_datastore

root = sys.argv[1]
set_datastore(root, production=None)
namespace(None)
run = Flow('DiskFullFlow').latest_run
fill = run['fill'].task
try:
    fill.data.big
    big = 'read'
except Exception as err:
    big = type(err).__name__
stat = os.statvfs(root)
print(json.dumps({
    'run_successful': run.successful, 'run_finished': run.finished,
    'start_successful': run['start'].task.successful, 'small': run['start'].task.data.small,
    'fill_successful': fill.successful, 'fill_finished': fill.finished, 'big': big,
    'fill_exception': str(fill.exception),
    'end_exists': any(s.id == 'end' for s in run),
    'temp_files': [str(p) for p in Path(root).rglob('.*.tmp-*')],
    'free_bytes': stat.f_bavail * stat.f_frsize,
}))
'''


def test_a_full_datastore_disk_fails_the_task_naming_the_artifact_and_leaves_nothing_half_written(tmp_path):
    flow_file, inspect, store = tmp_path / "disk_full_flow.py", tmp_path / "read_datastore.py", tmp_path / "ds"
    flow_file.write_text(DISK_FULL_FLOW)
    inspect.write_text(INSPECT)
    store.mkdir()
    script = ('mount -t tmpfs -o size=4m tmpfs "$1" || exit 99; '
              '"$2" "$3" --datastore "$1" run; echo "run-exit=$?"; "$2" "$4" "$1"')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(store), sys.executable, str(flow_file),
                           str(inspect)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "FLOWDROP_CONFIG": "/nonexistent/config.json",
                               "HOME": str(tmp_path), "FLOWDROP_USER": "ada"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert "run-exit=1" in lines, done.stdout[-3000:]
    seen = json.loads(lines[-1])
    failure = next(line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Run ") and "failed at step 'fill'" in line)
    assert "artifact 'big'" in failure and "No space left on device" in failure, failure
    assert "DiskFullFlow/data/" in failure  # where it did not fit
    assert seen["start_successful"] and seen["small"] == "fits"
    assert not seen["fill_successful"] and seen["fill_finished"], seen
    assert "No space left on device" in seen["fill_exception"], seen
    assert seen["big"] != "read" and not seen["end_exists"] and not seen["run_successful"], seen
    assert seen["temp_files"] == [], seen  # the part written was removed, not left to fill the disk
    assert seen["free_bytes"] > 3 * 1024 * 1024, seen
    assert not any(Path(store).iterdir())  # the tmpfs was the namespace's alone
