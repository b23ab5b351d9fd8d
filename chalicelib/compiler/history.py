"""How many history events an execution of a compiled flow can write, and each foreach's inline threshold.

Owns: the worst-case event cost of every state shape compile_flow emits,
and, from it, the most items each foreach step may run in an INLINE Map
(its threshold) so that no execution passes the 25,000-event history limit
of a Standard workflow. Does not own: emitting the states (shapes.py) or
the Step Functions limits of the definition itself (limits.py).

Costs are upper bounds, per AWS's history event types:

- every state: <Type>StateEntered and <Type>StateExited (2);
- every attempt of a Task: TaskScheduled, TaskStarted, TaskSubmitted and
  TaskSucceeded, TaskFailed or TaskTimedOut (4; lambda:invoke writes 3), so
  a step with @retry(times=n) costs 2 + 4 (n + 1): all its attempts fail but
  the last; a step with @catch also pays its `-catch` Task, with its Retry;
- Parallel and Map: also <Type>StateStarted and <Type>StateSucceeded (4);
  a Distributed Map adds MapRunStarted and MapRunSucceeded (6), whatever
  its item count: each item is a child execution with its own history;
- every inline iteration: MapIterationStarted and MapIterationSucceeded (2);
- an execution: ExecutionStarted and ExecutionSucceeded (2).

An execution is the top-level machine or one Distributed Map child (one
iteration of a foreach body). Its fixed events are everything but the
inline iterations; the foreach steps whose inline Map runs directly in it
(in a Parallel branch too, but not inside another foreach's body) share
HISTORY_BUDGET minus those fixed events. A foreach's events per iteration
are its body's, with the foreach steps nested in it counted at their own
thresholds (as if the body were a child execution: that is what the
distributed copy of the body runs in, and the inline copy uses the same
thresholds). So nesting makes the outer threshold small and wide outer
fan-outs go distributed, where each child execution has a full history.
The shares are water-filled: foreach steps that need less than an equal
share at model.INLINE_FOREACH_LIMIT items leave the rest to the others.

Switches: every case is counted as if it ran (an upper bound), plus the
`-switch` Choice. A recursive switch is a loop inside one execution, so its
repeats share the budget as a foreach's inline items do: each repeat costs
the step's Task (all its attempts) and the Choice again, and the step's
ForeachBudget threshold is the most repeats the compiled Choice allows
(compiler/switch.py fails the run past it). With nothing else in the flow
that is about 2,500 repeats of a step without @retry (8 events each),
capped at the same limit as inline items; the local runtime, as
Metaflow's, has no bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flowdrop.compiler.switch import case_steps, following
from flowdrop.model.graph import Node

HISTORY_EVENT_LIMIT = 25_000  # Step Functions: events in one Standard execution's history
# What the estimate may use of it; the rest is a margin for events we do not
# model (a lambda:invoke retried on Lambda.ServiceException by AWS, a
# redriven execution appending to its history, a future state of our own).
HISTORY_BUDGET = 20_000

STATE_EVENTS = 2
ATTEMPT_EVENTS = 4
FAN_OUT_EVENTS = STATE_EVENTS + 2  # Parallel or inline Map
DISTRIBUTED_MAP_EVENTS = FAN_OUT_EVENTS + 2
ITERATION_EVENTS = 2
EXECUTION_EVENTS = 2
# parameters-check (Choice), parameters-default or -encode (Pass), run-start (Pass)
START_EVENTS = 3 * STATE_EVENTS


def task_events(attempts: int) -> int:
    """The most events one Task state writes when it runs `attempts` times."""
    return STATE_EVENTS + attempts * ATTEMPT_EVENTS


@dataclass(frozen=True)
class ForeachBudget:
    """A foreach step's inline threshold (a recursive switch's most repeats) and what one iteration can cost."""

    threshold: int  # run inline up to this many items; past it, a Distributed Map (a recursive switch: fail)
    events_per_iteration: int


def foreach_budgets(nodes: Mapping[str, Node], step_events: Mapping[str, int], cap: int,
                    budget: int = HISTORY_BUDGET) -> dict[str, ForeachBudget]:
    """Each foreach step's ForeachBudget, thresholds at most `cap`.

    `step_events` holds, per step, the most events of the states compiled
    for it before its fan-out: its Task with retries, its `-catch` Task, and
    for a batch foreach the `-output` and `-indices` states.
    """
    budgets: dict[str, ForeachBudget] = {}
    _Allocation(nodes, step_events, cap, budget, budgets).execution("start", None, START_EVENTS)
    return budgets


@dataclass
class _Allocation:
    nodes: Mapping[str, Node]
    step_events: Mapping[str, int]
    cap: int
    budget: int
    budgets: dict[str, ForeachBudget]

    def execution(self, first: str, stop: str | None, extra: int) -> int:
        """Set the thresholds of the foreach steps running directly in one execution whose
        states are the chain `first`..`stop` (plus `extra` events); return the chain's events."""
        fixed, fans = self.chain(first, stop)
        remaining = self.budget - EXECUTION_EVENTS - extra - fixed
        events = fixed
        # Cheapest iterations first: what they do not need goes to the rest.
        ordered = sorted(fans, key=lambda fan: (fan[1], fan[0]))
        for position, (step, per_iteration) in enumerate(ordered):
            share = max(0, remaining) // (len(ordered) - position)
            threshold = min(self.cap, share // per_iteration)
            self.budgets[step] = ForeachBudget(threshold, per_iteration)
            remaining -= threshold * per_iteration
            events += threshold * per_iteration
        return events

    def chain(self, first: str, stop: str | None) -> tuple[int, list[tuple[str, int]]]:
        """(fixed events, [(foreach step, events per iteration)]) of the steps `first`..`stop`."""
        fixed, fans = 0, []
        name: str | None = first
        while name is not None and name != stop:
            node = self.nodes[name]
            fixed += self.step_events[name]
            if node.foreach_param is not None:
                # The body as one child execution: sets the thresholds nested in it.
                body = self.execution(node.out_funcs[0], node.matching_join, 0)
                # The `-foreach` Choice, then either Map (the distributed one costs more).
                fixed += STATE_EVENTS + DISTRIBUTED_MAP_EVENTS
                fans.append((name, ITERATION_EVENTS + body))
            elif node.is_split:
                fixed += FAN_OUT_EVENTS
                for out in node.out_funcs:  # every branch runs, in this execution
                    branch_fixed, branch_fans = self.chain(out, node.matching_join)
                    fixed += branch_fixed
                    fans += branch_fans
            following_step = following(self.nodes, node, stop)
            if node.is_switch:
                fixed += STATE_EVENTS  # the `-switch` Choice
                for case in case_steps(node):  # at most one runs; count each
                    case_fixed, case_fans = self.chain(case, following_step)
                    fixed += case_fixed
                    fans += case_fans
                if node.is_recursive:  # each repeat: the Task with its attempts, then the Choice
                    fans.append((name, self.step_events[name] + STATE_EVENTS))
            name = following_step
        return fixed, fans
