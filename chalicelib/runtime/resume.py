"""resume: rerun a run from its failed tasks or a named step, reusing what succeeded.

Owns: choosing which steps rerun whatever the origin did (a named step and
everything reachable from it) and cloning the origin run's other successful tasks into
the new run, copying artifact blobs across datastores when the origin lives
elsewhere (a production `sfn-...` run in S3 resumed on a laptop).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowdrop.datastore import FlowDatastore
from flowdrop.errors import FlowdropError
from flowdrop.model.graph import Graph
from flowdrop.model.task import indices_of

TaskKey = tuple[str, tuple[int, ...]]


def descendants(graph: Graph, steps: Iterable[str]) -> set[str]:
    """The given steps and every step reachable from them."""
    seen: set[str] = set()
    stack = list(steps)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(graph[name].out_funcs)
    return seen


def steps_to_rerun(graph: Graph, origin: FlowDatastore, origin_run_id: str, step: str | None = None) -> set[str]:
    """The steps that rerun whatever the origin did: STEP and every step after it; none without STEP.

    As in Metaflow: without a step, every task that succeeded in the origin
    run is cloned and every other one runs, task by task (inside a foreach,
    the items that failed rerun and the ones that succeeded are reused); a
    run that succeeded entirely is cloned whole.
    """
    if step is None:
        if not origin.list_steps(origin_run_id):
            raise FlowdropError(f"resume: run {origin_run_id} of {graph.flow_name} has no tasks to resume from")
        return set()
    if step not in graph:
        known = ", ".join(node.name for node in graph)
        raise FlowdropError(f"resume: flow {graph.flow_name!r} has no step {step!r} (its steps: {known})")
    return descendants(graph, [step])


def clone_tasks(
    graph: Graph,
    origin: FlowDatastore,
    origin_run_id: str,
    target: FlowDatastore,
    run_id: str,
    rerun: set[str],
) -> dict[TaskKey, dict[str, Any]]:
    """Copy the origin's successful tasks of steps not rerun into run `run_id`; returns their done metadata."""
    cloned: dict[TaskKey, dict[str, Any]] = {}
    same_store = origin.storage.url == target.storage.url
    origin_steps = set(origin.list_steps(origin_run_id))
    for node in graph:
        if node.name in rerun or node.name not in origin_steps:
            continue
        for task_id in origin.list_tasks(origin_run_id, node.name):
            done = origin.read_done(origin_run_id, node.name, task_id)
            if done is None:
                continue
            shas = list((done.get("artifacts") or {}).values())
            shas += [f["value_sha"] for f in done.get("foreach_stack", []) if f.get("value_sha")]
            if not same_store:
                target.copy_artifacts_from(origin, shas)
            meta = {k: v for k, v in done.items() if k not in ("attempt",)}
            # What Metaflow records as origin-run-id / origin-task-id (Task.origin_pathspec).
            meta.update(attempt=0, cloned_from=f"{origin_run_id}/{node.name}/{task_id}", origin_run_id=origin_run_id)
            target.write_attempt(run_id, node.name, task_id, 0, meta)
            target.mark_done(run_id, node.name, task_id, 0, {"foreach_count": done.get("foreach_count")})
            if done.get("foreach_count") is not None:
                target.write_foreach_items(run_id, node.name, task_id, int(done["foreach_count"]))
            cloned[(node.name, indices_of(task_id))] = meta
    return cloned

