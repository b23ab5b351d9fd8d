"""What the uploader's tests share: a flow with a deploy-time parameter, preparing it, a fake API and a fake clock."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from flowdrop.cli.uploader import DeployOptions, prepare_deployment
from tests.helpers.runtime import load_flow

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)

INFO_FLOW = '''\
import json
from flowdrop import FlowSpec, JSONType, Parameter, schedule, step

CALLS = []


def who(context):
    CALLS.append((context.flow_name, context.user_name, context.parameter_name))
    return json.dumps({"who": context.user_name})


@schedule
class InfoFlow(FlowSpec):
    info = Parameter("deployment_info", type=JSONType, default=who)
    alpha = Parameter("alpha", help="Learning rate", default=0.01)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def write(root: Path, rel: str, data: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def info_flow(tmp_path: Path):
    flow_file = write(tmp_path / "proj", "info_flow.py", INFO_FLOW)
    write(tmp_path / "proj", "lib/features.py")
    return load_flow(flow_file) + (flow_file,)


def prepare(flow, options: DeployOptions = DeployOptions(), user: str = "alice", now: datetime = NOW):
    cls, graph, _module, flow_file = flow
    return prepare_deployment(cls, flow_file, graph, options, user, now)


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=120)


class FakeApi:
    """Answers get_deployment from a script, one answer per poll (the last one repeats)."""

    def __init__(self, *answers: dict[str, Any] | None):
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []

    def get_deployment(self, flow: str, code_sha256: str) -> dict[str, Any] | None:
        self.calls.append((flow, code_sha256))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
