"""Schedules on the embedded stack, with the clock's time moved by the test.

The stack's clock reads the flows' EventBridge Scheduler schedules from moto
(which stores them but never fires them) and invokes the scheduled handler
the way Scheduler does, its Input carrying the tick's own time. Covers time
zones across both DST changes, the run knowing its tick, redeliveries,
the overlap policies and backfill.
"""

from __future__ import annotations

import textwrap
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from flowdrop.cli.api_client import ApiClient
from flowdrop.cli.operations import production_client
from flowdrop.local.stack import EmbeddedStack, StackOptions
from flowdrop.testing import deploy_flow, wait_for_run
from tests.helpers.clock import FakeTime

pytestmark = pytest.mark.slow

UTC = timezone.utc

BERLIN_FLOW = '''
from flowdrop import FlowSpec, current, schedule, step


@schedule(cron="0 9 * * ? *", timezone="Europe/Berlin")
class BerlinReportFlow(FlowSpec):

    @step
    def start(self):
        self.tick = current.scheduled_time.isoformat()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BerlinReportFlow()
'''

# An hourly flow whose start step waits while a gate file exists: the test
# holds a run "still going" for as long as it likes.
GATED_FLOW = '''
import os
import time

from flowdrop import FlowSpec, schedule, step


@schedule(hourly=True)
class {name}(FlowSpec):

    @step
    def start(self):
        while os.path.exists({gate!r}):
            time.sleep(0.1)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    {name}()
'''


@pytest.fixture(scope="module")
def fake_time() -> FakeTime:
    return FakeTime(datetime(2027, 3, 27, 7, 50, tzinfo=UTC))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, fake_time):
    options = StackOptions(state_dir=tmp_path_factory.mktemp("schedules-stack"), max_tasks=6, clock_interval=0.2,
                           now=fake_time)
    with EmbeddedStack(options) as running:
        yield running


@pytest.fixture(scope="module")
def api(stack) -> ApiClient:
    return ApiClient.from_config(stack.config)


def run_ids(api: ApiClient, flow: str) -> list[str]:
    return sorted(run["run_id"] for run in api.iter_runs(flow))


def wait_for_runs(api: ApiClient, flow: str, count: int, timeout: float = 30.0) -> list[str]:
    """The flow's run ids once there are `count` of them, after a few more clock ticks (a surplus shows)."""
    deadline = time.monotonic() + timeout
    while len(run_ids(api, flow)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # five more clock ticks in the same minute must start nothing more
    return run_ids(api, flow)


def all_succeed(api: ApiClient, flow: str, ids: list[str]) -> None:
    for run_id in ids:
        answer = wait_for_run(api, flow, run_id, timeout=120)
        assert answer["status"] == "SUCCEEDED", (run_id, answer.get("error"), answer.get("steps"))


def write_flow(tmp_path, file_name: str, source: str):
    path = tmp_path / file_name
    path.write_text(textwrap.dedent(source))
    return path


def test_a_berlin_schedule_fires_at_nine_local_across_both_dst_changes(stack, api, fake_time, tmp_path):
    flow = "BerlinReportFlow"
    deploy_flow(stack, write_flow(tmp_path, "berlin_flow.py", BERLIN_FLOW))
    summary = api.get_flow(flow)
    assert (summary["schedule"], summary["timezone"]) == ("cron(0 9 * * ? *)", "Europe/Berlin")
    # The deployer's own next fire times (from the real now) are all 09:00 in Berlin, whatever the season.
    berlin = ZoneInfo("Europe/Berlin")
    assert summary["next_fire_times"] and {
        datetime.fromisoformat(t).astimezone(berlin).strftime("%H:%M") for t in summary["next_fire_times"]} == {"09:00"}
    time.sleep(1.0)  # the clock knows the schedule at 07:50 UTC; nothing is due
    assert run_ids(api, flow) == []

    # Saturday 27 March, still winter time (CET, UTC+1): 09:00 in Berlin is 08:00 UTC.
    fake_time.set(datetime(2027, 3, 27, 7, 59, 50, tzinfo=UTC))
    time.sleep(1.0)
    assert run_ids(api, flow) == [], "fired before 09:00 Berlin"
    fake_time.set(datetime(2027, 3, 27, 8, 0, 4, tzinfo=UTC))
    assert wait_for_runs(api, flow, 1) == ["sfn-sched-20270327T0800Z"]
    # A redelivery of the same tick (Scheduler retries, at-least-once) starts nothing new.
    again = stack.clock.fire_now(flow, at=datetime(2027, 3, 27, 8, 0, tzinfo=UTC))
    assert [f.result["outcome"] for f in again] in (["existing"], ["skipped"])
    all_succeed(api, flow, ["sfn-sched-20270327T0800Z"])

    # Sunday 28 March the clocks go forward at 02:00: 09:00 CEST is 07:00 UTC, and 08:00 UTC is not a tick.
    fake_time.set(datetime(2027, 3, 28, 6, 59, 0, tzinfo=UTC))
    time.sleep(1.0)
    fake_time.set(datetime(2027, 3, 28, 7, 0, 3, tzinfo=UTC))
    wait_for_runs(api, flow, 2)
    fake_time.set(datetime(2027, 3, 28, 8, 0, 3, tzinfo=UTC))
    time.sleep(1.0)
    assert run_ids(api, flow) == ["sfn-sched-20270327T0800Z", "sfn-sched-20270328T0700Z"]
    all_succeed(api, flow, ["sfn-sched-20270328T0700Z"])

    # The run knows its tick: current.scheduled_time, the run status, the system tag.
    production_client(stack.config)
    from flowdrop.client import Run

    run = Run(f"{flow}/sfn-sched-20270328T0700Z")
    assert run["start"].task.data.tick == "2027-03-28T07:00:00+00:00"
    assert "scheduled_time:2027-03-28T07:00:00Z" in run.system_tags
    assert api.get_run(flow, "sfn-sched-20270328T0700Z")["scheduled_time"] == "2027-03-28T07:00:00Z"


def test_a_berlin_schedule_keeps_nine_local_when_the_clocks_go_back(stack, api, fake_time, tmp_path):
    flow = "BerlinReportFlow"
    if flow in {f["flow"] for f in api.list_flows()["flows"]}:
        api.delete_flow(flow)  # its schedule goes; the clock forgets it before the jump to October
    time.sleep(0.6)
    fake_time.set(datetime(2027, 10, 30, 6, 50, tzinfo=UTC))
    deploy_flow(stack, write_flow(tmp_path, "berlin_flow.py", BERLIN_FLOW))
    time.sleep(1.0)
    before = set(run_ids(api, flow))
    # Saturday 30 October, summer time still (UTC+2): 07:00 UTC.
    fake_time.set(datetime(2027, 10, 30, 7, 0, 2, tzinfo=UTC))
    assert set(wait_for_runs(api, flow, len(before) + 1)) - before == {"sfn-sched-20271030T0700Z"}
    all_succeed(api, flow, ["sfn-sched-20271030T0700Z"])
    # Sunday 31 October the clocks go back at 03:00: 07:00 UTC is 08:00 CET, not a tick; 08:00 UTC is.
    fake_time.set(datetime(2027, 10, 31, 7, 0, 2, tzinfo=UTC))
    time.sleep(1.0)
    assert set(run_ids(api, flow)) - before == {"sfn-sched-20271030T0700Z"}
    fake_time.set(datetime(2027, 10, 31, 8, 0, 2, tzinfo=UTC))
    assert set(wait_for_runs(api, flow, len(before) + 2)) - before == {
        "sfn-sched-20271030T0700Z", "sfn-sched-20271031T0800Z"}
    all_succeed(api, flow, ["sfn-sched-20271031T0800Z"])
    api.delete_flow(flow)


@pytest.mark.parametrize("overlap", ["skip", "queue"])
def test_a_tick_that_finds_its_previous_run_going_is_skipped_or_queued(stack, api, fake_time, tmp_path, overlap):
    flow = f"Gated{overlap.title()}Flow"
    gate = tmp_path / "gate"
    gate.write_text("hold")
    time.sleep(0.6)
    fake_time.set(datetime(2027, 11, 2, 9, 50, tzinfo=UTC))
    path = write_flow(tmp_path, "gated_flow.py", GATED_FLOW.format(name=flow, gate=str(gate)))
    deploy_flow(stack, path, create_options=("--overlap", overlap) if overlap != "skip" else ())
    assert api.get_flow(flow)["overlap"] == overlap
    time.sleep(1.0)
    fake_time.set(datetime(2027, 11, 2, 10, 0, 2, tzinfo=UTC))
    assert wait_for_runs(api, flow, 1) == ["sfn-sched-20271102T1000Z"]
    # 11:00: the 10:00 run is still waiting at its gate.
    fake_time.set(datetime(2027, 11, 2, 11, 0, 2, tzinfo=UTC))
    time.sleep(1.5)
    assert run_ids(api, flow) == ["sfn-sched-20271102T1000Z"]
    fired = stack.clock.fire_now(flow, at=datetime(2027, 11, 2, 11, 0, tzinfo=UTC))
    expected = {"skip": "skipped", "queue": "queued"}[overlap]
    assert [(f.result["outcome"], f.result["blocked_by"]) for f in fired] == [(expected, "sfn-sched-20271102T1000Z")]
    gate.unlink()
    all_succeed(api, flow, ["sfn-sched-20271102T1000Z"])
    # The next tick: a queued 11:00 starts first (then 12:00 waits for it); a skipped one is gone for good.
    fake_time.set(datetime(2027, 11, 2, 12, 0, 2, tzinfo=UTC))
    if overlap == "queue":
        assert "sfn-sched-20271102T1100Z" in wait_for_runs(api, flow, 2)
    else:
        assert wait_for_runs(api, flow, 2) == ["sfn-sched-20271102T1000Z", "sfn-sched-20271102T1200Z"]
    api.delete_flow(flow)


def test_backfill_starts_one_run_per_missed_tick_and_again_none(stack, api, fake_time, tmp_path):
    flow = "GatedBackfillFlow"
    gate = tmp_path / "gate"  # absent: runs go straight through
    time.sleep(0.6)
    fake_time.set(datetime(2027, 11, 20, 15, 30, tzinfo=UTC))
    deploy_flow(stack, write_flow(tmp_path, "gated_flow.py", GATED_FLOW.format(name=flow, gate=str(gate))))
    # Six hourly ticks, 09:00 to 14:00, missed (a deploy gap, an outage); the deployer's now is the real one.
    answer = api.backfill(flow, "2026-11-20T09:00:00Z", "2026-11-20T14:00:00Z")
    expected = [f"sfn-sched-20261120T{hour:02d}00Z" for hour in range(9, 15)]
    assert sorted(answer["started"]) == expected and answer["existing"] == []
    all_succeed(api, flow, expected)
    assert run_ids(api, flow) == expected
    again = api.backfill(flow, "2026-11-20T09:00:00Z", "2026-11-20T14:00:00Z")
    assert again["started"] == [] and sorted(again["existing"]) == expected
    assert run_ids(api, flow) == expected
    with pytest.raises(Exception) as refused:
        api.backfill(flow, "2026-11-20T14:00:00Z", "2099-01-01T00:00:00Z")
    assert getattr(refused.value, "status", None) == 400 and "in the future" in " ".join(refused.value.problems)
    api.delete_flow(flow)
