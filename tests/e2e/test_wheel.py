"""flowdrop installed from its wheel, not the source tree: `flowdrop up` serves /health and deploys a flow.

The wheel is built from this checkout and installed alone into a fresh
virtual environment; the dependencies come from the project's own venv
(a path entry, so its editable flowdrop is not seen), which keeps the test
off the package index. Everything then runs as a user would: the
`flowdrop` script, `python flow.py step-functions create`.
"""

from __future__ import annotations

import json
import os
import signal
import site
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOW = '''from flowdrop import FlowSpec, Parameter, step


class WheelFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.25)

    @step
    def start(self):
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        print("doubled is", self.doubled)


if __name__ == "__main__":
    WheelFlow()
'''


def build_wheel(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dest),
                    str(ROOT)], check=True, capture_output=True, text=True, timeout=300)
    (wheel,) = dest.glob("flowdrop-*.whl")
    return wheel


def fresh_venv(folder: Path, wheel: Path) -> Path:
    """A venv holding only the wheel's flowdrop; its dependencies reached through the project venv's site-packages."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            check=True, capture_output=True, text=True).stdout.strip()
    # A path entry only: the project venv's own .pth files (its editable flowdrop) are not run.
    (Path(target) / "project-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300)
    return python


@pytest.mark.slow
def test_flowdrop_up_from_a_wheel_serves_health_and_deploys_a_flow(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    names = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True).stdout
    assert "flowdrop/deployer/app.py" in names and "flowdrop/local/moto/main.py" in names
    assert all(f"flowdrop/page/{name}" in names for name in ("index.html", "page.js", "page.css"))  # package data
    assert "chalicelib" not in names
    python = fresh_venv(tmp_path / "venv", wheel)
    where = subprocess.run([str(python), "-c", "import flowdrop; print(flowdrop.__file__)"],
                           check=True, capture_output=True, text=True).stdout.strip()
    assert where.startswith(str(tmp_path / "venv")), where

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWDROP_")}
    env["HOME"] = str(tmp_path / "home")
    state = tmp_path / "state"
    up = subprocess.Popen([str(python.parent / "flowdrop"), "up", "--state-dir", str(state), "--workers", "1"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        config = state / "config.json"
        deadline = time.monotonic() + 60
        while not config.is_file() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert config.is_file(), up.stdout.read() if up.poll() is not None else "no config after 60 s"
        api_url = json.loads(config.read_text())["api_url"]
        with urllib.request.urlopen(f"{api_url}/health", timeout=10) as answer:
            assert json.loads(answer.read()) == {"status": "ok", "version": "0.1.0"}

        work = tmp_path / "work"
        work.mkdir()
        (work / "wheel_flow.py").write_text(FLOW)
        deployed = subprocess.run([str(python), "wheel_flow.py", "step-functions", "create"], cwd=work,
                                  env={**env, "FLOWDROP_CONFIG": str(config)}, capture_output=True, text=True,
                                  timeout=120)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "ACCEPTED" in deployed.stdout + deployed.stderr or "version 1" in deployed.stdout, deployed.stdout
        request = urllib.request.Request(f"{api_url}/flows/WheelFlow", headers={
            "Authorization": f"Bearer {json.loads(config.read_text())['api_token']}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["production_version"] == 1
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            output = up.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            up.kill()
            output = up.communicate()[0]
    assert up.returncode == 0, output
    assert "Stopped" in output
