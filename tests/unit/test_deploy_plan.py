"""The words `step-functions create --plan` prints: pure functions over the deployer's plan answer."""

from __future__ import annotations

import json

from flowdrop.cli.deploy_plan import changed_states, definition_diff, plan_lines, schedule_line


def machine(retry: int, extra_state: bool = False) -> str:
    inner = {"StartAt": "fit", "States": {"fit": {"Type": "Task", "Retry": [{"MaxAttempts": retry}], "End": True}}}
    states = {"start": {"Type": "Task", "Next": "map"},
              "map": {"Type": "Map", "ItemProcessor": inner, "Next": "end"},
              "end": {"Type": "Succeed"}}
    if extra_state:
        states["audit"] = {"Type": "Pass", "End": True}
    return json.dumps({"StartAt": "start", "States": states})


def test_changed_states_names_nested_states_and_not_their_parents():
    assert changed_states(machine(1), machine(3)) == {"changed": ["fit"]}
    assert changed_states(machine(1), machine(1, extra_state=True)) == {"added": ["audit"]}
    assert changed_states(None, machine(1)) == {"added": ["start", "map", "fit", "end"]}
    assert changed_states(machine(1), machine(1)) == {}


def test_the_definition_diff_is_a_unified_diff_of_sorted_pretty_json():
    diff = definition_diff(machine(1), machine(3), "production (version 1)", "this deploy")
    assert diff[0] == "--- production (version 1)" and diff[1] == "+++ this deploy"
    changed = [line[0] + line[1:].strip() for line in diff[2:] if line.startswith(("-", "+"))]
    assert changed == ['-"MaxAttempts": 1', '+"MaxAttempts": 3']
    assert definition_diff(machine(1), machine(1), "a", "b") == []


def test_schedule_lines_say_what_changed():
    hourly = {"expression": "rate(1 hour)", "timezone": "UTC", "overlap": "skip"}
    berlin = {"expression": "cron(0 9 * * ? *)", "timezone": "Europe/Berlin", "overlap": "skip"}
    assert schedule_line(None, None) == "Schedule: none"
    assert schedule_line(hourly, hourly) == "Schedule: unchanged (rate(1 hour) UTC, overlap skip)"
    assert schedule_line(hourly, berlin) == ("Schedule: rate(1 hour) UTC, overlap skip -> cron(0 9 * * ? *) "
                                             "Europe/Berlin, overlap skip (expression, timezone changed)")
    assert schedule_line(hourly, None) == "Schedule: rate(1 hour) UTC, overlap skip -> none (expression, timezone, " \
                                          "overlap changed)"


def test_plan_lines_for_a_duplicate_and_a_rejection():
    duplicate = plan_lines({"flow": "F", "status": "DUPLICATE", "code_sha256": "a" * 64, "production_version": 4,
                            "reason": "same", "schedule": None, "production_schedule": None})
    assert duplicate[1] == "No change (duplicate of version 4): same" and duplicate[-1] == "Schedule: none"
    rejected = plan_lines({"flow": "F", "status": "FAILED", "code_sha256": "a" * 64, "message": "f.py:3: bad"})
    assert rejected[-2:] == ["Would be rejected (production would stay as it is):", "f.py:3: bad"]
