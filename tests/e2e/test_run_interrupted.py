"""Ctrl-C (SIGINT) and SIGTERM during `python flow.py run`: tasks stopped, the run recorded as interrupted, resume goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from flowdrop import client
from tests.helpers.client import isolated_client  # noqa: F401  (autouse fixture)
from tests.helpers.runtime import TEST_FLOWS, run_flow

pytestmark = pytest.mark.slow

FLOW = TEST_FLOWS / "napping_flow.py"


def _alive(pid: int, within: float = 10.0) -> bool:
    """Whether `pid` still runs after `within` seconds (a zombie waiting to be reaped has stopped)."""
    deadline = time.monotonic() + within
    while True:
        try:
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as stat:
                running = stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (ProcessLookupError, FileNotFoundError):
            return False
        if not running:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_tasks_records_the_run_interrupted_and_resume_goes_on(tmp_path, signum, code):
    store = tmp_path / "ds"
    env = {k: v for k, v in os.environ.items() if k != "FLOWDROP_DATASTORE"}
    env.update(FLOWDROP_CONFIG=str(tmp_path / "none.json"), FLOWDROP_USER="ada", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, str(FLOW), "--datastore", str(store), "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    task_pid = None
    for line in proc.stdout:  # wait until `nap` is running, and learn its pid
        if "napping" in line and "(pid " in line:
            task_pid = int(line.split("(pid ", 1)[1].split(")", 1)[0])
            break
    assert task_pid is not None
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"interrupted ({signal.Signals(signum).name})" in err and "Traceback" not in err
    assert not _alive(task_pid)
    client.set_datastore(str(store), production=None)
    client.namespace(None)
    run = client.Flow("NappingLocalFlow").latest_run
    assert run.status["status"] == "interrupted" and run.status["signal"] == signal.Signals(signum).name
    assert not run.successful
    resumed = run_flow(FLOW, "resume", "--origin-run-id", run.id, datastore=store, env={"NO_NAP": "1"})
    assert resumed.returncode == 0, resumed.stderr
    again = client.Flow("NappingLocalFlow").latest_run
    assert again.id != run.id and again.successful and again["nap"].task.data.slept is True
    assert again["start"].task.origin_pathspec == f"NappingLocalFlow/{run.id}/start/start"
