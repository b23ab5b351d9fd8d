"""Metaflow's other `step-functions create` flags: what each becomes, without a stack (--only-json)."""

from __future__ import annotations

import json
import subprocess
import sys

from flowdrop.cli.metaflow_create import ignored_notes, write_attribute_file
from flowdrop.testing import examples_dir


def only_json(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(examples_dir() / "foreach_flow.py"), "step-functions", "create",
                           "--only-json", *flags], capture_output=True, text=True, timeout=120)


def test_use_distributed_map_sends_every_foreach_width_to_the_distributed_map():
    default, distributed = only_json(), only_json("--use-distributed-map")
    assert default.returncode == 0 and distributed.returncode == 0, distributed.stderr
    thresholds = [
        [rule["NumericGreaterThan"] for state in json.loads(proc.stdout)["States"].values()
         for rule in state.get("Choices", []) if "NumericGreaterThan" in rule]
        for proc in (default, distributed)
    ]
    assert thresholds[0] and all(limit > 0 for limit in thresholds[0])  # inline up to a width
    assert thresholds[1] == [0] * len(thresholds[0])  # any width goes distributed
    assert only_json("--no-use-distributed-map").stdout == default.stdout


def test_the_flags_flowdrop_leaves_out_are_each_said_once_on_stderr():
    proc = only_json("--authorize", "tok", "--log-execution-history", "--aws-batch-tag", "team=ml",
                     "--compress-state-machine", "--namespace", "prod")
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("flowdrop leaves out Metaflow's")]
    assert [line.split(":")[0].rsplit(" ", 1)[-1] for line in said] == [
        "--authorize", "--namespace", "--log-execution-history", "--compress-state-machine", "--aws-batch-tag"]
    assert only_json().stderr.count("leaves out") == 0
    assert ignored_notes({"generate_new_token": True})[0].startswith("--generate-new-token: production runs")


def test_the_deployer_attribute_file_names_the_state_machine_and_its_arns(tmp_path):
    record = {"version": 3, "alias_arn": "arn:aws:states:us-east-1:1:stateMachine:F:production",
              "version_arn": "arn:aws:states:us-east-1:1:stateMachine:F:3", "state_machine_name": "F"}
    write_attribute_file(tmp_path / "out.json", "F", record)
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["name"] == "F" and written["version"] == 3 and written["alias_arn"].endswith(":production")
    assert written["state_machine_arn"] == "arn:aws:states:us-east-1:1:stateMachine:F"
