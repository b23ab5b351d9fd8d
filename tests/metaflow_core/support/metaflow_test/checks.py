"""The two ways Metaflow's core suite reads a finished run back, against flowdrop.

Owns: CliCheck (through the flow's own command line: `dump --file`, `logs`,
`tag ...`) and MetadataCheck (through the client API), with the methods the
cases' check_results call. Cards are not part of flowdrop: their methods
raise AssertCardFailed.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
from typing import Any

from metaflow_test import (
    AssertArtifactFailed,
    AssertCardFailed,
    AssertLogFailed,
    assert_equals,
    assert_exception,
    truncate,
)


def _field_source(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        return json.loads(value)
    descriptor = getattr(value, "descriptor", None)  # an IncludedFile
    return json.loads(descriptor) if isinstance(descriptor, str) else value


def _check_artifacts(found: dict[str, dict[str, Any]], name: str, value: Any, fields: dict | None) -> bool:
    for task, artifacts in found.items():
        if name not in artifacts:
            raise AssertArtifactFailed(f"Task '{task}' expected {name}={truncate(value)} but the key was not found")
        artifact = artifacts[name]
        if not fields:
            if artifact != value:
                raise AssertArtifactFailed(f"Task '{task}' expected {name}={truncate(value)!r} but got "
                                           f"{name}={truncate(artifact)}")
            continue
        data = _field_source(artifact)
        if not isinstance(data, dict):
            raise AssertArtifactFailed(f"Task '{task}' expected {name} to be a dictionary (got {type(data)})")
        for key, expected in fields.items():
            if data.get(key) != expected:
                raise AssertArtifactFailed(f"Task '{task}' expected {name}[{key}]={truncate(expected)!r} but got "
                                           f"{truncate(data.get(key))}")
    return True


class _Check:
    def __init__(self, flow: Any):
        self.flow = flow

    @property
    def run_id(self) -> str:
        return sys.argv[2]

    @property
    def cli_options(self) -> list[str]:
        return sys.argv[3:]

    def get_run(self) -> Any:
        return None

    def assert_artifact(self, step: str, name: str, value: Any, fields: dict | None = None) -> bool:
        return _check_artifacts(self.artifact_dict(step, name), name, value, fields)

    def assert_log(self, step: str, logtype: str, value: str, exact_match: bool = True) -> bool:
        log = self.get_log(step, logtype)
        if log == value or (not exact_match and value in log):
            return True
        raise AssertLogFailed(f"Task '{self.run_id}/{step}' expected {logtype} log {value!r} but got {log!r}")

    def _no_cards(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertCardFailed("cards are not part of flowdrop")

    assert_card = get_card = get_card_data = list_cards = _no_cards


class CliCheck(_Check):
    """Reads the run through `python test_flow.py dump|logs|tag ...`."""

    def run_cli(self, args: list[str]) -> subprocess.CompletedProcess:
        command = [sys.executable, "test_flow.py", *(o for o in self.cli_options if o != "--quiet"), *args]
        return subprocess.run(command, capture_output=True, check=True)

    def artifact_dict(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        with tempfile.NamedTemporaryFile(dir=".") as out:
            self.run_cli(["dump", "--max-value-size", "100000000000", "--private", "--include", name,
                          "--file", out.name, f"{self.run_id}/{step}"])
            with open(out.name, "rb") as f:
                return pickle.load(f)

    artifact_dict_if_exists = artifact_dict

    def get_log(self, step: str, logtype: str) -> str:
        done = self.run_cli(["--quiet", "logs", f"--{logtype}", f"{self.run_id}/{step}"])
        return done.stdout.decode("utf-8")

    def _flat_tags(self, *extra: str) -> frozenset[str]:
        done = self.run_cli(["tag", "list", "--flat", *extra, "--run-id", self.run_id])
        return frozenset(done.stderr.decode("utf-8").splitlines()[1:])  # the first line is the banner

    def get_user_tags(self) -> frozenset[str]:
        return self._flat_tags("--hide-system-tags")

    def get_system_tags(self) -> frozenset[str]:
        return self._flat_tags() - self.get_user_tags()

    def add_tag(self, tag: str) -> None:
        self.run_cli(["tag", "add", "--run-id", self.run_id, tag])

    def add_tags(self, tags: list[str]) -> None:
        self.run_cli(["tag", "add", "--run-id", self.run_id, *tags])

    def remove_tag(self, tag: str) -> None:
        self.run_cli(["tag", "remove", "--run-id", self.run_id, tag])

    def remove_tags(self, tags: list[str]) -> None:
        self.run_cli(["tag", "remove", "--run-id", self.run_id, *tags])

    def replace_tag(self, old: str, new: str) -> None:
        self.run_cli(["tag", "replace", "--run-id", self.run_id, old, new])

    def replace_tags(self, old: list[str], new: list[str]) -> None:
        args = ["tag", "replace", "--run-id", self.run_id]
        for tag in old:
            args += ["--remove", tag]
        for tag in new:
            args += ["--add", tag]
        self.run_cli(args)


class MetadataCheck(_Check):
    """Reads the run through the client API (Flow, Run, Task), checking namespaces on the way."""

    def __init__(self, flow: Any):
        from flowdrop import Flow

        super().__init__(flow)
        self.run = Flow(flow.name)[self.run_id]
        expected = {step.name for step in flow}
        actual = {step.id for step in self.run}
        assert actual <= expected, f"Executed steps {actual} not a subset of flow steps {expected}"
        self._check_namespaces()

    def _check_namespaces(self) -> None:
        from flowdrop import Flow, default_namespace, get_namespace, namespace
        from flowdrop.exception import MetaflowNamespaceMismatch

        assert_equals(f"user:{os.environ.get('METAFLOW_USER')}", get_namespace())
        assert_equals(True, self.run_id in [run.id for run in Flow(self.flow.name)])
        namespace("user:nobody")
        assert_equals("user:nobody", get_namespace())
        assert_exception(lambda: Flow(self.flow.name)[self.run_id], MetaflowNamespaceMismatch)
        namespace(None)
        assert_equals(None, get_namespace())
        Flow(self.flow.name)[self.run_id]
        default_namespace()

    def get_run(self) -> Any:
        return self.run

    def artifact_dict(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        return {task.id: {name: task[name].data} for task in self.run[step]}

    def artifact_dict_if_exists(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        return {task.id: {name: task[name].data} for task in self.run[step] if name in task}

    def get_log(self, step: str, logtype: str) -> str:
        return "".join(getattr(task, logtype) for task in self.run[step])

    def get_user_tags(self) -> Any:
        return self.run.user_tags

    def get_system_tags(self) -> Any:
        return self.run.system_tags

    def add_tag(self, tag: str) -> Any:
        return self.run.add_tag(tag)

    def add_tags(self, tags: list[str]) -> Any:
        return self.run.add_tags(tags)

    def remove_tag(self, tag: str) -> Any:
        return self.run.remove_tag(tag)

    def remove_tags(self, tags: list[str]) -> Any:
        return self.run.remove_tags(tags)

    def replace_tag(self, old: str, new: str) -> Any:
        return self.run.replace_tag(old, new)

    def replace_tags(self, old: list[str], new: list[str]) -> Any:
        return self.run.replace_tags(old, new)
