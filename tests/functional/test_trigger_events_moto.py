"""The events queue's handler (deployer/events.py) on the moto server, its clock passed in: a multi-event window."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from flowdrop.deployer.deploy import deploy_package
from flowdrop.deployer.events import handle_message
from tests.helpers.deployer import T0, DeployerStack, make_stack

pytestmark = pytest.mark.filterwarnings("ignore:Couldn.t determine the remaining time")

PAIR_FLOW = '''
from flowdrop import FlowSpec, Parameter, step, trigger

@trigger(events=["left.ready", "right.ready"], options={"window": 600})
class PairFlow(FlowSpec):
    left = Parameter("left", default="")
    right = Parameter("right", default="")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def message(flow: str, name: str, event_id: str, payload: dict) -> str:
    """The body a trigger rule's InputTransformer puts in the events queue for a published event."""
    detail = {"name": name, "id": event_id, "timestamp": int(T0.timestamp()), **payload}
    return json.dumps({"flow": flow, "event": {"source": "flowdrop.events", "detail-type": name, "detail": detail}})


def with_events(stack: DeployerStack) -> DeployerStack:
    """`stack` with the event bus and the events queue trigger rules deliver to, as @trigger flows need."""
    sqs = stack.sqs
    queue_url = sqs.create_queue(QueueName=f"{stack.name}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.clients.events.create_event_bus(Name=f"{stack.name}-bus")
    return replace(stack, settings=replace(stack.settings, events_queue_arn=queue_arn, event_bus=f"{stack.name}-bus"))


def test_an_event_older_than_the_window_does_not_count_toward_the_set(aws, unique_name):
    stack = with_events(make_stack(aws, unique_name))
    package = stack.package(PAIR_FLOW, file_name="pair_flow.py")
    stack.upload(package.key, package.data)
    assert deploy_package(stack.bucket, package.key, stack.clients, stack.settings, T0).status == "ACCEPTED"
    flow = stack.machine("PairFlow")

    def deliver(name: str, event_id: str, payload: dict, seconds: int):
        return handle_message(message(flow, name, event_id, payload), stack.clients, stack.settings,
                              T0 + timedelta(seconds=seconds))

    first = deliver("left.ready", "left-1", {"left": "old"}, 0)
    assert (first.outcome, first.waiting_for) == ("waiting", ("right.ready",))
    # 601 s later: left-1 is outside the 600 s window, so the set is not complete.
    late = deliver("right.ready", "right-1", {"right": "R"}, 601)
    assert (late.outcome, late.waiting_for) == ("waiting", ("left.ready",)), late
    assert stack.clients.sfn.list_executions(stateMachineArn=stack.machine_arn("PairFlow"))["executions"] == []
    # A new left event within the window of right-1 completes it: the run has left-2 and right-1, not left-1.
    done = deliver("left.ready", "left-2", {"left": "new"}, 1200)
    assert done.outcome == "started" and done.run_id, done
    (execution,) = stack.clients.sfn.list_executions(stateMachineArn=stack.machine_arn("PairFlow"))["executions"]
    run_input = json.loads(stack.clients.sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert json.loads(run_input["Parameters"]) == {"left": "new", "right": "R"}
    assert [m["id"] for m in json.loads(run_input["Trigger"])] == ["left-2", "right-1"]
    outcomes = [o["outcome"] for o in stack.store.event_outcomes(flow)]
    assert outcomes == ["waiting", "waiting", "started"]
