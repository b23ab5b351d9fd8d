"""Which finished tasks feed a task: derived from the graph and the task's foreach indices.

Task ids are deterministic (model.task_id_for), so a task's inputs follow
from its step's place in the graph; only a foreach join needs one fact from
the datastore, the foreach step's item count. This is what lets a Step
Functions task find its inputs with no side table.

After a switch, which parent ran depends on data: the local scheduler says
(input_paths), Step Functions' state data names the task that ran before
(input_paths again, a bare task id), and a join looks its alternatives up
in the datastore (join_inputs_ran). A recursive switch's pass number
follows from its input (with_iteration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flowdrop.errors import TaskError
from flowdrop.model.graph import Graph, Node
from flowdrop.model.task import TaskPayload, input_task, iteration_of, task_id_for


def has_switch(graph: Graph) -> bool:
    """True when some step is a switch: then which parents ran depends on data."""
    return any(node.is_switch for node in graph)


def foreach_step_closed_by(graph: Graph, join: str) -> str | None:
    """The foreach step whose matching join is `join`, if that join closes a foreach."""
    for node in graph:
        if node.foreach_param is not None and node.matching_join == join:
            return node.name
    return None


def input_tasks(
    graph: Graph, step: str, indices: tuple[int, ...], foreach_count: Callable[[str, str], int]
) -> list[tuple[str, str]]:
    """(step, task_id) of every input of the task `step` at `indices`, in join order.

    `foreach_count(step, task_id)` answers how many items a finished foreach
    task fanned out to.
    """
    node = graph[step]
    if node.name == "start" or not node.in_funcs:
        return []
    if node.is_join:
        foreach = foreach_step_closed_by(graph, step)
        if foreach is not None:
            (parent,) = node.in_funcs
            count = foreach_count(foreach, task_id_for(foreach, indices))
            return [(parent, task_id_for(parent, (*indices, k))) for k in range(count)]
        return [(parent, task_id_for(parent, indices)) for parent in node.in_funcs]
    if len(node.in_funcs) != 1:
        raise TaskError(f"step '{step}' has {len(node.in_funcs)} parents but is not a join")
    parent = graph[node.in_funcs[0]]
    if parent.foreach_param is not None:
        if not indices:
            raise TaskError(f"step '{step}' runs inside foreach '{parent.name}' but was given no foreach index")
        return [(parent.name, task_id_for(parent.name, indices[:-1]))]
    return [(parent.name, task_id_for(parent.name, indices))]


def join_inputs_ran(
    graph: Graph, step: str, indices: tuple[int, ...], foreach_count: Callable[[str, str], int],
    succeeded: Callable[[str, str], bool],
) -> list[tuple[str, str]]:
    """The inputs of join `step` in a flow with a switch: of its parents, those that ran (`succeeded`).

    A switch inside a foreach body or a branch runs one of its cases, so a
    join's parents are alternatives: a foreach join takes, at each index,
    the one parent that succeeded there; a branch join every parent that
    did. Task ids are still deterministic (a join's parent is never a
    recursive switch, lint sees to that), so each probe is one datastore read.
    """
    node = graph[step]
    foreach = foreach_step_closed_by(graph, step)
    if foreach is None:
        ran = [(parent, task_id_for(parent, indices)) for parent in node.in_funcs
               if succeeded(parent, task_id_for(parent, indices))]
        if not ran:
            raise TaskError(f"join '{step}': none of its parents {list(node.in_funcs)} succeeded")
        return ran
    out = []
    for k in range(foreach_count(foreach, task_id_for(foreach, indices))):
        found = next(((p, task_id_for(p, (*indices, k))) for p in node.in_funcs
                      if succeeded(p, task_id_for(p, (*indices, k)))), None)
        if found is None:
            raise TaskError(f"join '{step}': at foreach index {k} none of {list(node.in_funcs)} succeeded")
        out.append(found)
    return out


def with_iteration(node: Node, payload: TaskPayload) -> TaskPayload:
    """A recursive switch's run after itself is its next iteration: `loop` -> `loop.1` -> `loop.2`.

    The local scheduler counts iterations itself; in Step Functions the
    state data only says which task ran before (input_paths), so the
    iteration follows from that task's id, as Metaflow's iteration stack
    follows from the input's.
    """
    if not node.is_recursive or payload.iteration or not payload.input_paths:
        return payload
    parent_step, parent_id = input_task(payload.input_paths[0])
    return replace(payload, iteration=iteration_of(parent_id) + 1) if parent_step == node.name else payload
