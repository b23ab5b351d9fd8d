"""Per-step states of a run, read from Step Functions execution histories.

Owns: step_states (step -> RUNNING | SUCCEEDED | FAILED | ABORTED over an
execution's history and its Distributed Map children's, read or only
counted), step_counts (tasks per step by outcome), step_view (both from one
walk per history) and body_steps (the steps a Map state's iterations run), reading
step names back with model/state_names.py's grammar. Does not own: calling
AWS (runs.py). Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowdrop.model.state_names import step_of, task_step


@dataclass(frozen=True)
class ChildHistory:
    """One Distributed Map child execution: its status and its history events."""

    status: str
    events: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class UnreadChildren:
    """One map run's children whose histories were not read: status -> how many, and the steps each runs."""

    steps: tuple[str, ...]
    counts: Mapping[str, int]
    started: Any = None  # the map run's start, to place its steps among the others


_TASK_FAILURES = ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed")


# How one step's states in many executions combine: the first one present wins.
_PRECEDENCE = ("RUNNING", "FAILED", "ABORTED", "SUCCEEDED")


def step_states(events: Sequence[Mapping[str, Any]], execution_status: str,
                children: Sequence[ChildHistory] = (), unread: Sequence[UnreadChildren] = ()) -> dict[str, str]:
    """Step name -> RUNNING | SUCCEEDED | FAILED | ABORTED, over the execution's and its children's histories.

    A step's Task state is named after the step (a distributed-map body's
    copies add '@<foreach>'); our own states hold a '-' and are skipped. In
    one history, a step entered as often as it exited (every foreach
    iteration) SUCCEEDED. One still inside a state is RUNNING while that
    execution runs; once it ended, the step FAILED if one of its tasks
    failed, else it was ABORTED (a sibling failed and Step Functions stopped
    it). Across histories a step is RUNNING while any runs it, else FAILED if
    any failed it, else ABORTED if any, else SUCCEEDED. Children not read
    count by status: a succeeded child ran every step of its map's body (an
    empty foreach is an error), a running or pending one keeps them RUNNING;
    which step a failed one failed is unknown (run_status marks it partial).
    """
    return _states(_tallies(events, execution_status, children), unread)


def step_view(events: Sequence[Mapping[str, Any]], execution_status: str, children: Sequence[ChildHistory] = (),
              unread: Sequence[UnreadChildren] = ()) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(step_states, step_counts) of the same histories, each history walked once."""
    tallies = _tallies(events, execution_status, children)
    return _states(tallies, unread), _counts(tallies, unread)


def _tallies(events: Sequence[Mapping[str, Any]], execution_status: str,
             children: Sequence[ChildHistory]) -> list[tuple[_Tally, str]]:
    return [(_tally(history), status)
            for history, status in [(events, execution_status), *((c.events, c.status) for c in children)]]


def _states(tallies: Sequence[tuple[_Tally, str]], unread: Sequence[UnreadChildren]) -> dict[str, str]:
    states: dict[str, list[str]] = {}
    first: dict[str, Any] = {}

    def add(step: str, state: str, when: Any) -> None:
        states.setdefault(step, []).append(state)
        if first.get(step) is None or (when is not None and when < first[step]):
            first[step] = when

    for tally, status in tallies:
        for step, (state, when) in _history_states(tally, status).items():
            add(step, state, when)
    for group in unread:
        inferred = [state for state, statuses in (("SUCCEEDED", ("SUCCEEDED",)), ("RUNNING", ("RUNNING", "PENDING")))
                    if any(group.counts.get(s) for s in statuses)]
        for step in group.steps:
            for state in inferred:
                add(step, state, group.started)
    order = list(states)
    if all(first[step] is not None for step in order):  # AWS stamps every event: order by first entry
        order.sort(key=lambda step: first[step])
    return {step: min(states[step], key=_PRECEDENCE.index) for step in order}


@dataclass
class _Tally:
    """One walk over one execution's history: each step's Task state entries and exits, when it was
    first entered, and the steps one of whose tasks failed."""

    entered: Counter[str]
    exited: Counter[str]
    first: dict[str, Any]
    failed: set[str]


def _tally(events: Sequence[Mapping[str, Any]]) -> _Tally:
    tally = _Tally(Counter(), Counter(), {}, set())
    by_id = {event.get("id"): event for event in events if event.get("id") is not None}
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            step = task_step(event.get("stateEnteredEventDetails", {}).get("name", ""))
            if step:
                tally.entered[step] += 1
                tally.first.setdefault(step, event.get("timestamp"))
        elif kind.endswith("StateExited"):
            step = task_step(event.get("stateExitedEventDetails", {}).get("name", ""))
            if step:
                tally.exited[step] += 1
        elif kind in _TASK_FAILURES:
            step = task_step(_entered_state(event, by_id) or "")
            if step:
                tally.failed.add(step)
    return tally


def _history_states(tally: _Tally, execution_status: str) -> dict[str, tuple[str, Any]]:
    """Step -> (state, when first entered) in one execution's history."""
    return {step: ("SUCCEEDED" if tally.exited[step] >= tally.entered[step]
                   else "RUNNING" if execution_status == "RUNNING" else "FAILED" if step in tally.failed else "ABORTED",
                   when)
            for step, when in tally.first.items()}


def body_steps(definition: Mapping[str, Any], map_state: str) -> tuple[str, ...]:
    """The steps the iterations of Map state `map_state` run, nested maps included, in the order they run."""
    for name, state in _states_in_order(definition):
        if name == map_state:
            steps = (task_step(inner) for inner, _ in _states_in_order(state.get("ItemProcessor") or {}))
            return tuple(dict.fromkeys(step for step in steps if step))
    return ()


def _states_in_order(machine: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every state from StartAt along its transitions, Map and Parallel bodies inline (keys are sorted)."""
    states, queue, seen = machine.get("States", {}), [machine.get("StartAt")], set()
    while queue:
        name = queue.pop(0)
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        yield name, state
        for body in [*state.get("Branches", ()), state.get("ItemProcessor") or {}]:
            yield from _states_in_order(body)
        queue += [state.get("Next"), state.get("Default"),
                  *(rule.get("Next") for rule in [*state.get("Choices", ()), *state.get("Catch", ())])]


def map_runs_started(events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Map run ARN -> the Map state that started it, from MapRunStarted events."""
    by_id = {event.get("id"): event for event in events if event.get("id") is not None}
    return {str(event["mapRunStartedEventDetails"]["mapRunArn"]): _entered_state(event, by_id) or ""
            for event in events if event.get("type") == "MapRunStarted"}


def _entered_state(event: Mapping[str, Any], by_id: Mapping[Any, Mapping[str, Any]]) -> str | None:
    """The state an event belongs to: follow previousEventId back to its StateEntered."""
    seen = 0
    current = by_id.get(event.get("previousEventId"))
    while current is not None and seen < 50:
        if str(current.get("type", "")).endswith("StateEntered"):
            return str(current.get("stateEnteredEventDetails", {}).get("name", ""))
        current = by_id.get(current.get("previousEventId"))
        seen += 1
    return None


# -- task counts, for a view of foreach steps (done / failed / running of N) -------------------------


def step_counts(events: Sequence[Mapping[str, Any]], execution_status: str, children: Sequence[ChildHistory] = (),
                unread: Sequence[UnreadChildren] = ()) -> dict[str, dict[str, int]]:
    """Step -> {"succeeded", "failed", "running", "aborted"}: how many of its tasks (Task state entries)
    ended each way, over the execution's and its children's histories.

    A task entered and exited SUCCEEDED; one entered and not exited is RUNNING
    while its execution runs, else FAILED when one of that step's tasks failed
    in that history, else ABORTED. Unread children count as the steps of
    their map's body: succeeded ones as succeeded, running or pending ones as
    running (which step a failed one failed is unknown).
    """
    return _counts(_tallies(events, execution_status, children), unread)


def _counts(tallies: Sequence[tuple[_Tally, str]], unread: Sequence[UnreadChildren]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for tally, status in tallies:
        for step, counts in _history_counts(tally, status).items():
            out.setdefault(step, Counter()).update(counts)
    for group in unread:
        for step in group.steps:
            counts = out.setdefault(step, Counter())
            counts["succeeded"] += group.counts.get("SUCCEEDED", 0)
            counts["running"] += group.counts.get("RUNNING", 0) + group.counts.get("PENDING", 0)
    return {step: {key: counts[key] for key in ("succeeded", "failed", "running", "aborted")}
            for step, counts in out.items()}


def _history_counts(tally: _Tally, execution_status: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for step, count in tally.entered.items():
        done = min(tally.exited[step], count)
        ending = "running" if execution_status == "RUNNING" else "failed" if step in tally.failed else "aborted"
        out[step] = Counter({"succeeded": done, ending: count - done})
    return out


def foreach_widths(events: Sequence[Mapping[str, Any]], children: Sequence[ChildHistory] = ()) -> dict[str, int]:
    """Foreach step -> how many items its Map states were started with, over all histories (a nested
    foreach sums its inner maps: the number of tasks each step in its body runs)."""
    out: Counter[str] = Counter()
    for history in [events, *(c.events for c in children)]:
        by_id = {event.get("id"): event for event in history if event.get("id") is not None}
        for event in history:
            if event.get("type") == "MapStateStarted":
                state = _entered_state(event, by_id) or ""
                step = step_of(state)
                if step.isidentifier():
                    out[step] += int((event.get("mapStateStartedEventDetails") or {}).get("length") or 0)
    return dict(out)
