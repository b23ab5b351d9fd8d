"""What starts a deployed flow, as data a person can read: its trigger rules and its schedule.

Owns: trigger_views, one dict per EventBridge rule the deployer keeps for a
flow's @trigger events and @trigger_on_finish upstream flows (name, bus,
event pattern, target queue, the parameter mapping) and one for its
@schedule (the EventBridge Scheduler schedule), built from the same
functions that plan them (plan.py), so what is shown is what is put. Used by
`GET /flows/{flow}` (real ARNs) and `step-functions create --only-json`
(placeholders where the laptop does not know the account). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowdrop.deployer.plan import EventTarget, wanted_event_rules
from flowdrop.model import names
from flowdrop.model.triggers import FlowTriggers

# What a preview without a deployer shows for what only the deployer knows.
PLACEHOLDER_TARGET = EventTarget(queue_arn="arn:aws:sqs:REGION:ACCOUNT:flowdrop-events-STAGE", bus="flowdrop-STAGE",
                                 region="REGION", account="ACCOUNT")


def trigger_views(flow: str, triggers: FlowTriggers, schedule: Mapping[str, Any] | None = None,
                  overlap: str | None = None, target: EventTarget = PLACEHOLDER_TARGET,
                  schedule_group: str = names.SCHEDULE_GROUP) -> list[dict[str, Any]]:
    """Every trigger of deployed flow `flow`: its event rules (as plan.py puts them), then its schedule."""
    views: list[dict[str, Any]] = []
    rules = wanted_event_rules(flow, triggers, target) if triggers else ()
    events, upstreams = rules[:len(triggers.events)], rules[len(triggers.events):]
    several = len(triggers.events) + len(triggers.flows) > 1
    for event, rule in zip(triggers.events, events):
        views.append({"kind": "event", "event": event.name, "parameters": dict(event.parameters),
                      **_rule(rule), **({"window_seconds": triggers.window_seconds} if several else {})})
    for upstream, rule in zip(triggers.flows, upstreams):
        views.append({"kind": "flow", "flow": upstream.flow, "deployed": upstream.deployed, **_rule(rule),
                      **({"window_seconds": triggers.window_seconds} if several else {})})
    if schedule:
        views.append({"kind": "schedule", "name": names.schedule_name(flow), "group": schedule_group,
                      "expression": schedule.get("expression"), "timezone": schedule.get("timezone") or "UTC",
                      "overlap": overlap or "skip"})
    return views


def _rule(rule: Any) -> dict[str, Any]:
    return {"rule": rule.name, "bus": rule.bus, "pattern": json.loads(rule.pattern), "target": rule.target_arn,
            "description": rule.description}


def trigger_lines(flow: str, views: list[Mapping[str, Any]]) -> list[str]:
    """The views as text: one line per trigger, its rule's pattern and target under it."""
    if not views:
        return [f"{flow} has no triggers: it runs when started through the API (step-functions trigger)."]
    lines = [f"Triggers of {flow} (the rules and schedule the deployer keeps):"]
    for view in views:
        match view.get("kind"):
            case "event":
                mapping = ", ".join(f"{p} <- payload['{f}']" for p, f in sorted(view.get("parameters", {}).items()))
                lines.append(f"  event {view['event']!r}: rule {view['rule']} on bus {view['bus']}")
                lines.append("      parameters: " + (mapping + "; others " if mapping else "each ")
                             + "from the payload field of its own name, else its default")
            case "flow":
                lines.append(f"  success of {view['deployed']}: rule {view['rule']} on bus {view['bus']}")
            case "schedule":
                lines.append(f"  schedule {view['name']} (EventBridge Scheduler, group {view['group']}): "
                             f"{view['expression']} {view['timezone']}, overlap {view['overlap']}")
                continue
            case _:
                continue
        lines.append(f"      pattern {json.dumps(view['pattern'], sort_keys=True)}")
        lines.append(f"      delivers to {view['target']}")
    window = next((v["window_seconds"] for v in views if v.get("window_seconds")), None)
    if window:
        lines.append(f"  one run starts once every event above has arrived within {window} s")
    return lines
