"""Alerts as data: where a deployment's run alerts go, which fire for a status, and what they say.

Owns: the alert targets a deployment names (`--notify-on-error`,
`--notify-on-success`: an SNS topic ARN or an https:// webhook, Slack's
incoming-webhook payload; plain http only to loopback, for tests and the
embedded stack), their validation with messages naming the option, the
choice of targets for a run status (FAILED, TIMED_OUT, ABORTED -> on
error; SUCCEEDED -> on success), and the message: flow, run id, status,
the failed step and its exception with the traceback's last lines, as
plain text without links, a Slack body and an SNS subject. Does not own:
reading the failure (deployer/alerts.py) or sending anything. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

ERROR_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
SUCCESS_STATUSES = ("SUCCEEDED",)
ON_ERROR, ON_SUCCESS = "on_error", "on_success"
OPTION_OF = {ON_ERROR: "--notify-on-error", ON_SUCCESS: "--notify-on-success"}
MAX_TARGETS = 10  # per kind: a deployment is not a mailing list
MAX_TARGET_CHARS = 2048
TRACEBACK_LINES = 8  # the exception's last lines in a message
MAX_SUBJECT_CHARS = 100  # SNS Publish's Subject limit
MAX_LINE_CHARS = 300
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
SNS, WEBHOOK = "sns", "webhook"


def target_kind(target: str) -> str:
    """SNS or WEBHOOK for a valid target (check target_problem first)."""
    return SNS if target.startswith("arn:") else WEBHOOK


def target_problem(target: Any) -> str | None:
    """What is wrong with one alert target, or None: an SNS topic ARN or an https:// URL (http only to loopback)."""
    if not isinstance(target, str) or not target:
        return f"must be an SNS topic ARN or an https:// webhook URL, got {target!r}"
    if len(target) > MAX_TARGET_CHARS:
        return f"is {len(target)} characters long; at most {MAX_TARGET_CHARS}"
    if target.startswith("arn:"):
        if not _SNS_ARN.match(target):
            return (f"{target!r} is not an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:alerts")
        return None
    try:
        url = urlsplit(target)
        host = url.hostname or ""
        url.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        return f"{target!r} is not a URL: {err}"
    if url.scheme == "https" and host:
        return None
    if url.scheme == "http" and host in LOOPBACK_HOSTS:
        return None  # a local receiver (tests, the embedded stack); anything else must be encrypted
    if url.scheme == "http" and host:
        return f"{target!r}: webhooks must use https:// (plain http only to 127.0.0.1 or localhost)"
    return f"{target!r} is neither an SNS topic ARN (arn:aws:sns:...) nor an https:// webhook URL"


@dataclass(frozen=True)
class Alerts:
    """A deployment's alert targets: where failed and where succeeded runs are reported."""

    on_error: tuple[str, ...] = ()
    on_success: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.on_error or self.on_success)

    def to_dict(self) -> dict[str, list[str]]:
        """JSON form (manifest option `alerts`, the Release, the API)."""
        return {ON_ERROR: list(self.on_error), ON_SUCCESS: list(self.on_success)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Alerts:
        """Inverse of to_dict; None or {} is no alerts. Validate with alerts_problems first."""
        data = data or {}
        return cls(tuple(data.get(ON_ERROR) or ()), tuple(data.get(ON_SUCCESS) or ()))

    def targets_for(self, status: str) -> tuple[str, ...]:
        """The targets a run ending in `status` alerts (none for RUNNING)."""
        if status in ERROR_STATUSES:
            return self.on_error
        if status in SUCCESS_STATUSES:
            return self.on_success
        return ()


def option_problems(option: str, targets: Sequence[Any]) -> list[str]:
    """Every problem of the targets given to one command-line option (`--notify-on-error`)."""
    problems = [f"{option} {problem}" for t in targets if (problem := target_problem(t))]
    if len(targets) > MAX_TARGETS:
        problems.append(f"{option} is given {len(targets)} times; at most {MAX_TARGETS} targets")
    return problems


def alerts_problems(path: str, value: Any) -> list[str]:
    """Every problem of an `alerts` value (manifest options.alerts), each naming its field path."""
    if not isinstance(value, Mapping):
        return [f"{path} must be an object with {ON_ERROR} and {ON_SUCCESS} lists, got {value!r:.80}"]
    problems = [f"{path}.{key} is not an alert kind; use {ON_ERROR} or {ON_SUCCESS}"
                for key in sorted(set(value) - {ON_ERROR, ON_SUCCESS}, key=str)]
    for kind in (ON_ERROR, ON_SUCCESS):
        targets = value.get(kind, [])
        if not isinstance(targets, list):
            problems.append(f"{path}.{kind} must be a list of targets, got {targets!r:.80}")
            continue
        if len(targets) > MAX_TARGETS:
            problems.append(f"{path}.{kind} has {len(targets)} targets; at most {MAX_TARGETS}")
        for i, target in enumerate(targets):
            problem = target_problem(target)
            if problem:
                problems.append(f"{path}.{kind}[{i}] {problem}")
        if len(set(map(str, targets))) != len(targets):
            problems.append(f"{path}.{kind} names a target twice")
    return problems


def shown_target(target: str) -> str:
    """A target as the API, logs and terminals show it: a webhook's path is its secret (Slack's are)."""
    if target_kind(target) == SNS:
        return target
    scheme, _, rest = target.partition("://")
    host, _, path = rest.partition("/")
    return f"{scheme}://{host}/..." if path else target


def shown_alerts(alerts: Mapping[str, Any] | None) -> dict[str, list[str]] | None:
    """A recorded alerts value with every webhook's secret hidden (None when there are no targets)."""
    value = Alerts.from_dict(alerts)
    if not value:
        return None
    return {ON_ERROR: [shown_target(t) for t in value.on_error], ON_SUCCESS: [shown_target(t) for t in value.on_success]}


# -- the message ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """What failed in a run: the step, its task and attempt, and the exception."""

    step: str
    task_id: str = ""
    attempt: int | None = None
    exception_type: str = ""  # dotted, as @catch records it: builtins.ValueError
    exception_message: str = ""
    traceback: str = ""


@dataclass(frozen=True)
class RunOutcome:
    """One run's end as an alert reports it."""

    flow_name: str
    state_machine: str
    run_id: str
    status: str
    failure: Failure | None = None
    failed_steps: tuple[str, ...] = ()  # every step Step Functions saw fail
    error: str = ""  # the execution's error and cause (TIMED_OUT, ABORTED, a failure with no task record)
    cause: str = ""
    scheduled_time: str = ""


def last_lines(text: str, count: int = TRACEBACK_LINES) -> list[str]:
    """The last `count` non-empty lines of `text`, each cut to MAX_LINE_CHARS."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    return [_cut(line, MAX_LINE_CHARS) for line in lines[-count:]]


def alert_subject(outcome: RunOutcome) -> str:
    """One line: `flowdrop: HelloFlow sfn-api-1 FAILED in step 'b'` (SNS's Subject, <= 100 ASCII characters)."""
    where = f" in step '{outcome.failure.step}'" if outcome.failure and outcome.failure.step else ""
    text = f"flowdrop: {outcome.flow_name} {outcome.run_id} {outcome.status}{where}"
    ascii_only = text.encode("ascii", "replace").decode("ascii")
    return _cut(ascii_only, MAX_SUBJECT_CHARS)


def alert_text(outcome: RunOutcome) -> str:
    """The plain-text message: flow, run, status, the failed step and the exception's last lines."""
    lines = [alert_subject(outcome), "",
             f"flow: {outcome.flow_name}" + (f" (state machine {outcome.state_machine})"
                                             if outcome.state_machine != outcome.flow_name else ""),
             f"run: {outcome.run_id}", f"status: {outcome.status}"]
    if outcome.scheduled_time:
        lines.append(f"scheduled time: {outcome.scheduled_time}")
    failure = outcome.failure
    if failure is not None:
        task = f" (task {failure.task_id}" + (f", attempt {failure.attempt}" if failure.attempt is not None else "")
        lines.append(f"failed step: {failure.step}" + (task + ")" if failure.task_id else ""))
        others = [s for s in outcome.failed_steps if s != failure.step]
        if others:
            lines.append(f"also failed: {', '.join(others)}")
        if failure.exception_type or failure.exception_message:
            lines.append(f"exception: {failure.exception_type or 'Exception'}: "
                         f"{_cut(failure.exception_message, MAX_LINE_CHARS)}")
        if failure.traceback:
            lines += ["", "last lines:", *(f"  {line}" for line in last_lines(failure.traceback))]
    elif outcome.failed_steps:
        lines.append(f"failed step: {', '.join(outcome.failed_steps)}")
    if outcome.error or outcome.cause:
        if failure is None or not failure.traceback:
            lines.append(f"error: {outcome.error or '-'}")
            lines += [f"  {line}" for line in last_lines(outcome.cause)]
    return "\n".join(lines) + "\n"


def slack_payload(outcome: RunOutcome) -> dict[str, str]:
    """The JSON body of a Slack incoming webhook (any webhook gets this)."""
    return {"text": alert_text(outcome)}


def sns_message(outcome: RunOutcome) -> dict[str, str]:
    """SNS Publish's Subject and Message."""
    return {"Subject": alert_subject(outcome), "Message": alert_text(outcome)}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
