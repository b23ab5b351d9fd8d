"""Run alerts end to end on the embedded stack, received by a webhook on loopback.

Deployed with `python flow.py step-functions create --notify-on-error URL`;
the stack's status-event stand-in puts Step Functions' status events on
EventBridge, moto's rule routes them to the alerts queue, and app.py's
`alerts` handler posts Slack's payload to the receiver.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from click.testing import CliRunner

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operator import cli
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import client_env, run_command, wait_for_run
from tests.helpers.webhook import webhook_receiver

pytestmark = pytest.mark.slow

FAILING_FLOW = '''\
from flowdrop import FlowSpec, step


class FailingAlertFlow(FlowSpec):
    @step
    def start(self):
        self.rows = []
        self.next(self.transform)

    @step
    def transform(self):
        if not self.rows:
            raise ValueError("no rows in input.csv")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailingAlertFlow()
'''

SUCCEEDING_FLOW = '''\
from flowdrop import FlowSpec, step


class {name}(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    {name}()
'''


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    options = StackOptions(state_dir=tmp_path_factory.mktemp("alerts-stack"), max_tasks=4, clock_interval=5.0,
                           status_interval=0.5)
    with EmbeddedStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def hook():
    with webhook_receiver() as receiver:
        yield receiver


def deploy(stack: EmbeddedStack, folder: Path, file_name: str, source: str, *options: str) -> None:
    (folder / file_name).write_text(source)
    run_command([sys.executable, file_name, "step-functions", "create", "--backend", "worker", *options],
                client_env(stack), folder)


def test_a_failing_run_alerts_once_and_a_succeeding_one_only_when_asked(stack, hook, tmp_path):
    api = ApiClient.from_config(stack.config)
    deploy(stack, tmp_path, "failing_alert_flow.py", FAILING_FLOW, "--notify-on-error", hook.url)
    shown = hook.url.rsplit("/hooks/", 1)[0] + "/..."  # the webhook's path is its secret: never shown
    assert api.get_flow("FailingAlertFlow")["alerts"] == {"on_error": [shown], "on_success": []}
    listed = next(f for f in api.list_flows()["flows"] if f["flow"] == "FailingAlertFlow")
    assert listed["alerts"] == {"on_error": [shown], "on_success": []}
    flows = CliRunner().invoke(cli, ["flows"], env={"FLOWDROP_CONFIG": str(stack.config_path)})
    line = next(line for line in flows.output.splitlines() if line.startswith("FailingAlertFlow "))
    assert line.endswith(" alerts-on-error:1"), flows.output
    failed = api.trigger("FailingAlertFlow", {})["run_id"]
    assert wait_for_run(api, "FailingAlertFlow", failed)["status"] == "FAILED"
    [message] = hook.wait_for(1)
    text = message["text"]
    assert text.startswith(f"flowdrop: FailingAlertFlow {failed} FAILED in step 'transform'\n"), text
    assert "failed step: transform (task transform, attempt 0)" in text
    assert "exception: builtins.ValueError: no rows in input.csv" in text
    assert text.rstrip().endswith("ValueError: no rows in input.csv")  # the traceback's last line

    # Alerts on error only: its success says nothing.
    deploy(stack, tmp_path, "quiet_flow.py", SUCCEEDING_FLOW.format(name="QuietFlow"), "--notify-on-error", hook.url)
    quiet = api.trigger("QuietFlow", {})["run_id"]
    assert wait_for_run(api, "QuietFlow", quiet)["status"] == "SUCCEEDED"
    # Asked for: a success alert. It is delivered after QuietFlow's event (which ended first), so
    # once it is here, every message the runs above caused is too.
    deploy(stack, tmp_path, "told_flow.py", SUCCEEDING_FLOW.format(name="ToldFlow"), "--notify-on-success", hook.url)
    told = api.trigger("ToldFlow", {})["run_id"]
    assert wait_for_run(api, "ToldFlow", told)["status"] == "SUCCEEDED"
    messages = hook.wait_for(2)
    assert [m["text"].splitlines()[0] for m in messages] == [
        f"flowdrop: FailingAlertFlow {failed} FAILED in step 'transform'",
        f"flowdrop: ToldFlow {told} SUCCEEDED"]


BLOCKING_FLOW = '''\
import os
import time

from flowdrop import FlowSpec, schedule, step


@schedule(cron="0 3 1 1 ? *")
class QueuedTickFlow(FlowSpec):
    @step
    def start(self):
        while not os.path.exists({marker!r}):  # the test lets the first run finish
            time.sleep(0.2)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    QueuedTickFlow()
'''


def test_a_scheduled_run_ending_starts_the_tick_queued_behind_it(stack, tmp_path):
    from datetime import datetime, timezone

    api = ApiClient.from_config(stack.config)
    marker = tmp_path / "let-it-finish"
    deploy(stack, tmp_path, "queued_tick_flow.py", BLOCKING_FLOW.format(marker=str(marker)), "--overlap", "queue")
    first, second = (datetime(2026, 1, 1, 3, tzinfo=timezone.utc), datetime(2027, 1, 1, 3, tzinfo=timezone.utc))
    assert stack.clock is not None
    [fired] = stack.clock.fire_now("QueuedTickFlow", at=first)
    assert (fired.result["outcome"], fired.result["run_id"]) == ("started", "sfn-sched-20260101T0300Z")
    [queued] = stack.clock.fire_now("QueuedTickFlow", at=second)
    assert (queued.result["outcome"], queued.result["blocked_by"]) == ("queued", "sfn-sched-20260101T0300Z")
    assert [r["run_id"] for r in api.list_runs("QueuedTickFlow")["runs"]] == ["sfn-sched-20260101T0300Z"]
    marker.write_text("go")
    assert wait_for_run(api, "QueuedTickFlow", "sfn-sched-20260101T0300Z")["status"] == "SUCCEEDED"
    # No tick fires now: the first run's status event starts the queued one.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(api.list_runs("QueuedTickFlow")["runs"]) < 2:
        time.sleep(0.2)
    answer = wait_for_run(api, "QueuedTickFlow", "sfn-sched-20270101T0300Z")
    assert (answer["status"], answer["scheduled_time"]) == ("SUCCEEDED", "2027-01-01T03:00:00Z")


WAITING_FLOW = '''\
import time

from flowdrop import FlowSpec, step


class TerminatedAlertFlow(FlowSpec):
    @step
    def start(self):
        time.sleep(600)  # terminated long before
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TerminatedAlertFlow()
'''


def test_a_terminated_run_alerts_on_error_saying_who_stopped_it(stack, hook, tmp_path):
    api = ApiClient.from_config(stack.config)
    deploy(stack, tmp_path, "terminated_alert_flow.py", WAITING_FLOW, "--notify-on-error", hook.url)
    run_id = api.trigger("TerminatedAlertFlow", {})["run_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and api.get_run("TerminatedAlertFlow", run_id)["steps"].get("start") != "RUNNING":
        time.sleep(0.2)
    # Its task has written run.json (terminate marks status.json only of a run the datastore knows).
    s3, key = stack.aws.client("s3"), f"data/TerminatedAlertFlow/runs/{run_id}/run.json"
    while time.monotonic() < deadline and not s3.list_objects_v2(Bucket=stack.config.bucket, Prefix=key).get("KeyCount"):
        time.sleep(0.2)
    before = len(hook.messages)
    api.terminate("TerminatedAlertFlow", run_id, "wrong input", "alice")
    assert wait_for_run(api, "TerminatedAlertFlow", run_id)["status"] == "ABORTED"
    texts = [m["text"] for m in hook.wait_for(before + 1)[before:]]
    [text] = [t for t in texts if run_id in t]
    assert text.startswith(f"flowdrop: TerminatedAlertFlow {run_id} ABORTED\n"), text
    assert "error: flowdrop.Terminated\n  terminated by alice: wrong input\n" in text
    assert "failed step" not in text  # stopped, not failed
