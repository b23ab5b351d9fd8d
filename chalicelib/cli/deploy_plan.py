"""`python flow.py step-functions create --plan`: what a deploy would change, without deploying.

Owns: asking the deployer for the plan of the package `create` would upload
(the manifest and the flow's source go to POST /flows/{flow}/plan; the
package is built but never uploaded) and the words printed about it: new
flow, new version or duplicate of production, the states that change, the
unified diff of the pretty-printed definitions, the schedule before and
after. The rendering is pure (plan_lines, definition_diff, changed_states).
Does not own: the checks, compile and fingerprint (the deployer's
preview.py, the same code a real deploy runs) or packaging (uploader.py).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import click

EXIT_REJECTED = 1


def show_plan(obj: Any, options: Any) -> int:
    """Build the package as `create` would, ask the deployer what deploying it would do, print it; the exit code."""
    from flowdrop.cli.api_client import ApiClient
    from flowdrop.cli.uploader import prepare_deployment
    from flowdrop.config import user_name

    api = ApiClient.from_config(obj.config)
    prepared = prepare_deployment(obj.flow_cls, obj.flow_file, obj.graph, options, user_name(),
                                  datetime.now(timezone.utc), configs=obj.configs)
    manifest = prepared.manifest
    source = prepared.files[manifest.flow_file].decode("utf-8")
    answer = api.plan(manifest.state_machine_name, manifest.to_dict(), source)
    for line in plan_lines(answer):
        click.echo(line)
    return EXIT_REJECTED if answer.get("status") == "FAILED" else 0


def plan_lines(answer: Mapping[str, Any]) -> list[str]:
    """What the plan answer says, as the lines `create --plan` prints."""
    flow, sha = answer.get("flow"), str(answer.get("code_sha256") or "")
    version = answer.get("production_version")
    lines = [f"Plan for {flow} (code sha256 {sha[:12]}...): nothing was deployed or uploaded."]
    status = answer.get("status")
    if status == "FAILED":
        return [*lines, "Would be rejected (production would stay as it is):", str(answer.get("message"))]
    if status == "DUPLICATE":
        lines.append(f"No change (duplicate of version {version}): {answer.get('reason')}")
    elif status == "NEW_FLOW":
        lines.append(f"New flow: deploying would create {flow} and publish version 1 as production.")
    else:
        lines.append(f"New version: production is version {version} (code {str(answer.get('production_code_sha256'))[:12]}); "
                     f"deploying would publish version {int(version or 0) + 1} and point production at it.")
    lines += [f"Note: {note}" for note in answer.get("notes") or ()]
    lines.append(schedule_line(answer.get("production_schedule"), answer.get("schedule"), status == "NEW_FLOW"))
    if status == "DUPLICATE":
        return lines
    before, after = answer.get("production_definition"), str(answer.get("definition") or "{}")
    changes = changed_states(before, after)
    if changes:
        lines.append("States: " + "; ".join(f"{what} {', '.join(names)}" for what, names in changes.items()))
    diff = definition_diff(before, after, f"production (version {version})" if before else "production (none)",
                           "this deploy")
    lines += ["Definition diff:", *diff] if diff else ["Definition: unchanged."]
    if answer.get("actions"):
        lines.append("Actions: " + ", ".join(answer["actions"]))
    return lines


def schedule_line(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, new_flow: bool = False) -> str:
    """`Schedule: unchanged (...)`, `Schedule: A -> B` or `Schedule: none`."""
    if before == after:
        return f"Schedule: {'none' if after is None else 'unchanged (' + _schedule(after) + ')'}"
    if new_flow:
        return f"Schedule: {_schedule(after)}"
    changed = [key for key in ("expression", "timezone", "overlap") if (before or {}).get(key) != (after or {}).get(key)]
    return f"Schedule: {_schedule(before)} -> {_schedule(after)} ({', '.join(changed)} changed)"


def _schedule(schedule: Mapping[str, Any] | None) -> str:
    if not schedule:
        return "none"
    return f"{schedule.get('expression')} {schedule.get('timezone') or 'UTC'}, overlap {schedule.get('overlap')}"


def pretty(definition: str | None) -> list[str]:
    """A definition as sorted, indented JSON lines (empty for none)."""
    if not definition:
        return []
    return json.dumps(json.loads(definition), indent=2, sort_keys=True).splitlines()


def definition_diff(before: str | None, after: str, before_name: str, after_name: str) -> list[str]:
    """The unified diff of the pretty-printed definitions (empty when they are the same)."""
    return list(difflib.unified_diff(pretty(before), pretty(after), before_name, after_name, lineterm=""))


def changed_states(before: str | None, after: str) -> dict[str, list[str]]:
    """{"changed": [...], "added": [...], "removed": [...]}: state names, nested Map and Parallel states too."""
    old = dict(_states(json.loads(before))) if before else {}
    new = dict(_states(json.loads(after)))
    out = {
        "changed": [name for name in new if name in old and old[name] != new[name]],
        "added": [name for name in new if name not in old],
        "removed": [name for name in old if name not in new],
    }
    return {what: names for what, names in out.items() if names}


def _states(machine: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(name, the state without its nested states) for every state, depth first."""
    for name, state in (machine.get("States") or {}).items():
        nested = [state[key] for key in ("ItemProcessor", "Iterator") if isinstance(state.get(key), Mapping)]
        nested += [branch for branch in state.get("Branches") or () if isinstance(branch, Mapping)]
        own = {k: v for k, v in state.items() if k not in ("ItemProcessor", "Iterator", "Branches")}
        yield name, own
        for inner in nested:
            yield from _states(inner)
