"""What starts a deployed flow, shown: `create --only-json` (stderr) and GET /flows/{flow}'s `triggers`."""

from __future__ import annotations

import json
import textwrap

from flowdrop.deployer.plan import EventTarget, wanted_event_rules
from flowdrop.deployer.trigger_views import trigger_lines, trigger_views
from flowdrop.model.triggers import EventTrigger, FlowTrigger, FlowTriggers
from tests.helpers.cli import EXAMPLES, env, invoke, load_cli  # noqa: F401  (fixtures)

TARGET = EventTarget("arn:aws:sqs:eu-west-1:111122223333:flowdrop-events-prod", "flowdrop-prod", "default", "aws",
                     "eu-west-1", "111122223333")
TRIGGERS = FlowTriggers((EventTrigger("data.ready", {"alpha": "weight"}),), (FlowTrigger("TrainFlow", "TrainFlow"),),
                        600)


def test_the_views_are_the_rules_the_deployer_puts_then_the_schedule():
    views = trigger_views("ReportFlow", TRIGGERS, {"expression": "cron(0 10 * * ? *)", "timezone": "Europe/Berlin"},
                          "queue", TARGET)
    rules = wanted_event_rules("ReportFlow", TRIGGERS, TARGET)
    assert [v.get("rule") for v in views[:2]] == [r.name for r in rules]
    event, upstream, schedule = views
    assert event["kind"] == "event" and event["bus"] == "flowdrop-prod" and event["parameters"] == {"alpha": "weight"}
    assert event["pattern"] == {"detail-type": ["data.ready"], "source": ["flowdrop.events"]}
    assert event["target"] == TARGET.queue_arn and event["window_seconds"] == 600
    assert upstream["kind"] == "flow" and upstream["bus"] == "default"
    assert upstream["pattern"]["detail"] == {
        "stateMachineArn": ["arn:aws:states:eu-west-1:111122223333:stateMachine:TrainFlow"], "status": ["SUCCEEDED"]}
    assert schedule == {"kind": "schedule", "name": "flowdrop-ReportFlow", "group": "flowdrop",
                        "expression": "cron(0 10 * * ? *)", "timezone": "Europe/Berlin", "overlap": "queue"}


def test_the_lines_say_each_trigger_its_pattern_and_target():
    lines = trigger_lines("ReportFlow", trigger_views("ReportFlow", TRIGGERS, None, None, TARGET))
    text = "\n".join(lines)
    assert lines[0] == "Triggers of ReportFlow (the rules and schedule the deployer keeps):"
    assert "  event 'data.ready': rule fd-ev-ReportFlow-" in text and " on bus flowdrop-prod" in text
    assert "parameters: alpha <- payload['weight']; others from the payload field of its own name" in text
    assert '      pattern {"detail-type": ["data.ready"], "source": ["flowdrop.events"]}' in text
    assert "  success of TrainFlow: rule fd-ev-ReportFlow-" in text
    assert text.count(f"delivers to {TARGET.queue_arn}") == 2
    assert lines[-1] == "  one run starts once every event above has arrived within 600 s"
    assert trigger_lines("Plain", []) == [
        "Plain has no triggers: it runs when started through the API (step-functions trigger)."]


def test_create_only_json_prints_the_rules_on_stderr_and_only_the_definition_on_stdout(env, tmp_path):
    flow = tmp_path / "report_flow.py"
    flow.write_text(textwrap.dedent('''
        from flowdrop import FlowSpec, Parameter, schedule, step, trigger, trigger_on_finish

        @schedule(hourly=True)
        @trigger(event={"name": "data.ready", "parameters": {"alpha": "weight"}})
        @trigger_on_finish(flow="TrainFlow")
        class ReportFlow(FlowSpec):
            alpha = Parameter("alpha", default=0.5)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    '''))
    result = invoke(load_cli(flow), ["step-functions", "create", "--only-json"], env)
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["States"]) >= {"start", "end"}
    assert "Triggers of ReportFlow" in result.stderr
    assert "  event 'data.ready': rule fd-ev-ReportFlow-" in result.stderr
    assert "arn:aws:states:REGION:ACCOUNT:stateMachine:TrainFlow" in result.stderr
    assert "  schedule flowdrop-ReportFlow (EventBridge Scheduler, group flowdrop): cron(0 * * * ? *) UTC" \
        in result.stderr


def test_a_flow_without_triggers_prints_no_rules(env):
    result = invoke(load_cli(EXAMPLES / "parameter_flow.py"), ["step-functions", "create", "--only-json"], env)
    assert result.exit_code == 0 and "Triggers" not in result.stderr
