"""One small pure function per graph shape, each returning plain ASL state dicts.

Owns: walking the graph from a step to the join that closes its scope and
turning each step into its states: a Task (plus a `-catch` Task), a
Parallel for a branch, a Choice between an inline and a distributed Map for
a foreach, a Choice over its cases for a switch (each case's steps up to
where the cases meet again, in the same scope). Does not own: how a Task
reaches its backend (batch.py, lambda_.py, worker.py), the state data's
shape (payload.py) or a switch's own states (switch.py).

Nothing here mutates a shared builder: every function returns a fresh dict
of `state name -> state`, and callers merge them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowdrop.compiler import batch, lambda_, switch, worker
from flowdrop.compiler.history import STATE_EVENTS, ForeachBudget, foreach_budgets, task_events
from flowdrop.compiler.options import CompileOptions
from flowdrop.compiler.payload import iteration_selector, payload_template
from flowdrop.model import state_names as sn
from flowdrop.model.decorators import effective_decorators, timeout_seconds
from flowdrop.model.graph import Graph, Node
from flowdrop.model.state_names import state_name

# The `-catch` Task only records the failure, so when it fails the cause is
# the infrastructure (a worker or Batch host lost, a throttled API): retry it
# a little, as Metaflow retries its fallback task, rather than fail the run.
CATCH_RETRY_TIMES = 2


def catch_retry() -> list[dict[str, Any]]:
    """The Retry of every `-catch` Task: twice, 5 s then 10 s later."""
    return [{"ErrorEquals": ["States.ALL"], "MaxAttempts": CATCH_RETRY_TIMES, "IntervalSeconds": 5,
             "BackoffRate": 2.0}]


@dataclass(frozen=True)
class Compilation:
    """The inputs every shape function reads: the graph, indexed, the options and each foreach's budget."""

    graph: Graph
    options: CompileOptions
    nodes: Mapping[str, Node]
    decorators: Mapping[str, Mapping[str, Mapping[str, Any]]]
    foreach_budgets: Mapping[str, ForeachBudget]

    @classmethod
    def of(cls, graph: Graph, options: CompileOptions) -> Compilation:
        """Index the graph once (Graph lookups by name are linear) and size every foreach's inline Map."""
        nodes = {node.name: node for node in graph.nodes}
        decorators = {node.name: effective_decorators(node, options.with_decorators) for node in graph.nodes}
        step_events = {name: _step_events(node, decorators[name], _backend_kind(decorators[name], options),
                                          _reads_result(nodes, node)) for name, node in nodes.items()}
        return cls(graph=graph, options=options, nodes=nodes, decorators=decorators,
                   foreach_budgets=foreach_budgets(nodes, step_events, options.inline_foreach_limit))

    def backend_kind(self, node: Node) -> str:
        """The backend that runs `node`: @batch always means Batch, whatever the deployment's default."""
        return _backend_kind(self.decorators[node.name], self.options)

    def reads_batch_result(self, node: Node) -> bool:
        """True for a Batch step of a switch flow whose result the next states read (batch.task_done_states)."""
        return self.backend_kind(node) == "batch" and _reads_result(self.nodes, node)


def _reads_result(nodes: Mapping[str, Node], node: Node) -> bool:
    """A switch's Choice reads its case; a step naming its input task reads the one before it (a foreach
    step's result is read anyway)."""
    if node.foreach_param is not None:
        return False
    return node.is_switch or any(switch.reads_input_task(nodes, nodes[child]) for child in node.out_funcs)


def _backend_kind(decorators: Mapping[str, Any], options: CompileOptions) -> str:
    return "batch" if "batch" in decorators else options.backend.kind


def _step_events(node: Node, decorators: Mapping[str, Mapping[str, Any]], kind: str, reads_result: bool) -> int:
    """The most history events of the states step_states emits for `node` before its fan-out."""
    events = task_events(1 + retry_times(decorators))
    if "catch" in decorators:
        events += task_events(1 + CATCH_RETRY_TIMES)
    if node.foreach_param is not None and kind == "batch":
        events += task_events(1) + STATE_EVENTS  # `-output` (no Retry) and `-indices`
    if reads_result and kind == "batch":
        events += task_events(1) + (STATE_EVENTS if node.is_recursive else 0)  # `-output` (and `-pass`)
    return events


@dataclass(frozen=True)
class Scope:
    """Where states go: a name suffix (for copies of a foreach body) and whether it is inside a Map or Parallel."""

    suffix: str = ""
    in_body: bool = False

    def name(self, base: str) -> str:
        """The state name of `base` in this scope."""
        return base + self.suffix


def transition(next_base: str | None, scope: Scope) -> dict[str, Any]:
    """Next, or End. A body ends on its indices only: Map and Parallel collect every
    iteration's output before ResultPath drops it, and a 10,000-item Map of whole
    state data would pass the 256 KiB payload limit."""
    if next_base is not None:
        return {"Next": scope.name(next_base)}
    if scope.in_body:
        return {"End": True, "OutputPath": "$.indices"}
    return {"End": True}


def chain(c: Compilation, first: str, stop: str | None, scope: Scope,
          then: str | None = None) -> dict[str, dict[str, Any]]:
    """The states of the steps from `first` up to (not including) `stop`, then on to `then` (None: the scope ends).

    `stop` is the join closing this scope, or where a switch's cases meet again.
    """
    states: dict[str, dict[str, Any]] = {}
    name: str | None = first
    while name is not None and name != stop:
        node = c.nodes[name]
        following = switch.following(c.nodes, node, stop)
        after = then if following == stop else following
        states.update(step_states(c, node, after, scope))
        if node.is_switch:
            for case in switch.case_steps(node):  # each case's steps, on to where the cases meet
                states.update(chain(c, case, following, scope, after))
        name = following
    return states


def step_states(c: Compilation, node: Node, next_step: str | None, scope: Scope) -> dict[str, dict[str, Any]]:
    """A step's Task (and -catch Task), then its fan-out when it splits."""
    if node.foreach_param is not None:
        after_task = state_name(node.name, sn.OUTPUT) if c.backend_kind(node) == "batch" else state_name(node.name, sn.FOREACH)
        fan_out = foreach_states(c, node, scope)
    elif node.is_split:
        after_task = state_name(node.name, sn.BRANCHES)
        fan_out = parallel_states(c, node, scope)
    elif node.is_switch:
        after_task = state_name(node.name, sn.SWITCH)
        repeats = c.foreach_budgets[node.name].threshold if node.is_recursive else None
        fan_out = switch.switch_states(node, scope.name, repeats)
    else:
        after_task, fan_out = next_step, {}
    reads: dict[str, dict[str, Any]] = {}
    if c.reads_batch_result(node):
        after_task, reads = batch.task_done_states(c.options, c.graph.flow_name, node, scope.name,
                                                   transition(after_task, scope))
    states = {scope.name(node.name): task_state(c, node, "run", after_task, scope)}
    if "catch" in c.decorators[node.name]:
        states[scope.name(state_name(node.name, sn.CATCH))] = task_state(c, node, "catch", after_task, scope)
    states.update(reads)
    states.update(fan_out)
    return states


def task_state(c: Compilation, node: Node, mode: str, next_base: str | None, scope: Scope) -> dict[str, Any]:
    """The Task that runs `node` once (mode "run"), or records its caught failure (mode "catch")."""
    decorators = c.decorators[node.name]
    timeout = timeout_seconds(decorators["timeout"]) if "timeout" in decorators and mode == "run" else None
    reads_input = switch.reads_input_task(c.nodes, node)
    payload = payload_template(node.name, mode, switch.INPUT_TASK if reads_input else None)
    backend = c.options.backend
    match c.backend_kind(node):
        case "batch":
            fields = batch.task_fields(c.graph.flow_name, node.name, mode, decorators, backend, timeout, reads_input)
        case "lambda":
            fields = lambda_.task_fields(payload, backend)
        case _:
            fields = worker.task_fields(payload, backend, timeout or None)
    state: dict[str, Any] = {"Type": "Task", **fields}
    if timeout:
        state["TimeoutSeconds"] = timeout
    if mode == "run":
        # Its -catch Task still needs the input task in $.task, so the error goes next to it.
        state.update(error_handling(decorators, scope.name(state_name(node.name, sn.CATCH)),
                                    "$.caught" if reads_input else "$.task"))
    else:
        state["Retry"] = catch_retry()
    state.update(transition(next_base, scope))
    return state


def retry_times(decorators: Mapping[str, Mapping[str, Any]]) -> int:
    """How many times @retry lets a step's Task run again (0 without it, or with times=0)."""
    retry = decorators.get("retry")
    return max(0, int(retry.get("times") or 0)) if retry else 0


def error_handling(decorators: Mapping[str, Mapping[str, Any]], catch_state: str,
                   error_path: str = "$.task") -> dict[str, Any]:
    """Retry from @retry (times=0: none) and Catch from @catch."""
    out: dict[str, Any] = {}
    retry = decorators.get("retry")
    if retry and retry_times(decorators) > 0:
        minutes = float(retry.get("minutes_between_retries") or 0)
        out["Retry"] = [{
            "ErrorEquals": ["States.ALL"],
            "MaxAttempts": retry_times(decorators),
            # Step Functions needs at least 1 s; Metaflow's minutes become seconds.
            "IntervalSeconds": max(1, round(minutes * 60)),
            "BackoffRate": 1.0,
        }]
    if "catch" in decorators:
        # States.ALL covers States.Timeout and States.HeartbeatTimeout too. The
        # error lands where the next task's output will, so it does not pile up.
        out["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": error_path, "Next": catch_state}]
    return out


def parallel_states(c: Compilation, node: Node, scope: Scope) -> dict[str, dict[str, Any]]:
    """A branch: one Parallel branch per out_func, each running until the matching join."""
    join = node.matching_join
    body = Scope(scope.suffix, in_body=True)
    return {
        scope.name(state_name(node.name, sn.BRANCHES)): {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": body.name(out), "States": chain(c, out, join, body)} for out in node.out_funcs
            ],
            # The join reads its inputs from the datastore, not from state.
            "ResultPath": None,
            **transition(join, scope),
        }
    }


def foreach_states(c: Compilation, node: Node, scope: Scope) -> dict[str, dict[str, Any]]:
    """A foreach: a Choice on the task's foreach_count between an inline and a distributed Map.

    Up to the step's threshold (history.py: what keeps this execution's
    history within budget, at most model.INLINE_FOREACH_LIMIT, the most
    indices the runner returns inline) an INLINE Map runs the items in this
    execution. Past it, a DISTRIBUTED Map reads the items file the task
    wrote to S3 and runs each item as a child execution with its own
    25,000-event history. The foreach body is compiled twice, once per Map;
    the copy's state names carry '@<step>'. Both copies use the same
    thresholds for the foreach steps nested in them.
    """
    step, join = node.name, node.matching_join
    choice, inline, wide = (scope.name(state_name(step, part)) for part in (sn.FOREACH, sn.MAP, sn.MAP_WIDE))
    states: dict[str, dict[str, Any]] = {}
    inline_entry = inline
    if c.backend_kind(node) == "batch":
        states[scope.name(state_name(step, sn.OUTPUT))] = batch.fetch_output_state(c.options, c.graph.flow_name, node, choice)
        inline_entry = scope.name(state_name(step, sn.INDICES))
        states[inline_entry] = batch.inline_indices_state(
            inline, switch.reads_input_task(c.nodes, c.nodes[node.out_funcs[0]]))
        reader = batch.items_reader_parameters(c.options, c.graph.flow_name, node)
    else:
        reader = {"Bucket.$": "$.task.output.foreach_items.Bucket", "Key.$": "$.task.output.foreach_items.Key"}
    states[choice] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.task.output.foreach_count", "NumericGreaterThan": c.foreach_budgets[step].threshold,
                     "Next": wide}],
        "Default": inline_entry,
    }
    first = node.out_funcs[0]
    inline_body = Scope(scope.suffix, in_body=True)
    wide_body = Scope(sn.copy_suffix(scope.suffix, step), in_body=True)
    common = {
        # A recursive first step names its input task: the foreach task, from the state data.
        "ItemSelector": iteration_selector(node.foreach_depth,
                                           switch.reads_input_task(c.nodes, c.nodes[node.out_funcs[0]])),
        # Never 0: moto reads it as one thread per item, AWS as unlimited.
        # (AWS runs at most 40 inline iterations at once whatever this says.)
        "MaxConcurrency": c.options.max_workers,
        "ResultPath": None,
        **transition(join, scope),
    }
    states[inline] = {
        "Type": "Map",
        "ItemsPath": "$.task.output.foreach_indices",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": inline_body.name(first),
                          "States": chain(c, first, join, inline_body)},
        **common,
    }
    states[wide] = {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": reader},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": wide_body.name(first), "States": chain(c, first, join, wide_body)},
        **common,
    }
    return states
