"""model/alerts.py: targets, which alerts fire for a status, and the message text."""

from __future__ import annotations

import pytest

from flowdrop.model.alerts import (
    Alerts,
    Failure,
    RunOutcome,
    alert_subject,
    alert_text,
    alerts_problems,
    last_lines,
    option_problems,
    shown_alerts,
    shown_target,
    slack_payload,
    sns_message,
    target_kind,
    target_problem,
)

TOPIC = "arn:aws:sns:us-east-1:123456789012:flow-alerts"
HOOK = "https://hooks.slack.com/services/T000/B000/XXXX"
TRACE = "Traceback (most recent call last):\n" + "".join(
    f'  File "flow.py", line {n}, in step_{n}\n    call_{n}()\n' for n in range(10)
) + "ValueError: the input file is empty\n"


@pytest.mark.parametrize("target", [TOPIC, HOOK, "http://127.0.0.1:8123/hook", "http://localhost/x",
                                    "arn:aws-cn:sns:cn-north-1:123456789012:t.fifo"])
def test_valid_targets(target: str) -> None:
    assert target_problem(target) is None


@pytest.mark.parametrize("target, words", [
    ("http://hooks.example.com/x", "must use https://"),
    ("arn:aws:sqs:us-east-1:123456789012:q", "not an SNS topic ARN"),
    ("arn:aws:sns:us-east-1:12:t", "not an SNS topic ARN"),
    ("ftp://example.com/x", "neither an SNS topic ARN"),
    ("hooks.slack.com/services/x", "neither an SNS topic ARN"),
    ("", "must be an SNS topic ARN or an https:// webhook URL"),
    ("https://example.com:99999/x", "is not a URL"),
])
def test_invalid_targets_say_why(target: str, words: str) -> None:
    problem = target_problem(target)
    assert problem is not None and words in problem


def test_target_kind() -> None:
    assert target_kind(TOPIC) == "sns"
    assert target_kind(HOOK) == "webhook"


def test_option_problems_name_the_option() -> None:
    problems = option_problems("--notify-on-error", [HOOK, "http://example.com/x"])
    assert problems == ["--notify-on-error 'http://example.com/x': webhooks must use https:// "
                        "(plain http only to 127.0.0.1 or localhost)"]
    assert option_problems("--notify-on-success", [HOOK] * 11)[-1].endswith("at most 10 targets")


def test_alerts_problems_name_the_field_path() -> None:
    problems = alerts_problems("options.alerts", {"on_error": [HOOK, 7], "on_success": "x", "on_retry": []})
    assert "options.alerts.on_retry is not an alert kind; use on_error or on_success" in problems
    assert any(p.startswith("options.alerts.on_error[1] must be an SNS topic ARN") for p in problems)
    assert any(p.startswith("options.alerts.on_success must be a list") for p in problems)
    assert alerts_problems("options.alerts", {"on_error": [HOOK, HOOK]}) == [
        "options.alerts.on_error names a target twice"]
    assert alerts_problems("options.alerts", []) and alerts_problems("o", {"on_error": [TOPIC]}) == []


@pytest.mark.parametrize("status, expected", [
    ("FAILED", (HOOK,)), ("TIMED_OUT", (HOOK,)), ("ABORTED", (HOOK,)), ("SUCCEEDED", (TOPIC,)), ("RUNNING", ()),
])
def test_targets_for_status(status: str, expected: tuple[str, ...]) -> None:
    assert Alerts(on_error=(HOOK,), on_success=(TOPIC,)).targets_for(status) == expected


def test_alerts_round_trip_and_truth() -> None:
    alerts = Alerts(on_error=(HOOK,))
    assert Alerts.from_dict(alerts.to_dict()) == alerts
    assert alerts and not Alerts() and not Alerts.from_dict(None)
    assert Alerts(on_error=(HOOK,)).targets_for("SUCCEEDED") == ()


def failed_outcome() -> RunOutcome:
    failure = Failure(step="transform", task_id="transform", attempt=2, exception_type="builtins.ValueError",
                      exception_message="the input file is empty", traceback=TRACE)
    return RunOutcome(flow_name="EtlFlow", state_machine="EtlFlow", run_id="sfn-api-42", status="FAILED",
                      failure=failure, failed_steps=("transform",), error="States.TaskFailed", cause="{...}")


def test_failure_message_names_flow_run_step_exception_and_last_lines() -> None:
    text = alert_text(failed_outcome())
    lines = text.splitlines()
    assert lines[0] == "flowdrop: EtlFlow sfn-api-42 FAILED in step 'transform'"
    assert "flow: EtlFlow" in lines and "run: sfn-api-42" in lines and "status: FAILED" in lines
    assert "failed step: transform (task transform, attempt 2)" in lines
    assert "exception: builtins.ValueError: the input file is empty" in lines
    tail = lines[lines.index("last lines:") + 1:]
    assert tail[-1] == "  ValueError: the input file is empty"
    assert len(tail) == 8 and "call_9()" in tail[-2] and "step_0" not in text
    assert "http" not in text and "States.TaskFailed" not in text  # the traceback says more than the error


def test_message_without_task_record_uses_the_execution_error() -> None:
    outcome = RunOutcome(flow_name="EtlFlow", state_machine="prod.EtlFlow", run_id="sfn-sched-20261125T1000Z",
                         status="TIMED_OUT", error="States.Timeout", cause="line one\nthe run took too long",
                         scheduled_time="2026-11-25T10:00:00Z")
    text = alert_text(outcome)
    assert "flow: EtlFlow (state machine prod.EtlFlow)" in text
    assert "scheduled time: 2026-11-25T10:00:00Z" in text
    assert "error: States.Timeout\n  line one\n  the run took too long\n" in text
    assert alert_subject(outcome) == "flowdrop: EtlFlow sfn-sched-20261125T1000Z TIMED_OUT"


def test_success_message_is_short() -> None:
    outcome = RunOutcome(flow_name="EtlFlow", state_machine="EtlFlow", run_id="sfn-api-1", status="SUCCEEDED")
    assert alert_text(outcome) == ("flowdrop: EtlFlow sfn-api-1 SUCCEEDED\n\nflow: EtlFlow\nrun: sfn-api-1\n"
                                   "status: SUCCEEDED\n")


def test_payloads() -> None:
    outcome = failed_outcome()
    assert slack_payload(outcome) == {"text": alert_text(outcome)}
    assert sns_message(outcome) == {"Subject": alert_subject(outcome), "Message": alert_text(outcome)}


def test_subject_fits_sns() -> None:
    outcome = RunOutcome(flow_name="F" * 90 + "é", state_machine="x", run_id="sfn-api-1", status="FAILED")
    subject = alert_subject(outcome)
    assert len(subject) == 100 and subject.isascii() and subject.endswith("...")


def test_last_lines_skips_blank_and_cuts_long_lines() -> None:
    assert last_lines("a\n\nb\n" + "x" * 400, 2) == ["b", "x" * 297 + "..."]


def test_alerts_change_the_fingerprint_only_when_given() -> None:
    from flowdrop.codepackage.manifest import Manifest
    from flowdrop.deployer.candidate import fingerprint
    from tests.unit.test_manifest import edit, good

    plain = fingerprint("{}", None, Manifest.from_dict(good()))
    empty = fingerprint("{}", None, Manifest.from_dict(edit("options.alerts", {"on_error": [], "on_success": []})))
    asked = fingerprint("{}", None, Manifest.from_dict(edit("options.alerts", {"on_error": [HOOK]})))
    assert plain == empty != asked


def test_shown_targets_hide_a_webhooks_secret_path() -> None:
    assert shown_target(HOOK) == "https://hooks.slack.com/..."
    assert shown_target("https://example.com") == "https://example.com"
    assert shown_target(TOPIC) == TOPIC
    assert shown_alerts({"on_error": [HOOK], "on_success": [TOPIC]}) == {
        "on_error": ["https://hooks.slack.com/..."], "on_success": [TOPIC]}
    assert shown_alerts(None) is None and shown_alerts({"on_error": [], "on_success": []}) is None
