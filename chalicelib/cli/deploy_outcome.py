"""What `step-functions create` prints once the deployer answered: the outcome, the schedule, how to trigger.

Owns: Outcome and deployment_outcome (the deployment record read into the
lines and exit code the user sees: ACCEPTED, DUPLICATE, SUPERSEDED, FAILED or
no answer in time), the schedule's next fire times and alert targets, and
trigger_examples (the `step-functions trigger` and curl lines with example
values). Does not own the create command (step_functions.py) or the upload
and wait (uploader.py).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowdrop.errors import FlowdropError
from flowdrop.model.graph import Graph

if TYPE_CHECKING:
    from flowdrop.cli.uploader import PreparedDeployment


@dataclass(frozen=True)
class Outcome:
    """What to print about a deployment, and the exit code."""

    lines: tuple[str, ...]
    exit_code: int = 0
    error: str | None = None  # printed to stderr, in red


def deployment_outcome(record: Mapping[str, Any] | None, prepared: PreparedDeployment, graph: Graph,
                       flow_file_name: str, api_url: str | None, now: datetime, waited: float) -> Outcome:
    """The report on a deployment record (None: none final within `waited` seconds)."""
    from flowdrop.cli.deploy_target import DeployTarget
    from flowdrop.cli.uploader import EXIT_FAILED, EXIT_TIMEOUT
    from flowdrop.model.names import DEPLOY_QUEUE

    manifest = prepared.manifest
    name = manifest.state_machine_name
    if record is None:
        return Outcome((), EXIT_TIMEOUT, error=(
            f"No deployment record for this upload of {name} after {waited:.0f} s; the package is at "
            f"{prepared.key}. Check that the deployer runs (`flowdrop up` for the embedded stack; on AWS, the "
            f"deploy Lambda's CloudWatch logs), that the bucket notification reaches the deploy queue "
            f"({DEPLOY_QUEUE}, {DEPLOY_QUEUE}-<stage> on AWS) and whether the message landed in its dead-letter "
            "queue. Wait longer with --wait-timeout."))
    status, message = record.get("status"), str(record.get("message") or "")
    version = record.get("version")
    if status == "FAILED":
        return Outcome((), EXIT_FAILED, error=f"Deployment of {name} FAILED; production is unchanged.\n{message}".rstrip())
    if status == "ACCEPTED":
        lines = [f"State machine {name} for flow {manifest.flow_name} pushed to AWS Step Functions successfully.",
                 f"Version {version} is live behind the alias 'production'."]
    elif status == "DUPLICATE":
        lines = [f"This code is already deployed as {name} version {version}; nothing changed."]
    else:  # SUPERSEDED: published, but a newer package holds the alias
        lines = [f"{name} version {version} was published, but 'production' stays on a newer package. {message}".rstrip()]
    for key in ("version_arn", "alias_arn"):
        if record.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {record[key]}")
    lines += _schedule_lines(record, manifest, now)
    lines += _alert_lines(manifest)
    lines.append("Trigger a run:")
    lines += trigger_examples(graph, flow_file_name, DeployTarget(name, manifest.project, manifest.branch), api_url)
    return Outcome(tuple(lines))


def _schedule_lines(record: Mapping[str, Any], manifest: Any, now: datetime) -> list[str]:
    from flowdrop.model.schedule import Schedule, next_fire_times

    expression = record.get("schedule") or (manifest.schedule or {}).get("expression")
    if isinstance(expression, Mapping):
        expression = expression.get("expression")
    if not expression:
        return ["Schedule: none; runs start only when triggered."]
    zone = (manifest.schedule or {}).get("timezone")
    times = record.get("next_fire_times")
    if not times:
        try:
            times = [t.isoformat() for t in next_fire_times(Schedule(expression, zone), now, 3)]
        except FlowdropError:
            times = []
    lines = [f"Schedule: {expression} ({zone or 'UTC'})"]
    if times:
        lines.append("  next runs: " + ", ".join(str(t) for t in times))
    return lines


def _alert_lines(manifest: Any) -> list[str]:
    from flowdrop.model.alerts import shown_alerts

    alerts = shown_alerts(manifest.options.get("alerts")) or {}
    return [f"Alerts {kind.replace('_', ' ')}: {', '.join(alerts[kind])}" for kind in ("on_error", "on_success")
            if alerts.get(kind)]


def example_values(graph: Graph) -> dict[str, Any]:
    """Values for trigger examples: literal defaults, or a placeholder for a required parameter."""
    values: dict[str, Any] = {}
    for spec in graph.parameters:
        if spec.has_default and not spec.deploy_time and spec.default is not None:
            values[spec.name] = spec.default
        elif spec.required:
            values[spec.name] = f"<{spec.name}>"
    return values


def _cli_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def trigger_examples(graph: Graph, flow_file_name: str, target: Any, api_url: str | None) -> list[str]:
    """A `python flow.py step-functions trigger ...` line and, with an API URL, the same as `curl`."""
    from flowdrop.cli.api_client import ApiClient

    values = example_values(graph)
    where = ""
    if target.branch:
        kind, _, rest = target.branch.partition(".")
        if kind == "prod":
            where = " --production" + (f" --branch {shlex.quote(rest)}" if rest else "")
        elif kind == "test":
            where = f" --branch {shlex.quote(rest)}"
    elif target.state_machine_name != graph.flow_name:
        where = f" --name {shlex.quote(target.state_machine_name)}"
    options = "".join(f" --{name} {shlex.quote(_cli_text(value))}" for name, value in values.items())
    lines = [f"  python {flow_file_name} step-functions trigger{where}{options}"]
    if api_url:
        url = ApiClient(api_url).url(f"/flows/{target.state_machine_name}/runs")
        body = json.dumps({"parameters": values}, sort_keys=True)
        lines += [f"  curl -X POST {shlex.quote(url)} \\",
                  '    -H "Authorization: Bearer $FLOWDROP_API_TOKEN" -H "Content-Type: application/json" \\',
                  f"    -d {shlex.quote(body)}"]
    return lines
