"""@exit_hook as data: which functions run when a run ends, and the record of what they did.

Owns: the decorator's argument rules (Metaflow's: `on_success` and `on_error`
lists of functions, or of their names / dotted import paths, at least one of
them given; `options` a dict), the hook names in force for a graph (several
@exit_hook decorators add up, as in Metaflow), the task modes and the pseudo
step name that run hooks, and the shape of the run's `exit-hooks.json`, and reading back from an execution's history which step's
failure the hook path caught. Does not own: calling the functions (runtime/exit_hooks.py) or the states that
start them in production (compiler/exit_hooks.py). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowdrop.model.excerpts import short_repr
from flowdrop.model.state_names import EXIT_HOOK_ERROR, task_step

if TYPE_CHECKING:
    from flowdrop.model.graph import Graph

DECORATOR = "exit_hook"
HOOK_LISTS = ("on_success", "on_error")
ARGUMENTS = (*HOOK_LISTS, "options")

# The task runner's modes for the hook task of a production run: the run's outcome is in the mode,
# written by the compiler on the success path and on the failure path, so the runner never guesses it.
SUCCESS_MODE, ERROR_MODE = "exit_hook_success", "exit_hook_error"
MODES = (SUCCESS_MODE, ERROR_MODE)
# The step (and task id) the hook task runs as: not a Python identifier, so never a user's step.
HOOK_STEP = "_exit_hook"


def exit_hook_problems(attributes: Mapping[str, Any], lists_refused: bool = False) -> list[str]:
    """Every way @exit_hook's arguments (hook names already, as the static graph reads them) cannot work.

    `lists_refused`: the reader already refused items of the lists, so empty lists are no extra problem.
    """
    problems = [f"@exit_hook({key}=...): unknown argument {key!r}; @exit_hook takes {', '.join(ARGUMENTS)}"
                for key in attributes if key not in ARGUMENTS]
    for key in HOOK_LISTS:
        value = attributes.get(key, [])
        if not isinstance(value, list | tuple):
            problems.append(f"@exit_hook({key}={short_repr(value, 40)}): {key} must be a list of functions")
            continue
        for position, name in enumerate(value, 1):
            if not isinstance(name, str) or not all(part.isidentifier() for part in name.split(".")):
                problems.append(f"@exit_hook({key}=[...]): item {position} ({short_repr(name, 40)}) is not a function "
                                "or a function's name; give the function itself, or 'name' / 'module.name'")
    if not problems and not lists_refused and not any(attributes.get(key) for key in HOOK_LISTS):
        problems.append("@exit_hook: give at least one of on_success=[...] or on_error=[...]")
    options = attributes.get("options", {})
    if not isinstance(options, Mapping):
        problems.append(f"@exit_hook(options={short_repr(options, 40)}): options must be a dict")
    return problems


def hook_names(graph: Graph, successful: bool) -> tuple[str, ...]:
    """The hooks to call when a run of `graph` ends: every @exit_hook's on_success (or on_error), in order."""
    key = "on_success" if successful else "on_error"
    return tuple(str(name) for deco in graph.flow_decorators if deco.name == DECORATOR
                 for name in deco.attributes.get(key) or ())


def has_exit_hooks(graph: Graph) -> bool:
    """True when some @exit_hook names a function (for either outcome)."""
    return bool(hook_names(graph, True) or hook_names(graph, False))


def hook_result(name: str, ok: bool, output: str, error: str | None = None) -> dict[str, Any]:
    """One hook's entry in exit-hooks.json: its name, whether it returned, what it printed, how it failed."""
    return {"name": name, "ok": ok, "output": output, "error": error}


def exit_hooks_record(successful: bool, results: list[dict[str, Any]], finished: str) -> dict[str, Any]:
    """The run's exit-hooks.json: the outcome the hooks were called for and each hook's result."""
    return {"successful": successful, "finished": finished, "hooks": list(results)}


def caught_by_exit_hook(events: Sequence[Mapping[str, Any]]) -> set[str]:
    """The steps whose failure the @exit_hook Catch took to the hook task (compiler/exit_hooks.py).

    Such a step left its state through the Catch, which reads like a success in the history; the hook
    task's StateEntered follows that StateExited (previousEventId).
    """
    by_id = {event.get("id"): event for event in events if event.get("id") is not None}
    steps = set()
    for event in events:
        if (event.get("stateEnteredEventDetails") or {}).get("name") != EXIT_HOOK_ERROR:
            continue
        caught = (by_id.get(event.get("previousEventId")) or {}).get("stateExitedEventDetails") or {}
        step = task_step(str(caught.get("name", "")))
        if step:
            steps.add(step)
    return steps


def with_exit_hook_failures(events: Sequence[Mapping[str, Any]], states: Mapping[str, str]) -> dict[str, str]:
    """Step states (deployer/step_states.py) with the steps caught_by_exit_hook marked FAILED."""
    caught = caught_by_exit_hook(events)
    return {step: "FAILED" if step in caught else state for step, state in states.items()}


def counts_with_exit_hook_failures(events: Sequence[Mapping[str, Any]],
                                   counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """Task counts per step (step_states.step_counts) with each caught step's exited task counted as failed."""
    out = {step: dict(c) for step, c in counts.items()}
    for step in caught_by_exit_hook(events):
        if out.get(step, {}).get("succeeded", 0) > 0:
            out[step]["succeeded"] -= 1
            out[step]["failed"] = out[step].get("failed", 0) + 1
    return out
