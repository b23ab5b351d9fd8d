"""resume: rerun a run from its failed tasks or a named step, reusing what succeeded.

Owns: choosing which steps rerun whatever the origin did (a named step and
everything reachable from it) and cloning the origin run's other successful tasks into
the new run, copying artifact blobs across datastores when the origin lives
elsewhere (a production `sfn-...` run in S3 resumed on a laptop).
Also owns: resume in production, where no scheduler runs: the deployer
writes the new run's run.json with `resume` in it (ProductionResume), and
each task reads it and clones its own origin task (same task id, so the
same foreach split) instead of running the step (clone_task).
Does not own: starting the resumed execution (deployer/resume.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flowdrop.datastore import FlowDatastore
from flowdrop.errors import FlowdropError
from flowdrop.model.graph import Graph

# A cloned task by (step, task id): the id tells apart the runs of a recursive switch at one place ("loop.3").
CloneKey = tuple[str, str]


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


def clone_task(origin: FlowDatastore, origin_run_id: str, target: FlowDatastore, run_id: str, step: str,
               task_id: str) -> tuple[dict[str, Any], Any] | None:
    """Copy one successful origin task into run `run_id` under the same task id: (its metadata, the
    foreach items location or None); None when the origin task did not succeed."""
    done = origin.read_done(origin_run_id, step, task_id)
    if done is None:
        return None
    if origin.storage.url != target.storage.url:
        shas = list((done.get("artifacts") or {}).values())
        shas += [f["value_sha"] for f in done.get("foreach_stack", []) if f.get("value_sha")]
        target.copy_artifacts_from(origin, shas)
    meta = {k: v for k, v in done.items() if k not in ("attempt",)}
    # What Metaflow records as origin-run-id / origin-task-id (Task.origin_pathspec).
    meta.update(attempt=0, cloned_from=f"{origin_run_id}/{step}/{task_id}", origin_run_id=origin_run_id)
    target.write_attempt(run_id, step, task_id, 0, meta)
    location = None
    if done.get("foreach_count") is not None:
        location = target.write_foreach_items(run_id, step, task_id, int(done["foreach_count"]))
    # Done last: a task that finds it done finds everything else written.
    # A switch flow's done.json also carries what Step Functions reads on Batch (runtime/task.py).
    switch = {k: done[k] for k in ("task_id", "switch_target", "switch_value", "iteration", "next_task_id") if k in done}
    target.mark_done(run_id, step, task_id, 0, {"foreach_count": done.get("foreach_count"),
                                                "status": done.get("status") or "succeeded", **switch}, record=meta)
    return meta, location


def clone_tasks(
    graph: Graph,
    origin: FlowDatastore,
    origin_run_id: str,
    target: FlowDatastore,
    run_id: str,
    rerun: set[str],
) -> dict[CloneKey, dict[str, Any]]:
    """Copy the origin's successful tasks of steps not rerun into run `run_id`; returns their done metadata
    by (step, task id)."""
    cloned: dict[CloneKey, dict[str, Any]] = {}
    origin_steps = set(origin.list_steps(origin_run_id))
    for node in graph:
        if node.name in rerun or node.name not in origin_steps:
            continue
        for task_id in origin.list_tasks(origin_run_id, node.name):
            copied = clone_task(origin, origin_run_id, target, run_id, node.name, task_id)
            if copied is not None:
                cloned[(node.name, task_id)] = {**copied[0], "task_id": task_id}
    return cloned


# -- resume in production: each task of the new run decides for itself ------------------------


@dataclass(frozen=True)
class ProductionResume:
    """What the deployer's resume wrote in a production run's run.json: the origin and the resume step."""

    origin_run_id: str
    step: str | None = None

    @classmethod
    def of_run(cls, datastore: FlowDatastore, run_id: str) -> ProductionResume | None:
        """The resume of run `run_id`, or None for a run that resumes nothing (or has no run.json yet)."""
        resume = (datastore.read_run(run_id) or {}).get("resume")
        if not isinstance(resume, dict) or not resume.get("origin_run_id"):
            return None
        step = resume.get("step")
        return cls(str(resume["origin_run_id"]), str(step) if step else None)

    def clones(self, graph: Graph, step: str) -> bool:
        """True when `step`'s tasks are reused from the origin (where it succeeded), as the local resume does:
        every step but the resume step and the steps after it; without a resume step, every step."""
        return self.step is None or step not in descendants(graph, [self.step])

