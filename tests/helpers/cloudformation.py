"""The part of a packaged template moto's CloudFormation can deploy.

Owns: reading which resources a template value refers to (Ref, Fn::GetAtt,
Fn::Sub), and cutting a template down to the resource types a predicate
accepts, with everything dropped on the way named: the resources of
unsupported types, the resources and outputs that refer to a dropped
resource (they are dropped too, never given made-up values), and the
DependsOn entries pointing at dropped resources (ordering only; removed).
Pure apart from chalice_package, which packages a stage with the venv's
chalice as an operator does (a subprocess). Does not own: which types moto
supports (the test reads moto's model map) or deploying (the test calls
CloudFormation).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MERGE_TEMPLATE = ROOT / ".chalice" / "resources.json"

# ${Name} or ${Name.Attribute} in an Fn::Sub string; ${!Literal} is an escape, not a reference.
_SUB_REFERENCE = re.compile(r"\$\{([^!}][^}]*)\}")
# Sections only the SAM transform understands: nothing is left for them once its resources are gone.
SAM_SECTIONS = ("Transform", "Globals")


def references(value: Any) -> set[str]:
    """Names a template value refers to: Ref targets, Fn::GetAtt resources, Fn::Sub variables (AWS::* included)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".", 1)[0])
            elif key == "Fn::Sub":
                text, variables = (item, {}) if isinstance(item, str) else (item[0], item[1])
                local = set(variables)
                found |= {name.split(".", 1)[0] for name in _SUB_REFERENCE.findall(text)} - local
                found |= references(variables)
            else:
                found |= references(item)
    return found


@dataclass
class Deployable:
    """A template cut down to supported types, and what was cut."""

    template: dict[str, Any]
    unsupported: dict[str, str] = field(default_factory=dict)  # logical id -> its type
    dependents: dict[str, set[str]] = field(default_factory=dict)  # logical id -> the dropped resources it refers to
    dropped_outputs: dict[str, set[str]] = field(default_factory=dict)  # output -> the dropped resources it refers to
    dropped_depends_on: dict[str, set[str]] = field(default_factory=dict)  # logical id -> DependsOn entries removed

    @property
    def dropped(self) -> set[str]:
        return set(self.unsupported) | set(self.dependents)


def _depends_on(resource: dict[str, Any]) -> list[str]:
    value = resource.get("DependsOn", [])
    return [value] if isinstance(value, str) else list(value)


def deployable(template: dict[str, Any], supported: Callable[[str], bool]) -> Deployable:
    """The template without the resources whose type `supported` refuses, nor anything that refers to them."""
    resources: dict[str, Any] = template["Resources"]
    result = Deployable(template={})
    result.unsupported = {name: r["Type"] for name, r in resources.items() if not supported(r["Type"])}
    changed = True
    while changed:  # a resource referring to a dropped one is dropped, and so on down the chain
        changed = False
        for name, resource in resources.items():
            if name in result.dropped:
                continue
            body = {key: value for key, value in resource.items() if key != "DependsOn"}
            hits = references(body) & result.dropped
            if hits:
                result.dependents[name] = hits
                changed = True
    kept = {name: copy.deepcopy(r) for name, r in resources.items() if name not in result.dropped}
    for name, resource in kept.items():
        order = _depends_on(resource)
        removed = set(order) & result.dropped
        if removed:
            result.dropped_depends_on[name] = removed
            remaining = [entry for entry in order if entry not in removed]
            if remaining:
                resource["DependsOn"] = remaining
            else:
                del resource["DependsOn"]
    outputs = {}
    for name, output in template.get("Outputs", {}).items():
        hits = references(output) & result.dropped
        if hits:
            result.dropped_outputs[name] = hits
        else:
            outputs[name] = copy.deepcopy(output)
    result.template = {key: copy.deepcopy(value) for key, value in template.items()
                       if key not in ("Resources", "Outputs", *SAM_SECTIONS)}
    result.template["Resources"] = kept
    result.template["Outputs"] = outputs
    return result


def chalice_package(stage: str, out: Path) -> dict[str, Any]:
    """`chalice package --stage STAGE --merge-template .chalice/resources.json OUT`: the merged template (sam.json)."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "chalice"), "--project-dir", str(ROOT), "package", "--stage", stage,
         "--merge-template", str(MERGE_TEMPLATE), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((out / "sam.json").read_text())
