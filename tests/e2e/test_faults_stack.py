"""Faults injected into a running embedded stack: moto killed under a running task; the stack dying before a deploy.

`flowdrop up` runs as a user runs it (a process of its own); moto, its AWS
endpoint, is SIGKILLed while a production run's task is going. The stack
must say so and exit non-zero, its task stopped with it, and never hang.
And a stack frozen (SIGSTOP) while a package is uploaded, then SIGKILLed:
its queue held the package's notification; the restart delivers it again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.config import load_config
from flowdrop.local.moto.server import free_port
from flowdrop.testing import run_command

pytestmark = pytest.mark.slow

HOLDING_FLOW = '''
import os
import time

from flowdrop import FlowSpec, step


class HoldingFlow(FlowSpec):

    @step
    def start(self):
        self.next(self.hold)

    @step
    def hold(self):
        with open({started!r}, 'w') as marker:
            marker.write(str(os.getpid()))
        while True:
            time.sleep(0.2)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == '__main__':
    HoldingFlow()
'''


def _wait_until(check, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.parametrize("backend", ["batch", "worker"])
def test_moto_killed_under_a_running_stack_stops_it_with_a_message_and_exit_1(tmp_path, backend):
    state_dir, work = tmp_path / "state", tmp_path / "work"
    work.mkdir()
    started = work / "started"
    flow_file = work / "holding_flow.py"
    flow_file.write_text(HOLDING_FLOW.format(started=str(started)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDROP_")}
    up = subprocess.Popen([str(Path(sys.executable).parent / "flowdrop"), "up", "--port", str(free_port()),
                           "--state-dir", str(state_dir), "--heartbeat-seconds", "30"],
                          env={**env, "FLOWDROP_CONFIG": str(tmp_path / "config.json"), "COLUMNS": "200"},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=work)
    spawned: list[int] = []  # moto and task processes, killed if the test fails before the stack stops them
    try:
        _wait_until(lambda: (state_dir / "stack.json").exists() or up.poll() is not None, "the stack to start")
        assert up.poll() is None, up.stdout.read()
        stack = json.loads((state_dir / "stack.json").read_text())
        client_env = {**env, "FLOWDROP_CONFIG": stack["config"]}
        run_command([sys.executable, str(flow_file), "step-functions", "create", "--backend", backend], client_env,
                    work)
        api = ApiClient.from_config(load_config(client_env))
        run_id = api.trigger("HoldingFlow", {})["run_id"]
        _wait_until(lambda: started.exists() and started.read_text(), "the task to start")
        task_pid = int(started.read_text())
        spawned.append(task_pid)
        moto = [pid for pid in _children(up.pid) if "flowdrop.local.moto.main" in _cmdline(pid)]
        spawned += moto
        assert len(moto) == 1, [(pid, _cmdline(pid)) for pid in _children(up.pid)]

        os.kill(moto[0], signal.SIGKILL)
        output, _ = up.communicate(timeout=90)  # never hangs
    finally:
        if up.poll() is None:
            spawned += _children(up.pid)
            up.kill()
            up.wait()
        for pid in spawned:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert up.returncode == 1, output[-3000:]
    said = " ".join(output.split())
    assert f"Stopped: the moto server (AWS endpoint {stack['aws_endpoint']}) exited with code -9" in said, said
    assert "`flowdrop up` again restores it" in said, said
    assert not _alive(task_pid), f"task {task_pid} of {run_id} outlived the stack"


def test_a_package_the_stack_died_before_deploying_is_deployed_after_the_restart(tmp_path):
    from flowdrop.local.stack import EmbeddedStack, StackOptions

    state_dir, work = tmp_path / "state", tmp_path / "work"
    work.mkdir()
    flow_file = work / "linear_flow.py"
    flow_file.write_text((Path(__file__).resolve().parents[2] / "examples" / "linear_flow.py").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDROP_")}
    up = subprocess.Popen([str(Path(sys.executable).parent / "flowdrop"), "up", "--port", str(free_port()),
                           "--state-dir", str(state_dir)], env={**env, "FLOWDROP_CONFIG": str(tmp_path / "c.json")},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    spawned: list[int] = []
    try:
        _wait_until(lambda: (state_dir / "stack.json").exists() or up.poll() is not None, "the stack to start")
        stack = json.loads((state_dir / "stack.json").read_text())
        client_env = {**env, "FLOWDROP_CONFIG": stack["config"]}
        run_command([sys.executable, str(flow_file), "step-functions", "create"], client_env, work)
        spawned += _children(up.pid)
        # The stack freezes (its handlers with it), a new version is uploaded, then the stack dies outright:
        # the package's notification dies with moto's queue.
        os.kill(up.pid, signal.SIGSTOP)
        flow_file.write_text(flow_file.read_text() + "\n# version 2: other code, another package\n")
        uploaded = run_command([sys.executable, str(flow_file), "step-functions", "create", "--no-wait"],
                               client_env, work)
        key = uploaded.split("Uploaded s3://", 1)[1].split(";", 1)[0].split("/", 1)[1]
        bucket = stack["bucket"]
        from flowdrop.aws import AwsConfig

        s3 = AwsConfig(endpoint_url=stack["aws_endpoint"]).client("s3")
        received = s3.head_object(Bucket=bucket, Key=key)["LastModified"]
    finally:
        for pid in [up.pid, *spawned]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        up.wait()
    for pid in spawned:
        _wait_until(lambda: not _alive(pid), f"process {pid} to die", timeout=30)

    with EmbeddedStack(StackOptions(state_dir=state_dir, clock_interval=0.5)) as restarted:
        assert restarted.redelivered == [key]
        api = ApiClient.from_config(restarted.config)
        sha = key.rsplit("/", 1)[1].split(".")[0]
        _wait_until(lambda: (api.get_deployment("LinearFlow", sha) or {}).get("status") == "ACCEPTED",
                    "the redelivered package to be deployed", timeout=120)
        described = api.get_flow("LinearFlow")
        assert described["production_version"] == 2, described
        s3 = restarted.aws.client("s3")
        assert s3.head_object(Bucket=bucket, Key=key)["LastModified"] == received  # the upload's own time, kept
