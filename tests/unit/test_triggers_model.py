"""@trigger / @trigger_on_finish read into FlowTriggers, and payloads mapped to parameters."""

import pytest

from flowdrop.errors import DecoratorError
from flowdrop.model.triggers import (
    EventTrigger,
    FlowTrigger,
    event_execution_name,
    finish_flows,
    flow_triggers,
    mapped_parameters,
    trigger_events,
)


def test_metaflow_forms_of_event():
    assert trigger_events({"event": "foo"})[0] == (EventTrigger("foo"),)
    events, _ = trigger_events({"events": ["a", {"name": "b", "parameters": {"alpha": "beta"}},
                                           {"name": "c", "parameters": ["x", ("y", "z")]}]})
    assert events == (EventTrigger("a"), EventTrigger("b", {"alpha": "beta"}), EventTrigger("c", {"x": "x", "y": "z"}))


@pytest.mark.parametrize("attrs, text", [
    ({"event": "a", "events": ["b"]}, "only one of event or events"),
    ({}, "no event given"),
    ({"events": ["a", "a"]}, "'a' is given twice"),
    ({"event": {"parameters": {}}}, "missing its 'name'"),
    ({"event": "has space"}, "event name 'has space'"),
    ({"event": {"name": "a", "parameters": {"p": 1}}}, "must map parameter names"),
    ({"event": "a", "options": {"window": 0}}, "window"),
    ({"event": "a", "bogus": 1}, "unknown argument(s) bogus"),
])
def test_bad_trigger_names_the_fault(attrs, text):
    with pytest.raises(DecoratorError, match=None) as err:
        trigger_events(attrs)
    assert text in str(err.value)


def test_trigger_on_finish_is_project_aware():
    assert finish_flows({"flow": "Up"}, None, None)[0] == (FlowTrigger("Up", "Up"),)
    assert finish_flows({"flow": "Up"}, "proj", "prod")[0] == (FlowTrigger("Up", "proj.prod.Up"),)
    assert finish_flows({"flow": "p.test.b.Up"}, None, None)[0] == (FlowTrigger("Up", "p.test.b.Up"),)
    assert finish_flows({"flow": {"name": "Up", "project_branch": "user.bob"}}, "proj", "prod")[0] == (
        FlowTrigger("Up", "proj.user.bob.Up"),)
    with pytest.raises(DecoratorError, match="fully qualified"):
        finish_flows({"flow": "a.Up"}, None, None)


def test_payload_maps_by_name_and_mapping_wins():
    triggers = flow_triggers({"events": [{"name": "a", "parameters": {"alpha": "weight"}}, "b"]}, None)
    payloads = {"a": {"alpha": 1, "weight": 0.5, "beta": "x"}, "b": {"gamma": 3}}
    assert mapped_parameters(triggers, payloads, ["alpha", "beta", "gamma", "delta"]) == {
        "alpha": 0.5, "beta": "x", "gamma": 3}


def test_execution_name_is_the_event_set():
    assert event_execution_name(["x", "y"]) == event_execution_name(["y", "x"]) != event_execution_name(["x"])
    assert len(event_execution_name(["x"])) <= 80
