"""End to end on the embedded stack: @trigger flows started by published events.

Flows are deployed as users deploy them; events go through POST /events (the
bus, a rule, the events queue, the handler); runs execute on moto's Step
Functions and are read back with the client API.
"""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, wait_for_run

pytestmark = pytest.mark.slow

ONE_EVENT = '''
from flowdrop import FlowSpec, Parameter, current, step, trigger

@trigger(event={"name": "data.ready", "parameters": {"alpha": "weight"}})
class EventFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    label = Parameter("label", default="none")
    count = Parameter("count", type=int, required=True)

    @step
    def start(self):
        self.trigger_name = current.trigger.event.name
        self.trigger_names = [e.name for e in current.trigger.events]
        self.by_key = current.trigger["data.ready"].id
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    EventFlow()
'''

TWO_EVENTS = '''
from flowdrop import FlowSpec, Parameter, current, step, trigger

@trigger(events=["left.ready", "right.ready"], options={"window": 600})
class PairFlow(FlowSpec):
    left = Parameter("left", default="")
    right = Parameter("right", default="")

    @step
    def start(self):
        self.names = sorted(e.name for e in current.trigger.events)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PairFlow()
'''


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with EmbeddedStack(StackOptions(state_dir=tmp_path_factory.mktemp("events-stack"), max_tasks=4,
                                    clock_interval=5.0)) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack) -> ApiClient:
    return ApiClient.from_config(stack.config)


@pytest.fixture(scope="module")
def event_flow(stack, tmp_path_factory) -> str:
    deploy_source(stack, tmp_path_factory.mktemp("event-flow"), "event_flow.py", ONE_EVENT)
    return "EventFlow"


def deploy_source(stack, tmp_path, name: str, source: str) -> None:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    output = deploy_flow(stack, path, "--no-pylint", cwd=tmp_path)
    assert "pushed" in output, output


def outcomes_for(api: ApiClient, flow: str, event_id: str, count: int = 1, timeout: float = 60.0) -> list[dict]:
    """The recorded outcomes of event `event_id` once `count` of them are there."""
    deadline = time.monotonic() + timeout
    while True:
        found = [o for o in api.flow_events(flow) if o.get("event_id") == event_id]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"event {event_id} of {flow}: {api.flow_events(flow)}"
        time.sleep(0.2)


def test_event_payload_starts_one_run_with_its_parameters(stack, api, event_flow):
    rules = stack.aws.client("events").list_rules(EventBusName=stack.names.event_bus)["Rules"]
    assert any(json.loads(r["EventPattern"])["detail-type"] == ["data.ready"] for r in rules)

    sent = api.publish_event("data.ready", {"weight": 0.25, "label": "fresh", "count": 3, "id": "evt-one"})
    assert sent["id"] == "evt-one"
    (outcome,) = outcomes_for(api, "EventFlow", "evt-one")
    assert outcome["outcome"] == "started", outcome
    answer = wait_for_run(api, "EventFlow", outcome["run_id"], timeout=180)
    assert answer["status"] == "SUCCEEDED", answer

    from flowdrop.client import Run

    production_client(stack.config)
    run = Run(f"EventFlow/{outcome['run_id']}")
    start = run["start"].task.data
    assert (start.alpha, start.label, start.count) == (0.25, "fresh", 3)  # mapped field, same-name fields
    assert (start.trigger_name, start.trigger_names, start.by_key) == ("data.ready", ["data.ready"], "evt-one")
    assert run.trigger.event.name == "data.ready" and run.trigger.event.id == "evt-one"

    # The same event again (same id): recorded as a duplicate, no second run.
    api.publish_event("data.ready", {"weight": 0.25, "label": "fresh", "count": 3, "id": "evt-one"})
    second = outcomes_for(api, "EventFlow", "evt-one", count=2)[-1]
    assert (second["outcome"], second["run_id"]) == ("duplicate", outcome["run_id"])
    assert [r["run_id"] for r in api.list_runs("EventFlow")["runs"]] == [outcome["run_id"]]


@pytest.mark.parametrize("payload, reason", [
    ({"count": "many", "id": "evt-bad-type"}, "count"),
    ({"label": "x", "id": "evt-missing"}, "'count' is required"),
])
def test_bad_payload_starts_nothing_and_says_why(stack, api, event_flow, payload, reason):
    before = {r["run_id"] for r in api.list_runs("EventFlow")["runs"]}
    api.publish_event("data.ready", payload)
    (outcome,) = outcomes_for(api, "EventFlow", payload["id"])
    assert outcome["outcome"] == "rejected" and reason in outcome["reason"], outcome
    assert {r["run_id"] for r in api.list_runs("EventFlow")["runs"]} == before


def test_two_event_trigger_starts_only_when_both_arrived(stack, api, tmp_path):
    deploy_source(stack, tmp_path, "pair_flow.py", TWO_EVENTS)
    api.publish_event("left.ready", {"left": "L", "id": "evt-left"})
    (first,) = outcomes_for(api, "PairFlow", "evt-left")
    assert (first["outcome"], first["waiting_for"]) == ("waiting", ["right.ready"])
    assert api.list_runs("PairFlow")["runs"] == []

    api.publish_event("right.ready", {"right": "R", "id": "evt-right"})
    (second,) = outcomes_for(api, "PairFlow", "evt-right")
    assert second["outcome"] == "started", second
    answer = wait_for_run(api, "PairFlow", second["run_id"], timeout=180)
    assert answer["status"] == "SUCCEEDED", answer
    from flowdrop.client import Run

    production_client(stack.config)
    start = Run(f"PairFlow/{second['run_id']}")["start"].task.data
    assert (start.left, start.right, start.names) == ("L", "R", ["left.ready", "right.ready"])


def test_cli_and_event_class_publish_start_runs(stack, api, event_flow):
    from click.testing import CliRunner

    from flowdrop import Event
    from flowdrop.cli.operator import cli

    result = CliRunner().invoke(cli, ["event", "publish", "data.ready", "--payload", "count=7", "--payload",
                                      "weight=0.75", "--id", "evt-cli"],
                                env={"FLOWDROP_CONFIG": str(stack.config_path)}, catch_exceptions=False)
    assert result.exit_code == 0 and "Published event data.ready (id evt-cli)" in result.output, result.output
    (by_cli,) = outcomes_for(api, "EventFlow", "evt-cli")

    event_id = Event("data.ready", config=stack.config).add_to_payload("count", 8).publish({"label": "py"})
    (by_class,) = outcomes_for(api, "EventFlow", event_id)
    from flowdrop.client import Run

    production_client(stack.config)
    for outcome, expected in ((by_cli, (0.75, "none", 7)), (by_class, (0.5, "py", 8))):
        assert outcome["outcome"] == "started", outcome
        assert wait_for_run(api, "EventFlow", outcome["run_id"], timeout=180)["status"] == "SUCCEEDED"
        data = Run(f"EventFlow/{outcome['run_id']}")["start"].task.data
        assert (data.alpha, data.label, data.count) == expected  # strings converted to the parameters' types


UPSTREAM = '''
from flowdrop import FlowSpec, Parameter, step

class UpFlow(FlowSpec):
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        if self.fail:
            raise ValueError("the upstream run was asked to fail")
        self.made = 41
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    UpFlow()
'''

DOWNSTREAM = '''
from flowdrop import FlowSpec, current, step, trigger_on_finish

@trigger_on_finish(flow="UpFlow")
class DownFlow(FlowSpec):
    @step
    def start(self):
        self.upstream = current.trigger.run.pathspec
        self.upstream_made = current.trigger.run.data.made + 1
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DownFlow()
'''


def test_upstream_success_starts_the_downstream_flow_and_failure_does_not(stack, api, tmp_path):
    # Real upstream runs: the embedded stack emits their status events (local/status_events.py) as Step
    # Functions does on AWS; the @trigger_on_finish rule matches only the SUCCEEDED one.
    deploy_source(stack, tmp_path, "up_flow.py", UPSTREAM)
    deploy_source(stack, tmp_path, "down_flow.py", DOWNSTREAM)
    failed_run = api.trigger("UpFlow", {"fail": True})["run_id"]
    assert wait_for_run(api, "UpFlow", failed_run, timeout=180)["status"] == "FAILED"
    upstream_run = api.trigger("UpFlow", {})["run_id"]
    assert wait_for_run(api, "UpFlow", upstream_run, timeout=180)["status"] == "SUCCEEDED"
    arn = f"arn:aws:states:us-east-1:{stack.names.account}:execution:UpFlow:{upstream_run[len('sfn-'):]}"

    (outcome,) = outcomes_for(api, "DownFlow", arn)
    assert outcome["outcome"] == "started", outcome
    # The failed run ended first; its status event reached no rule, so the success is all DownFlow saw.
    assert [o["event_id"] for o in api.flow_events("DownFlow")] == [arn]
    answer = wait_for_run(api, "DownFlow", outcome["run_id"], timeout=180)
    assert answer["status"] == "SUCCEEDED", (answer.get("error"), answer.get("cause"))

    from flowdrop.client import Run

    production_client(stack.config)
    run = Run(f"DownFlow/{outcome['run_id']}")
    data = run["start"].task.data
    assert (data.upstream, data.upstream_made) == (f"UpFlow/{upstream_run}", 42)
    assert run.trigger.run.pathspec == f"UpFlow/{upstream_run}"
    assert run.trigger.event.name == "metaflow.UpFlow.end"
    assert len(api.list_runs("DownFlow")["runs"]) == 1


def test_the_flow_lists_its_triggers_in_the_api_and_the_operator_cli(stack, api, event_flow):
    from click.testing import CliRunner

    from flowdrop.cli.operator import cli

    (view,) = api.get_flow("EventFlow")["trigger_rules"]
    assert (view["kind"], view["event"], view["parameters"]) == ("event", "data.ready", {"alpha": "weight"})
    assert view["pattern"] == {"detail-type": ["data.ready"], "source": ["flowdrop.events"]}
    rules = stack.aws.client("events").list_rules(EventBusName=view["bus"])["Rules"]
    assert view["rule"] in {r["Name"] for r in rules}  # the rule shown is the rule kept
    assert view["target"].endswith(":" + stack.names.events_queue)
    result = CliRunner().invoke(cli, ["flows", "EventFlow"], env={"FLOWDROP_CONFIG": str(stack.config_path)},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "EventFlow: production version 1 of 1" in result.output
    assert f"  event 'data.ready': rule {view['rule']} on bus {view['bus']}" in result.output
    assert "parameters: alpha <- payload['weight']" in result.output
