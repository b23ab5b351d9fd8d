"""Ctrl-C (SIGINT) and SIGTERM during `python flow.py run`: tasks stopped, the run recorded as interrupted, resume goes on."""

from __future__ import annotations

import contextlib
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


# A driver that sends the run its own SIGINT once `nap` is forked and sleeping, before the
# scheduler has registered it: the window where a signal used to leave the task running.
_SIGNAL_MID_LAUNCH = """
import os, runpy, select, signal, sys
from flowdrop.runtime import scheduler

real_fork_task, pid_file = scheduler.fork_task, sys.argv[2]

def fork_then_signal(run, payload, *args, **kwargs):
    child = real_fork_task(run, payload, *args, **kwargs)
    if payload.step == "nap":
        select.select([child.stdout], [], [], 30)  # `napping` is in the pipe: the task now sleeps
        with open(pid_file, "w") as out:
            out.write(str(child.pid))
        os.kill(os.getpid(), signal.SIGINT)
    return child

scheduler.fork_task = fork_then_signal
sys.argv = [sys.argv[1], "--datastore", sys.argv[3], "run"]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_signal_while_a_task_is_being_launched_still_stops_that_task(tmp_path):
    store, pid_file = tmp_path / "ds", tmp_path / "nap.pid"
    env = {k: v for k, v in os.environ.items() if k != "FLOWDROP_DATASTORE"}
    env.update(FLOWDROP_CONFIG=str(tmp_path / "none.json"), FLOWDROP_USER="ada")
    done = subprocess.run([sys.executable, "-c", _SIGNAL_MID_LAUNCH, str(FLOW), str(pid_file), str(store)], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 130, done.stderr
    assert "interrupted (SIGINT)" in done.stderr and "Traceback" not in done.stderr
    nap_pid = int(pid_file.read_text())
    try:
        assert not _alive(nap_pid)
    finally:  # a failure must not leave the task sleeping for five minutes
        with contextlib.suppress(ProcessLookupError):
            os.kill(nap_pid, signal.SIGKILL)
