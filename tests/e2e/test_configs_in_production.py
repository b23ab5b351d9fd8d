"""Config and IncludeFile survive `step-functions create`: a production run sees the values of deploy time.

One embedded stack; the flow reads a Config from a file and includes a
file as text, as bytes, and through two parsers (a function, a dotted
path). After the deploy the files on disk change: the production run must
still see what was there when it was deployed, in its artifacts (parsed in
the production task), in a decorator argument computed from the config (@environment),
in the state machine's resources (@resources) and in its @project name.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, wait_for_run

pytestmark = pytest.mark.slow

FLOW = '''
import os

from flowdrop import Config, FlowSpec, IncludeFile, config_expr, environment, project, resources, step


def shout(text):
    return text.upper()


@project(name=config_expr("cfg.project"))
class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default="cfg.json")
    notes = IncludeFile("notes", default="notes.txt")
    raw = IncludeFile("raw", default="notes.txt", is_text=False)
    shouted = IncludeFile("shouted", default="notes.txt", parser=shout)
    sized = IncludeFile("sized", default="notes.txt", is_text=False, parser="builtins.len")

    @environment(vars={"GREETING": config_expr("cfg.greeting.upper()")})
    @resources(cpu=cfg.cpu, memory=config_expr("cfg.cpu * 1024"))
    @step
    def start(self):
        self.greeting = os.environ["GREETING"]
        self.cpu_seen = self.cfg.cpu
        self.next(self.end)

    @step
    def end(self):
        self.notes_at_end = self.notes


if __name__ == "__main__":
    ConfiguredFlow()
'''


def _walk(value: Any):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def test_a_deployed_flow_sees_the_config_and_included_files_of_deploy_time(tmp_path):
    from flowdrop.client import Run, namespace

    (tmp_path / "configured_flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "cfg.json").write_text(json.dumps({"project": "cfgdemo", "greeting": "hello", "cpu": 3}))
    (tmp_path / "notes.txt").write_text("notes at deploy time \u5e74", encoding="utf-8")
    with EmbeddedStack(StackOptions(state_dir=tmp_path / "state")) as stack:
        deploy_flow(stack, tmp_path / "configured_flow.py", cwd=tmp_path)  # batch: @resources reach the definition
        # What is on disk now must not reach production: the deployment froze the earlier values.
        (tmp_path / "cfg.json").write_text(json.dumps({"project": "other", "greeting": "bye", "cpu": 1}))
        (tmp_path / "notes.txt").write_text("changed after the deploy")

        api = ApiClient.from_config(stack.config)
        names = [f["flow"] for f in api.list_flows()["flows"]]
        deployed = [n for n in names if n.startswith("cfgdemo.") and n.endswith(".ConfiguredFlow")]
        assert len(deployed) == 1, names  # @project's name came from the config
        name = deployed[0]
        run_id = api.trigger(name, {})["run_id"]
        assert wait_for_run(api, name, run_id)["status"] == "SUCCEEDED"

        sfn = stack.aws.client("stepfunctions")
        machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name)
        definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
        requirements = [v for v in _walk(definition) if isinstance(v, dict) and v.get("Type") in ("VCPU", "MEMORY")]
        assert {"Type": "VCPU", "Value": "3"} in requirements and {"Type": "MEMORY", "Value": "3072"} in requirements

        production_client(stack.config)
        namespace(None)
        run = Run(f"ConfiguredFlow/{run_id}")
        start, end = run["start"].task, run["end"].task
        assert start["cfg"].data == {"project": "cfgdemo", "greeting": "hello", "cpu": 3}
        assert start["greeting"].data == "HELLO" and start["cpu_seen"].data == 3
        assert start["notes"].data == "notes at deploy time \u5e74"
        assert start["raw"].data == "notes at deploy time \u5e74".encode("utf-8")
        assert end["notes_at_end"].data == "notes at deploy time \u5e74"
        # parser= runs in the production task too, over the content packaged at deploy time.
        assert start["shouted"].data == "NOTES AT DEPLOY TIME \u5e74"
        assert end["sized"].data == len("notes at deploy time \u5e74".encode("utf-8"))
        assert end["cfg"].data.greeting == "hello"  # a ConfigValue: attributes read its keys
