"""The embedded stack's stand-ins on their own: SQS event source, schedule clock, package cache.

The clock runs against a small fake of the EventBridge client with an
injected time source; the event source against a fake queue. The redrive
to the dead-letter queue, on the session's moto server:
tests/functional/test_local_events_moto.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from flowdrop.errors import FlowdropError
from flowdrop.deployer.plan import scheduled_input
from flowdrop.local.clock import ScheduleClock
from flowdrop.local.events import SqsEventSource, failed_message_ids

SCHEDULED_ARN = "arn:aws:lambda:us-east-1:123456789012:function:flowdrop-local-scheduled"
UTC = timezone.utc


# -- SQS event source ----------------------------------------------------------------------------


def records(*ids: str) -> list[dict]:
    return [{"messageId": i, "receiptHandle": f"rh-{i}", "body": i} for i in ids]


@pytest.mark.parametrize("response, failed", [
    (None, set()),
    ({"batchItemFailures": []}, set()),
    ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
    ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),  # unknown id: the whole batch, as on AWS
    ({"batchItemFailures": [{}]}, {"a", "b"}),
    ("garbage", {"a", "b"}),
])
def test_partial_batch_response_decides_what_failed(response, failed):
    assert failed_message_ids(response, records("a", "b")) == failed


class FakeSqs:
    def __init__(self):
        self.deleted: list[str] = []

    def delete_message(self, QueueUrl, ReceiptHandle):
        self.deleted.append(ReceiptHandle)


def test_only_successful_messages_are_deleted():
    sqs = FakeSqs()
    source = SqsEventSource(sqs, "q", "arn:q", lambda event, ctx: {"batchItemFailures": [{"itemIdentifier": "b"}]})
    source.deliver(records("a", "b", "c"))
    assert sqs.deleted == ["rh-a", "rh-c"]
    assert (source.delivered, source.failed) == (3, 1)


def test_a_raising_handler_fails_the_whole_batch():
    sqs = FakeSqs()

    def handler(event, ctx):
        raise RuntimeError("boom")

    source = SqsEventSource(sqs, "q", "arn:q", handler)
    source.deliver(records("a", "b"))
    assert sqs.deleted == [] and source.failed == 2


# -- schedule clock ------------------------------------------------------------------------------


class FakeScheduler:
    """The two EventBridge Scheduler reads the clock makes."""

    def __init__(self):
        self.schedules: dict[str, dict] = {}

    def put(self, name: str, expression: str, flow: str, state: str = "ENABLED", arn: str = SCHEDULED_ARN,
            zone: str | None = None) -> None:
        schedule = {"Name": name, "GroupName": "flowdrop", "ScheduleExpression": expression, "State": state,
                    "Arn": f"arn:aws:scheduler:us-east-1:123456789012:schedule/flowdrop/{name}",
                    "Target": {"Arn": arn, "RoleArn": "role", "Input": scheduled_input(flow)}}
        if zone:
            schedule["ScheduleExpressionTimezone"] = zone
        self.schedules[name] = schedule

    def list_schedules(self, GroupName, NextToken=None):
        return {"Schedules": [{k: v for k, v in s.items() if k in ("Name", "GroupName", "State", "Arn")}
                              for _, s in sorted(self.schedules.items()) if s["GroupName"] == GroupName]}

    def get_schedule(self, Name, GroupName):
        return self.schedules[Name]


class Clock:
    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def make_clock(start: datetime) -> tuple[ScheduleClock, FakeScheduler, Clock, list[dict]]:
    events, now, invoked = FakeScheduler(), Clock(start), []

    def invoke(event):
        invoked.append(event)
        return {"run_id": "sfn-sched-" + event["scheduled_time"]}

    return ScheduleClock(events, SCHEDULED_ARN, invoke, now=now), events, now, invoked


def test_a_rule_fires_once_per_tick_and_not_for_the_time_before_it_was_seen():
    clock, events, now, invoked = make_clock(datetime(2026, 11, 25, 9, 30, tzinfo=UTC))
    events.put("flowdrop-HourlyFlow", "cron(0 * * * ? *)", "HourlyFlow")
    clock.tick()
    assert invoked == []  # 09:00 is before the clock saw the rule: never backfilled
    for minute in (59, 60, 61, 75):
        now.moment = datetime(2026, 11, 25, 9, 0, tzinfo=UTC) + timedelta(minutes=minute, seconds=5)
        clock.tick()
        clock.tick()
    # Scheduler's context attributes filled in: the tick itself, the first attempt.
    assert invoked == [{"flow": "HourlyFlow", "scheduled_time": "2026-11-25T10:00:00Z", "attempt": "1"}]
    now.moment = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
    clock.tick()
    assert [e["scheduled_time"] for e in invoked[1:]] == ["2026-11-25T11:00:00Z", "2026-11-25T12:00:00Z"]


def fired_over(expression: str, zone: str, start: datetime, end: datetime, step: timedelta) -> list[str]:
    """What the clock fires for one schedule, ticking every `step` from `start` to `end`."""
    clock, scheduler, now, invoked = make_clock(start)
    scheduler.put("flowdrop-F", expression, "F", zone=zone)
    moment = start
    while moment <= end:
        now.moment = moment
        clock.tick()
        moment += step
    return [e["scheduled_time"] for e in invoked]


def test_a_berlin_morning_schedule_follows_daylight_saving_time():
    # 09:00 Europe/Berlin: 08:00 UTC in winter (CET), 07:00 UTC in summer (CEST);
    # in 2026 the clocks go forward on 29 March and back on 25 October.
    spring = fired_over("cron(0 9 * * ? *)", "Europe/Berlin", datetime(2026, 3, 27, 12, tzinfo=UTC),
                        datetime(2026, 3, 31, 12, tzinfo=UTC), timedelta(minutes=20))
    assert spring == ["2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z",
                      "2026-03-31T07:00:00Z"]
    autumn = fired_over("cron(0 9 * * ? *)", "Europe/Berlin", datetime(2026, 10, 23, 12, tzinfo=UTC),
                        datetime(2026, 10, 27, 12, tzinfo=UTC), timedelta(minutes=20))
    assert autumn == ["2026-10-24T07:00:00Z", "2026-10-25T08:00:00Z", "2026-10-26T08:00:00Z",
                      "2026-10-27T08:00:00Z"]


def test_wall_times_that_dst_skips_or_repeats_fire_once_at_most():
    # 02:30 Berlin does not exist on 29 March (02:00 -> 03:00) and happens twice on 25 October.
    spring = fired_over("cron(30 2 * * ? *)", "Europe/Berlin", datetime(2026, 3, 28, 0, tzinfo=UTC),
                        datetime(2026, 3, 30, 3, tzinfo=UTC), timedelta(minutes=10))
    assert spring == ["2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"]
    autumn = fired_over("cron(30 2 * * ? *)", "Europe/Berlin", datetime(2026, 10, 24, 0, tzinfo=UTC),
                        datetime(2026, 10, 26, 3, tzinfo=UTC), timedelta(minutes=10))
    assert autumn == ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]


@pytest.mark.parametrize("expression, start, end, expected", [
    # L: the last day of the month
    ("cron(0 12 L * ? *)", datetime(2026, 11, 29, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC),
     ["2026-11-30T12:00:00Z"]),
    # #: the first Monday (AWS day-of-week 2) of the month
    ("cron(30 9 ? * 2#1 *)", datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC),
     ["2026-12-07T09:30:00Z"]),
    # W: the weekday nearest the 1st (2026-11-01 is a Sunday -> Monday the 2nd)
    ("cron(0 8 1W * ? *)", datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC),
     ["2026-11-02T08:00:00Z"]),
    # the year field: nothing in 2026 for a 2027-only rule
    ("cron(0 0 1 1 ? 2027)", datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, 0, 1, tzinfo=UTC),
     ["2027-01-01T00:00:00Z"]),
    ("rate(20 minutes)", datetime(2026, 11, 25, 10, 5, tzinfo=UTC), datetime(2026, 11, 25, 11, 0, tzinfo=UTC),
     ["2026-11-25T10:20:00Z", "2026-11-25T10:40:00Z", "2026-11-25T11:00:00Z"]),
])
def test_aws_cron_and_rate_expressions_fire_when_due(expression, start, end, expected):
    clock, events, now, invoked = make_clock(start)
    events.put("flowdrop-F", expression, "F")
    clock.tick()
    now.moment = end
    clock.tick()
    assert [e["scheduled_time"] for e in invoked] == expected


def test_disabled_rules_and_foreign_targets_do_not_fire():
    clock, events, now, invoked = make_clock(datetime(2026, 11, 25, 9, 59, tzinfo=UTC))
    events.put("flowdrop-Off", "cron(0 * * * ? *)", "Off", state="DISABLED")
    events.put("flowdrop-Other", "cron(0 * * * ? *)", "Other", arn="arn:aws:sqs:us-east-1:123456789012:q")
    clock.tick()
    now.moment = datetime(2026, 11, 25, 10, 1, tzinfo=UTC)
    clock.tick()
    assert invoked == []


def test_fire_now_fires_this_minute_and_names_a_flow_without_a_rule():
    clock, events, now, invoked = make_clock(datetime(2026, 11, 25, 10, 17, 42, tzinfo=UTC))
    events.put("flowdrop-HourlyFlow", "cron(0 * * * ? *)", "HourlyFlow")
    firings = clock.fire_now("HourlyFlow")
    assert invoked == [{"flow": "HourlyFlow", "scheduled_time": "2026-11-25T10:17:00Z", "attempt": "1"}]
    assert firings[0].result == {"run_id": "sfn-sched-2026-11-25T10:17:00Z"} and firings[0].error is None
    with pytest.raises(FlowdropError, match="'NoSuchFlow' has no enabled schedule"):
        clock.fire_now("NoSuchFlow")


def test_a_failing_handler_is_recorded_and_other_rules_still_fire():
    events, now = FakeScheduler(), Clock(datetime(2026, 11, 25, 9, 59, tzinfo=UTC))
    events.put("flowdrop-A", "cron(0 * * * ? *)", "A")
    events.put("flowdrop-B", "cron(0 * * * ? *)", "B")

    def invoke(event):
        if event["flow"] == "A":
            raise RuntimeError("no production release")
        return {"ok": True}

    clock = ScheduleClock(events, SCHEDULED_ARN, invoke, now=now)
    clock.tick()
    now.moment = datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)
    fired = clock.tick()
    assert [(f.rule, f.error) for f in fired] == [("flowdrop-A", "RuntimeError: no production release"),
                                                  ("flowdrop-B", None)]
