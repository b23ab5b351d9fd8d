"""Trigger rules as plans: wanted rules from FlowTriggers, puts for what differs, deletes for what went away."""

import json

from flowdrop.deployer.plan import (
    DeleteEventRule,
    EventTarget,
    Live,
    PutEventRule,
    event_rule_actions,
    plan_removal,
    wanted_event_rules,
)
from flowdrop.model import names
from flowdrop.model.triggers import flow_triggers

TARGET = EventTarget("arn:aws:sqs:us-east-1:123456789012:flowdrop-events-dev", "flowdrop-dev", "default", "aws",
                     "us-east-1", "123456789012")


def live(*rules) -> Live:
    return Live(True, True, None, (), None, event_rules=tuple(rules))


def test_one_rule_per_event_and_per_upstream_flow_on_their_buses():
    triggers = flow_triggers({"events": ["a", "b"]}, {"flow": "Up"}, "proj", "prod")
    rules = wanted_event_rules("proj.prod.Down", triggers, TARGET)
    assert [r.bus for r in rules] == ["flowdrop-dev", "flowdrop-dev", "default"]
    assert json.loads(rules[0].pattern) == {"source": ["flowdrop.events"], "detail-type": ["a"]}
    assert json.loads(rules[2].pattern)["detail"] == {
        "status": ["SUCCEEDED"], "stateMachineArn": ["arn:aws:states:us-east-1:123456789012:stateMachine:proj.prod.Up"]}
    assert all(r.name.startswith(names.event_rule_prefix("proj.prod.Down")) and len(r.name) <= 64 for r in rules)
    assert json.loads(rules[0].input_template.replace("<aws.events.event.json>", "{}")) == {
        "flow": "proj.prod.Down", "event": {}}


def test_unchanged_rules_are_left_alone_and_dropped_ones_deleted():
    old = wanted_event_rules("F", flow_triggers({"events": ["a", "b"]}, None), TARGET)
    actions = event_rule_actions("F", flow_triggers({"event": "a"}, None), live(*old), TARGET)
    assert actions == (DeleteEventRule(old[1].name, "flowdrop-dev"),)
    fresh = event_rule_actions("F", flow_triggers({"event": "c"}, None), live(), TARGET)
    assert [type(a) for a in fresh] == [PutEventRule]


def test_removal_deletes_every_trigger_rule():
    rules = wanted_event_rules("F", flow_triggers({"event": "a"}, {"flow": "Up"}), TARGET)
    removal = plan_removal("F", live(*rules), machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:F")
    assert [a for a in removal if isinstance(a, DeleteEventRule)] == [DeleteEventRule(r.name, r.bus) for r in rules]
