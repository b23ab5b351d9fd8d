"""The deployer's pure core (names, auth, planning, run states, ticks, events, requests), on literal inputs.

Its SQS edge and its services against the moto server: tests/functional/test_deployer_moto.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Couldn.t determine the remaining time")

from flowdrop.deployer.auth import token_allowed, token_digest
from flowdrop.deployer.candidate import graph_differences
from flowdrop.deployer.plan import (
    ClaimProduction,
    DeleteRule,
    DeleteSchedule,
    Live,
    LiveSchedule,
    PointAlias,
    PublishedVersion,
    PublishVersion,
    PutSchedule,
    RecordRelease,
    ScheduleTarget,
    UseVersion,
    plan_deployment,
    plan_removal,
    scheduled_input,
    schedule_actions,
)
from flowdrop.deployer.records import Production, Release
from flowdrop.deployer.schedule import scheduled_tick
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.deployer.sqs_events import package_notifications
from flowdrop.deployer.step_states import step_states
from flowdrop.deployer.trigger import TriggerRequest
from flowdrop.errors import ConfigError, PackageError, RequestError
from flowdrop.graph import parse_flow
from flowdrop.model import names
from flowdrop.model import runs as run_ids
from flowdrop.model.schedule import Schedule
from tests.helpers.deployer import EXAMPLES, SHA, notification

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:TrainFlow"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:scheduled"
# -- names ---------------------------------------------------------------------------------------


def test_rule_names_fit_eventbridge():
    assert names.rule_name("TrainFlow") == "flowdrop-TrainFlow"
    long_a, long_b = "proj.user.alice." + "X" * 70, "proj.user.alice." + "X" * 69 + "Y"
    for name in (long_a, long_b, "a+b=c"):
        rule = names.rule_name(name)
        assert len(rule) <= 64 and re.fullmatch(r"[.\-_A-Za-z0-9]+", rule), rule
    assert names.rule_name(long_a) != names.rule_name(long_b)
    assert names.rule_name("a+b") != names.rule_name("a_b")


def test_execution_names_and_run_ids():
    tick = datetime(2026, 11, 25, 10, 0, 59, tzinfo=timezone.utc)
    assert names.scheduled_execution_name(tick) == "sched-20261125T1000Z"
    keyed = names.keyed_execution_name("k" * 256)
    assert keyed == names.keyed_execution_name("k" * 256) != names.keyed_execution_name("other")
    assert len(keyed) <= 80 and len(names.fresh_execution_name()) <= 80
    assert run_ids.run_id("x") == "sfn-x" and run_ids.execution_name_of("sfn-x") == "x" == run_ids.execution_name_of("x")
    assert names.execution_arn(ARN, "e1") == "arn:aws:states:us-east-1:123456789012:execution:TrainFlow:e1"
    assert names.version_number(ARN + ":12") == 12


def test_package_keys():
    assert names.parse_package_key("packages/", f"packages/TrainFlow/{SHA}.tar.gz") == ("TrainFlow", SHA)
    for bad in (f"other/TrainFlow/{SHA}.tar.gz", "packages/TrainFlow/abc.tar.gz", f"packages/{SHA}.tar.gz",
                f"packages/a/b/{SHA}.tar.gz", f"packages/TrainFlow/{SHA}.zip"):
        with pytest.raises(PackageError, match="expected packages/<state machine name>/<sha256>.tar.gz"):
            names.parse_package_key("packages/", bad)


# -- auth ----------------------------------------------------------------------------------------


def test_bearer_tokens_are_checked_against_digests():
    digests = (token_digest("one"), token_digest("two"))
    assert token_allowed("Bearer two", digests)
    assert token_allowed("bearer   one ", digests)
    for header in (None, "", "Bearer", "Bearer three", "two", "Basic two", f"Bearer {digests[0]}"):
        assert not token_allowed(header, digests), header
    assert not token_allowed("Bearer one", ())


# -- settings ------------------------------------------------------------------------------------

ENV = {
    "FLOWDROP_BUCKET": "b", "FLOWDROP_DEPLOYMENTS_TABLE": "d", "FLOWDROP_IDEMPOTENCY_TABLE": "i",
    "FLOWDROP_STATE_MACHINE_ROLE_ARN": "arn:aws:iam::210987654321:role/sfn", "FLOWDROP_SCHEDULED_FUNCTION_ARN": LAMBDA,
}


def test_settings_from_env():
    settings = DeployerSettings.from_env(ENV)
    assert settings.datastore_root == "s3://b/data" and settings.package_prefix == "packages/"
    assert settings.backend.kind == "batch" and settings.allowed_backends == ("batch",)
    assert settings.account_id == "210987654321" and settings.partition == "aws"
    with pytest.raises(ConfigError, match="FLOWDROP_BUCKET, FLOWDROP_SCHEDULED_FUNCTION_ARN"):
        DeployerSettings.from_env({k: v for k, v in ENV.items() if k not in ("FLOWDROP_BUCKET",
                                                                                "FLOWDROP_SCHEDULED_FUNCTION_ARN")})
    with pytest.raises(ConfigError, match="unknown backend"):
        DeployerSettings.from_env({**ENV, "FLOWDROP_BACKEND": "k8s"})
    with pytest.raises(ConfigError, match="not sha256"):
        DeployerSettings.from_env({**ENV, "FLOWDROP_API_TOKEN_HASHES": "plaintext-token"})


# -- planning ------------------------------------------------------------------------------------


def release(uploaded: str = "2026-11-25T10:00:00.000000Z", fingerprint: str = "f1", version: int = 0,
            schedule: dict | None = None, created: str = "2026-11-25T10:00:00+00:00") -> Release:
    return Release(flow="TrainFlow", flow_name="TrainFlow", version=version,
                   version_arn=f"{ARN}:{version}" if version else "", code_sha256=SHA, created=created,
                   fingerprint=fingerprint, schedule=schedule, uploaded=uploaded)


NOTHING = Live(machine_exists=False, alias_exists=False, rule_expression=None, rule_targets=(), production=None)


SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/flowdrop-dev-SchedulerRole"
TARGET = ScheduleTarget(LAMBDA, SCHEDULER_ROLE)


def plan(new: Release, live: Live, expression: str | None = None, zone: str | None = None):
    if expression is not None:
        new = replace(new, schedule={"expression": expression, "timezone": zone})
    return plan_deployment(new, "{}", live, machine_arn=ARN, role_arn="role", target=TARGET)


def test_first_deployment_creates_everything():
    result = plan(release(), NOTHING, "cron(0 9 * * ? *)", "Europe/Berlin")
    assert result.status == "ACCEPTED"
    assert [type(a) for a in result.actions] == [PublishVersion, RecordRelease, ClaimProduction, PointAlias,
                                                 PutSchedule]
    assert result.actions[0].create and result.actions[3].create and result.actions[3].version_arn is None
    put = result.actions[4]
    assert (put.name, put.group, put.expression, put.timezone, put.target_arn, put.role_arn, put.create) == (
        "flowdrop-TrainFlow", "flowdrop", "cron(0 9 * * ? *)", "Europe/Berlin", LAMBDA, SCHEDULER_ROLE, True)
    # Scheduler fills in the tick's own time: a late delivery still names its tick.
    assert json.loads(put.target_input) == {"flow": "TrainFlow", "scheduled_time": "<aws.scheduler.scheduled-time>",
                                            "attempt": "<aws.scheduler.attempt-number>"}


def test_update_duplicate_and_late_packages():
    current = Production(release(version=3, fingerprint="f1"), newest_uploaded="2026-11-25T10:00:00.000000Z")
    live = replace(NOTHING, machine_exists=True, alias_exists=True, production=current)
    assert plan(release(uploaded="2026-11-25T11:00:00.000000Z"), live).status == "DUPLICATE"
    assert plan(release(uploaded="2026-11-25T11:00:00.000000Z"), live).actions == ()
    late = plan(release(uploaded="2026-11-25T09:00:00.000000Z", fingerprint="f2"), live)
    assert late.status == "SUPERSEDED" and late.actions == () and "version 3" in late.reason
    assert "uploaded 2026-11-25T09:00:00.000000Z is older than the newest accepted upload" in late.reason
    newer = plan(release(uploaded="2026-11-25T11:00:00.000000Z", fingerprint="f2"), live)
    assert newer.status == "ACCEPTED"
    assert not newer.actions[0].create and not newer.actions[3].create


def test_a_version_a_dead_deploy_published_is_taken_not_published_again():
    current = Production(release(version=3, fingerprint="f1"), newest_uploaded="2026-11-25T10:00:00.000000Z")
    leftover = PublishedVersion(f"{ARN}:4", "{}", f"code {SHA}")
    other = PublishedVersion(f"{ARN}:5", '{"other": 1}', f"code {SHA}")
    live = replace(NOTHING, machine_exists=True, alias_exists=True, production=current,
                   alias_version_arn=f"{ARN}:3", unrecorded_versions=(leftover, other))
    result = plan(release(uploaded="2026-11-25T11:00:00.000000Z", fingerprint="f2"), live)
    assert result.status == "ACCEPTED"
    assert [type(a) for a in result.actions] == [UseVersion, RecordRelease, ClaimProduction, PointAlias]
    assert result.actions[0] == UseVersion(f"{ARN}:4")
    # Recorded but production not claimed (the deploy died in between): the recorded version is taken.
    mine = release(uploaded="2026-11-25T11:00:00.000000Z", fingerprint="f2")
    recorded = replace(live, unrecorded_versions=(), releases=(current.release, replace(mine, version=4,
                                                                                          version_arn=f"{ARN}:4")))
    assert plan(mine, recorded).actions[0] == UseVersion(f"{ARN}:4")
    # Another definition (another package's dead deploy) is no reason to skip publishing.
    live = replace(live, unrecorded_versions=(other,))
    assert isinstance(plan(release(uploaded="2026-11-25T11:00:00.000000Z", fingerprint="f2"), live).actions[0],
                      PublishVersion)


def test_a_redelivered_upload_that_claimed_production_finishes_the_alias_and_schedule():
    claimed = release(version=4, fingerprint="f2", uploaded="2026-11-25T11:00:00.000000Z",
                      schedule={"expression": "cron(0 9 * * ? *)", "timezone": None})
    current = Production(claimed, newest_uploaded=claimed.uploaded)
    live = replace(NOTHING, machine_exists=True, alias_exists=True, production=current, alias_version_arn=f"{ARN}:3")
    again = replace(claimed, version=0, version_arn="")
    result = plan(again, live)
    assert result.status == "ACCEPTED"
    assert [type(a) for a in result.actions] == [UseVersion, PointAlias, PutSchedule]
    assert result.actions[0] == UseVersion(f"{ARN}:4") and result.actions[1].version_arn is None
    # Finished already (a plain redelivery): nothing to call.
    done = replace(live, alias_version_arn=f"{ARN}:4", schedule=LiveSchedule(
        "cron(0 9 * * ? *)", None, LAMBDA, SCHEDULER_ROLE, scheduled_input("TrainFlow")))
    assert plan(again, done).actions == (UseVersion(f"{ARN}:4"),)
    # The same code uploaded again later is a duplicate, not this upload.
    assert plan(replace(again, uploaded="2026-11-25T12:00:00.000000Z"), done).status == "DUPLICATE"


def test_newer_means_uploaded_later_whatever_the_manifest_says():
    current = Production(release(version=3, created="2999-01-01T00:00:00+00:00"),
                         newest_uploaded="2026-11-25T10:00:00.000000Z")
    live = replace(NOTHING, machine_exists=True, alias_exists=True, production=current)
    # A laptop clock minutes slow: created "before" production, uploaded after it.
    slow_clock = release(uploaded="2026-11-25T10:01:00.000000Z", created="2026-11-25T09:55:00+00:00", fingerprint="f2")
    assert plan(slow_clock, live).status == "ACCEPTED"
    # A manifest claiming the far future is no newer than its upload.
    future = release(uploaded="2026-11-25T09:59:00.000000Z", created="2999-01-01T00:00:00+00:00", fingerprint="f3")
    assert plan(future, live).status == "SUPERSEDED"


def test_the_schedule_follows_the_flow():
    hourly, daily_berlin = Schedule("cron(0 * * * ? *)"), Schedule("cron(0 9 * * ? *)", "Europe/Berlin")
    put = schedule_actions("TrainFlow", hourly, NOTHING, TARGET)[0]
    live = replace(NOTHING, schedule=LiveSchedule(put.expression, put.timezone, LAMBDA, SCHEDULER_ROLE,
                                                  put.target_input))
    assert schedule_actions("TrainFlow", hourly, live, TARGET) == ()
    changed = schedule_actions("TrainFlow", daily_berlin, live, TARGET)
    assert [type(a) for a in changed] == [PutSchedule] and not changed[0].create
    assert changed[0].timezone == "Europe/Berlin"
    # Only the time zone changed: still an update (a UTC 09:00 is not a Berlin 09:00).
    assert schedule_actions("TrainFlow", Schedule("cron(0 * * * ? *)", "Asia/Tokyo"), live, TARGET) != ()
    assert schedule_actions("TrainFlow", None, live, TARGET) == (DeleteSchedule("flowdrop-TrainFlow", "flowdrop"),)
    assert schedule_actions("TrainFlow", None, NOTHING, TARGET) == ()


def test_a_flow_on_a_legacy_rule_moves_to_a_schedule_keeping_one_trigger():
    legacy = replace(NOTHING, rule_expression="cron(0 * * * ? *)",
                     rule_targets=(("scheduled", LAMBDA, '{"flow": "TrainFlow"}'),))
    actions = schedule_actions("TrainFlow", Schedule("cron(0 * * * ? *)"), legacy, TARGET)
    # The schedule first: if putting it fails, the rule still fires; never zero triggers.
    assert [type(a) for a in actions] == [PutSchedule, DeleteRule]
    assert actions[1] == DeleteRule("flowdrop-TrainFlow", ("scheduled",))
    # Unscheduled now: the rule goes, no schedule is made.
    assert schedule_actions("TrainFlow", None, legacy, TARGET) == (DeleteRule("flowdrop-TrainFlow", ("scheduled",)),)


def test_removal_takes_down_what_exists_only():
    live = replace(NOTHING, machine_exists=True, alias_exists=True, rule_expression="rate(1 hour)",
                   rule_targets=(("scheduled", LAMBDA, "{}"),),
                   schedule=LiveSchedule("rate(1 hour)", None, LAMBDA, SCHEDULER_ROLE, "{}"))
    kinds = [type(a).__name__ for a in plan_removal("TrainFlow", live, machine_arn=ARN)]
    assert kinds == ["DeleteSchedule", "DeleteRule", "DeleteAlias", "DeleteStateMachine"]
    assert plan_removal("TrainFlow", NOTHING, machine_arn=ARN) == ()


# -- manifest graph vs source --------------------------------------------------------------------


def test_graph_differences_name_file_line_and_step():
    graph = parse_flow((EXAMPLES / "parameter_flow.py").read_text(), "parameter_flow.py")
    claimed = graph.to_dict()
    assert graph_differences(claimed, graph) == []
    assert graph_differences({**claimed, "file": "/home/alice/parameter_flow.py", "doc": "x"}, graph) == []
    claimed["nodes"] = [dict(claimed["nodes"][0], decorators=[{"name": "retry", "attributes": {}, "lineno": 9}])]
    problems = graph_differences(claimed, graph)
    assert any(p.startswith("parameter_flow.py:10: step 'start': manifest.json says decorators=") for p in problems)
    assert any(p.startswith("parameter_flow.py:15: step 'end': missing from manifest.json") for p in problems)


# -- runs ----------------------------------------------------------------------------------------


def entered(name: str) -> dict:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def exited(name: str) -> dict:
    return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name}}


def test_step_states_from_history():
    events = [{"type": "ExecutionStarted"}, {"type": "ChoiceStateEntered", "stateEnteredEventDetails":
                                             {"name": "parameters-check"}},
              entered("start"), exited("start"), {"type": "MapStateEntered", "stateEnteredEventDetails":
                                                  {"name": "start-map"}},
              entered("fit"), entered("fit"), exited("fit"), entered("fit@start")]
    assert step_states(events, "RUNNING") == {"start": "SUCCEEDED", "fit": "RUNNING"}
    # Ended with fit still inside a state and no failure of its own: stopped by a sibling.
    assert step_states(events, "FAILED") == {"start": "SUCCEEDED", "fit": "ABORTED"}
    done = events + [exited("fit"), exited("fit")]
    assert step_states(done, "SUCCEEDED") == {"start": "SUCCEEDED", "fit": "SUCCEEDED"}


def test_step_states_name_the_failed_step_and_the_aborted_sibling():
    def event(i, kind, prev=None, **details):
        return {"id": i, "previousEventId": prev, "type": kind, **details}
    events = [
        event(1, "ExecutionStarted"),
        event(2, "TaskStateEntered", 1, stateEnteredEventDetails={"name": "a"}),
        event(3, "TaskStateEntered", 1, stateEnteredEventDetails={"name": "b"}),
        event(4, "TaskScheduled", 3), event(5, "TaskStarted", 4), event(6, "TaskFailed", 5),
        event(7, "TaskScheduled", 2), event(8, "TaskStarted", 7),
        event(9, "ExecutionFailed", 8),
    ]
    assert step_states(events, "FAILED") == {"a": "ABORTED", "b": "FAILED"}


# -- schedule ticks --------------------------------------------------------------------------------


def test_scheduled_tick():
    now = datetime(2026, 11, 25, 10, 3, 27, tzinfo=timezone.utc)
    hourly = Schedule("cron(0 * * * ? *)")
    assert scheduled_tick("2026-11-25T10:00:00Z", hourly, now) == datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    assert scheduled_tick(None, hourly, now) == datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
    weekly = Schedule("cron(0 0 ? * SUN *)")
    assert scheduled_tick(None, weekly, now) == datetime(2026, 11, 22, 0, 0, tzinfo=timezone.utc)
    assert scheduled_tick(None, None, now) == datetime(2026, 11, 25, 10, 3, tzinfo=timezone.utc)


# -- requests and events ---------------------------------------------------------------------------


def test_trigger_request_is_validated_at_the_edge():
    assert TriggerRequest.from_body({"parameters": {"alpha": 0.5}}) == TriggerRequest({"alpha": 0.5})
    assert TriggerRequest.from_body(None, "k1") == TriggerRequest({}, "k1")
    assert TriggerRequest.from_body({"idempotency_key": "body"}, "header").idempotency_key == "body"
    with pytest.raises(RequestError) as err:
        TriggerRequest.from_body({"parameters": "alpha=1", "idempotency_key": "", "extra": 1})
    assert len(err.value.problems) == 3


def test_a_trigger_body_may_be_the_seeds_execution_input():
    assert TriggerRequest.from_body({"Parameters": '{"alpha": 0.5}'}) == TriggerRequest({"alpha": 0.5})
    assert TriggerRequest.from_body({"Parameters": "{}"}) == TriggerRequest({})
    assert TriggerRequest.from_body({"Parameters": {"alpha": 0.5}}) == TriggerRequest({"alpha": 0.5})
    for body, said in (({"Parameters": "{alpha: 0.5}"}, "Parameters must be a JSON string of an object: the body "
                                                          "is not JSON"),
                       ({"Parameters": '{"alpha": NaN}'}, "Parameters must be a JSON string of an object: the body "
                                                            "holds a number JSON cannot carry"),
                       ({"Parameters": "[1]"}, "parameters must be an object of name -> value, got list"),
                       ({"Parameters": "{}", "parameters": {}}, "not both")):
        with pytest.raises(RequestError) as err:
            TriggerRequest.from_body(body)
        assert any(said in problem for problem in err.value.problems), err.value.problems


def test_package_notifications():
    assert package_notifications(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    assert package_notifications("not json") == []
    body = json.dumps({"Records": [notification("packages%2FMy+Flow%2Fx.tar.gz"),
                                   notification("packages%2FMy+Flow%2Fx.tar.gz"),
                                   notification("packages/y.tar.gz", "ObjectRemoved:Delete")]})
    notes = package_notifications(body)
    assert [(n.bucket, n.key, n.etag) for n in notes] == [("b", "packages/My Flow/x.tar.gz", "e1")]
