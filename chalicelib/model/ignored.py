"""Metaflow decorators flowdrop accepts without carrying them out, and why.

Owns: the list (card, pypi, conda, kubernetes, secrets on steps; pypi_base,
conda_base on flows) with the reason each is ignored, and ignored_notes: one
line per decorator a graph carries, naming the steps. A Metaflow flow that
uses them still runs, and its user is told, once per command, what flowdrop
leaves out. Does not own: the decorators flowdrop honours (decorators.py,
model/decorators.py) or printing (cli/lint.py). Pure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from flowdrop.model.graph import Graph

_PACKAGES = ("packages are not installed: tasks run in the Python environment they are deployed to "
             "(the Batch image, the worker's or the laptop's interpreter)")

IGNORED_STEP: dict[str, str] = {
    "card": "Metaflow cards are not rendered",
    "pypi": _PACKAGES,
    "conda": _PACKAGES,
    "kubernetes": "tasks run on the backend chosen at deploy (Batch, Lambda or worker), never on Kubernetes",
    "secrets": "secrets are not fetched into the step's environment (read them in the step, e.g. with boto3)",
}

IGNORED_FLOW: dict[str, str] = {
    "pypi_base": _PACKAGES,
    "conda_base": _PACKAGES,
}


def ignored_notes(graph: Graph) -> list[str]:
    """`@card on start, end: Metaflow cards are not rendered` for each ignored decorator the flow carries."""
    notes = [f"@{deco.name} on flow {graph.flow_name}: {IGNORED_FLOW[deco.name]}"
             for deco in graph.flow_decorators if deco.name in IGNORED_FLOW]
    where: dict[str, list[str]] = {}
    for node in graph:
        for deco in node.decorators:
            if deco.name in IGNORED_STEP and node.name not in where.setdefault(deco.name, []):
                where[deco.name].append(node.name)
    notes += [f"@{name} on {', '.join(steps)}: {IGNORED_STEP[name]}" for name, steps in where.items()]
    return notes
