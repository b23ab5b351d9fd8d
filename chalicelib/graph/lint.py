"""The structure of a flow: which step leads where, which join closes which split.

Owns: turning the steps read from source (source.FlowSource) into
Nodes in topological order, with in_funcs, types, split_parents,
matching_join and foreach_depth, and every structural problem: missing
start or end, unknown targets, cycles, unreachable steps, joins without
inputs, joins that close nothing or mix splits, splits that never join,
parameter names that clash or are reserved, and decorator arguments that
cannot work (model.decorator_problems, and @catch on a foreach). Does not
own: reading the source (source.py) or the entry points (parse.py).

Semantics follow Metaflow's graph and linter (a join is a step taking
`inputs`; a split stays open until the join that closes it), with one
deliberate difference: a join's split_parents do not include the split it
closes, so for every step foreach_depth is the number of foreach steps
among its split_parents, the number of indices in its task ids.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field

from flowdrop.graph.source import FlowSource, Problems, StepSource
from flowdrop.model.decorators import decorator_problems
from flowdrop.model.graph import END, FOREACH, JOIN, LINEAR, SPLIT, START, SWITCH, Node
from flowdrop.model.reserved import FLOWSPEC_ATTRIBUTES

# Names Metaflow reserves because a step named so would shadow FlowSpec's own attributes.
RESERVED_STEP_NAMES = frozenset({"name", "next", "input", "index", "cmd"})
# Parameter names that collide with the flow command's own options, spelled
# with underscores: click maps `--max-workers` to `max_workers`, so both
# spellings collide. Metaflow rejects a parameter named like one of its run
# options or click internals (its parameters.py); flowdrop rejects those too,
# so a flow written here also runs under Metaflow, plus its own options.
RESERVED_OPTION_NAMES = frozenset({
    "with", "tag", "max_workers", "run_id_file", "datastore", "origin_run_id", "help",
})
METAFLOW_RESERVED_NAMES = frozenset({
    "params", "obj", "decospecs", "tags", "namespace", "user_namespace", "max_num_splits", "max_log_size",
})
_STEP_NAME = re.compile(r"[a-z0-9][a-z0-9_]*")

Edges = dict[str, tuple[str, ...]]  # step -> the steps its self.next names, in order
Parents = dict[str, list[str]]  # step -> the steps leading to it, in source order


@dataclass
class _Shape:
    """What matching splits with joins computes, per step."""

    split_parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    matching_join: dict[str, str] = field(default_factory=dict)


def build_nodes(flow: FlowSource, problems: Problems) -> tuple[Node, ...]:
    """The flow's Nodes in topological order; structural problems go to `problems`."""
    steps = {step.name: step for step in flow.steps}
    _check_names(flow, problems)
    _check_parameters(flow, steps, problems)
    _check_decorators(flow, problems)
    for required in ("start", "end"):
        if required not in steps:
            problems.flow(flow.lineno, flow.name, f"no '{required}' step; every flow starts at a step named 'start' "
                          f"and finishes at one named 'end'. Add `@step def {required}(self): ...`.")
    out_funcs, targets_known = _known_out_funcs(flow, steps, problems)
    in_funcs: dict[str, list[str]] = {name: [] for name in steps}
    for name in steps:  # source order, so every in_funcs list is in source order too
        for target in out_funcs[name]:
            in_funcs[target].append(name)
    reachable = _reachable(out_funcs) if "start" in steps else set(steps)
    loops = _check_cycles(steps, out_funcs, problems)
    # A recursive switch's case back to itself is the one loop allowed (as
    # in Metaflow); it is no parent for ordering or for matching joins.
    forward_in = {name: [p for p in ins if p != name or not _is_switch(steps[p])] for name, ins in in_funcs.items()}
    # Parents that count for joins: a loop's back edge or an unreachable step
    # is reported on its own, and would only add confusing join problems.
    parents = {
        name: [p for p in forward_in[name] if p in reachable and (p, name) not in loops] for name in steps
    }
    has_switch = any(_is_switch(step) for step in steps.values())
    _check_signatures(steps, out_funcs, parents, problems, has_switch)
    # With a transition missing or unreadable, the steps after it look
    # unreachable; that is a consequence of the problem already reported.
    transitions_known = targets_known and all(s.transition_ok for s in flow.steps)
    for name, step in steps.items():
        if name not in reachable and transitions_known:
            problems.step(step.lineno, name, "no path leads here from 'start', so it would never run; "
                          f"call self.next(self.{name}) from another step or remove it.")
    order = _topological_order(steps, out_funcs, forward_in)

    shape = _Shape()
    if not loops and transitions_known and {"start", "end"} <= steps.keys():
        shape = _match_splits(steps, out_funcs, parents, order, problems)
    return tuple(_node(steps, name, out_funcs, in_funcs, shape) for name in order)


def _is_split(step: StepSource, out_funcs: tuple[str, ...]) -> bool:
    """A branch or a foreach: every path out of it runs, and a join must close it (a switch runs one)."""
    return step.transition is not None and not step.transition.switch and (step.transition.foreach or len(out_funcs) > 1)


def _is_switch(step: StepSource) -> bool:
    return step.transition is not None and step.transition.switch


def _is_join(step: StepSource) -> bool:
    return step.takes_inputs and step.name not in ("start", "end")


def _node(steps: dict[str, StepSource], name: str, out_funcs: Edges, in_funcs: Parents, shape: _Shape) -> Node:
    step = steps[name]
    outs = out_funcs[name]
    foreach = step.transition is not None and step.transition.foreach
    if name == "end":
        kind = END
    elif _is_join(step):
        kind = JOIN
    elif foreach:
        kind = FOREACH
    elif _is_switch(step):
        kind = SWITCH
    elif len(outs) > 1:
        kind = SPLIT
    elif name == "start":
        kind = START
    else:
        kind = LINEAR
    split_parents = shape.split_parents.get(name, ())
    foreach_depth = sum(1 for parent in split_parents if steps[parent].transition.foreach)
    return Node(
        name=name,
        type=kind,
        out_funcs=outs,
        in_funcs=tuple(in_funcs[name]),
        foreach_param=step.transition.foreach_param if foreach else None,
        is_join=_is_join(step),
        decorators=step.decorators,
        lineno=step.lineno,
        split_parents=split_parents,
        matching_join=shape.matching_join.get(name),
        foreach_depth=foreach_depth,
        doc=step.doc,
        switch_cases=step.transition.switch_cases if _is_switch(step) else (),
        condition=step.transition.condition if _is_switch(step) else None,
    )


def _check_names(flow: FlowSource, problems: Problems) -> None:
    for step in flow.steps:
        if step.name in RESERVED_STEP_NAMES:
            problems.step(step.lineno, step.name, f"'{step.name}' is reserved (FlowSpec uses self.{step.name}); "
                          "choose another step name.")
        elif not _STEP_NAME.fullmatch(step.name):
            problems.step(step.lineno, step.name, "step names may use only lowercase letters, digits and "
                          "underscores, and may not start with an underscore; rename the step.")


def _check_parameters(flow: FlowSource, steps: dict[str, StepSource], problems: Problems) -> None:
    seen: dict[str, int] = {}
    for param in flow.parameters:
        if param.name in seen:
            problems.flow(param.lineno, flow.name, f"parameter '{param.name}' is declared twice (also at line "
                          f"{seen[param.name]}); give each Parameter its own name.")
        seen.setdefault(param.name, param.lineno)
        for clash in {param.name, param.attribute} & steps.keys():
            problems.flow(param.lineno, flow.name, f"parameter `{param.attribute}` clashes with step '{clash}' "
                          f"(line {steps[clash].lineno}); rename the parameter or the step.")
        for text in _reserved_parameter_problems(param.name, param.attribute):
            problems.flow(param.lineno, flow.name, text)


def _reserved_parameter_problems(name: str, attribute: str) -> list[str]:
    out = []
    spelled = name.lower().replace("-", "_")
    if spelled in RESERVED_OPTION_NAMES:
        out.append(f"parameter name '{name}' is reserved: the flow's command line has its own "
                   f"`--{spelled.replace('_', '-')}` option; rename the parameter.")
    elif spelled in METAFLOW_RESERVED_NAMES:
        out.append(f"parameter name '{name}' is reserved by Metaflow's command line, so the flow would not run "
                   "there; rename the parameter.")
    if attribute in FLOWSPEC_ATTRIBUTES:
        out.append(f"parameter `{attribute}`: `{attribute}` is an attribute of FlowSpec itself (self.{attribute}), "
                   "which the parameter would hide; rename the class attribute.")
    elif attribute != spelled and attribute in RESERVED_OPTION_NAMES | {"obj"}:  # run(obj, max_workers, ...)
        out.append(f"parameter `{attribute}`: the class attribute `{attribute}` collides with the command line's "
                   f"own `{attribute}`; rename the class attribute.")
    return out


def _check_decorators(flow: FlowSource, problems: Problems) -> None:
    _check_exit_hooks(flow, problems)
    for step in flow.steps:
        for deco in step.decorators:
            for text in decorator_problems(deco):
                problems.step(deco.lineno or step.lineno, step.name, text)
            if deco.name == "catch" and step.transition is not None and step.transition.foreach:
                # As in Metaflow: the fallback task has no items to fan out over.
                problems.step(deco.lineno or step.lineno, step.name, "@catch is not supported in foreach split "
                              "steps: a caught failure leaves nothing to iterate over. Move the risky work to a "
                              "step before the foreach, or catch inside the foreach's body step.")


def _check_exit_hooks(flow: FlowSource, problems: Problems) -> None:
    from flowdrop.model.exit_hooks import DECORATOR, exit_hook_problems

    for deco in flow.decorators:
        if deco.name == DECORATOR:
            line = deco.lineno or flow.lineno
            # An item the reader refused is already reported; its list is not then "empty".
            refused = any(at == line and "@exit_hook(" in text for at, text in problems.found)
            for text in exit_hook_problems(deco.attributes, lists_refused=refused):
                problems.flow(line, flow.name, text)


def _known_out_funcs(flow: FlowSource, steps: dict[str, StepSource], problems: Problems) -> tuple[Edges, bool]:
    """Each step's targets that exist, and whether every target existed."""
    out_funcs: dict[str, tuple[str, ...]] = {}
    all_known = True
    for name, step in steps.items():
        targets = step.transition.targets if step.transition else ()
        for target in targets:
            if target in steps:
                continue
            all_known = False
            if target in flow.plain_methods:
                hint = f"'{target}' is a method without @step; add @step above `def {target}`."
            elif close := _close_matches(target, list(steps)):
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = "the steps are " + ", ".join(steps) + "."
            problems.step(step.transition.lineno, name, f"self.next() names an unknown step '{target}'; {hint}")
        out_funcs[name] = tuple(t for t in targets if t in steps)
    return out_funcs, all_known


def _check_signatures(steps: dict[str, StepSource], out_funcs: Edges, all_parents: Parents,
                      problems: Problems, has_switch: bool = False) -> None:
    """Signature checks; with a switch in the flow, several parents may be its alternatives (_match_splits decides)."""
    for name, step in steps.items():
        parents = all_parents[name]
        if name == "start" and step.takes_inputs:
            problems.step(step.lineno, name, "start cannot take `inputs`: nothing comes before it. "
                          "Write def start(self).")
        if name == "start" and parents:
            problems.step(step.lineno, name, f"start must be the first step, but {', '.join(parents)} "
                          f"{'leads' if len(parents) == 1 else 'lead'} to it; point those transitions elsewhere.")
        if _is_join(step):
            switches = [p for p in parents if _is_switch(steps[p])]
            if switches:
                problems.step(step.lineno, name, f"switch {', '.join(switches)} leads straight to this join; a "
                              "switch's case cannot be a join's input (which inputs arrive would depend on data). "
                              "Put an unconditional step on that path before the join.")
        if has_switch and not _is_join(step):
            pass  # several parents may be a switch's alternatives: _match_splits decides
        elif name == "end" and len(parents) > 1:
            problems.step(step.lineno, name, f"{len(parents)} steps lead to end ({', '.join(parents)}), but end "
                          "cannot be a join; add a join step `def join(self, inputs)` before end.")
        elif len(parents) > 1 and not step.takes_inputs and name != "start":
            problems.step(step.lineno, name, f"{len(parents)} steps lead here ({', '.join(parents)}), so it is a "
                          f"join and needs `inputs`: write def {name}(self, inputs).")
        if _is_join(step) and _is_split(step, out_funcs[name]):
            problems.step(step.lineno, name, "a step cannot both join (take `inputs`) and split; add a step "
                          "between the join and the split.")
        if step.transition is not None and step.transition.foreach:
            for target in out_funcs[name]:
                if steps[target].takes_inputs:
                    problems.step(step.transition.lineno, name, f"the foreach goes straight to join '{target}'; "
                                  "put at least one step between a foreach and its join.")


def _reachable(out_funcs: Edges) -> set[str]:
    seen, todo = {"start"}, ["start"]
    while todo:
        for target in out_funcs[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _check_cycles(steps: dict[str, StepSource], out_funcs: Edges, problems: Problems) -> set[tuple[str, str]]:
    """Report each edge that closes a loop, and return those edges.

    Iterative, as flows may have a thousand steps in a row (past Python's recursion limit).
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    loops: set[tuple[str, str]] = set()
    for root in steps:
        if root in state:
            continue
        path, iters = [root], [iter(out_funcs[root])]
        state[root] = 1
        while path:
            target = next(iters[-1], None)
            if target is None:
                state[path.pop()] = 2
                iters.pop()
            elif target == path[-1] and _is_switch(steps[target]):
                continue  # a recursive switch: allowed
            elif state.get(target) == 1:
                loops.add((path[-1], target))
                loop = path[path.index(target):] + [target]
                step = steps[path[-1]]
                problems.step(step.transition.lineno, step.name, f"self.next(self.{target}) closes a loop "
                              f"({' -> '.join(loop)}); a flow must not loop. Use a foreach to repeat work over items.")
            elif target not in state:
                state[target] = 1
                path.append(target)
                iters.append(iter(out_funcs[target]))
    return loops


def _topological_order(steps: dict[str, StepSource], out_funcs: Edges, in_funcs: Parents) -> list[str]:
    """Start first, then whichever ready step comes first in the source; steps on loops last."""
    index = {name: (name != "start", i) for i, name in enumerate(steps)}
    waiting = {name: len(in_funcs[name]) for name in steps}
    ready = [index[name] + (name,) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)[-1]
        order.append(name)
        for target in out_funcs[name]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, index[target] + (target,))
    placed = set(order)
    return order + [name for name in steps if name not in placed]


def _where(stack: tuple[str, ...]) -> str:
    return f"inside split '{stack[-1]}'" if stack else "outside any split"


def _common_prefix(stacks: list[tuple[str, ...]]) -> tuple[str, ...]:
    prefix = stacks[0]
    for stack in stacks[1:]:
        size = next((i for i, (a, b) in enumerate(zip(prefix, stack)) if a != b), min(len(prefix), len(stack)))
        prefix = prefix[:size]
    return prefix


def _match_splits(steps: dict[str, StepSource], out_funcs: Edges, parents: Parents, order: list[str],
                  problems: Problems) -> _Shape:
    """Walk the acyclic graph with a stack of open splits, as Metaflow's linter does.

    `parents` holds only reachable parents. `inside[name]` is the stack a
    step hands its children: a split pushes itself, a join pops the split it
    closes. A step with several parents but no `inputs` (already reported)
    is walked as the join it must be, so its problem is reported once.
    """
    shape = _Shape()
    inside: dict[str, tuple[str, ...]] = {}
    closers: dict[str, list[str]] = {}
    unjoined: list[str] = []
    via_switch: set[str] = set()  # joins some of whose inputs come through a switch's case
    has_switch = any(_is_switch(s) for s in steps.values())

    def strip(stack: tuple[str, ...]) -> tuple[str, ...]:
        # A switch stays on the stack until its cases meet again, but never needs a join.
        while stack and _is_switch(steps[stack[-1]]):
            stack = stack[:-1]
        return stack

    for name in order:
        if name not in parents or (name != "start" and not parents[name]):
            continue  # unreachable
        step, ins = steps[name], parents[name]
        arrivals = list(dict.fromkeys(inside[p] for p in ins)) or [()]
        if _is_join(step) and has_switch:
            stripped = list(dict.fromkeys(strip(a) for a in arrivals))
            if stripped != arrivals:
                via_switch.add(name)
            arrivals = stripped
        arrival = stack = arrivals[0]
        if name == "end":
            unjoined.extend(s for stack in arrivals for s in stack if s not in unjoined and not _is_switch(steps[s]))
            shape.split_parents[name] = ()
            continue
        if len(ins) > 1 and has_switch and not _is_join(step):
            # Where a switch's cases meet again: one of the parents ran, so no join (and no `inputs`).
            merged = strip(_common_prefix(arrivals))
            if any(not all(_is_switch(steps[s]) for s in a[len(merged):]) for a in arrivals) or merged == arrivals[0]:
                problems.step(step.lineno, name, f"{len(ins)} steps lead here ({', '.join(ins)}), and not as the "
                              f"cases of one switch, so it is a join and needs `inputs`: write def {name}(self, inputs).")
            stack = merged
        elif _is_join(step) or len(ins) > 1:
            if len(arrivals) > 1:
                origins = ", ".join(f"'{p}' ({_where(inside[p])})" for p in ins)
                problems.step(step.lineno, name, f"a join closes one split, but its inputs come from different "
                              f"ones: {origins}. Join each split's branches in a step of their own first.")
                stack = _common_prefix(arrivals)[:-1]
            elif not arrival:
                if len(ins) < 2:
                    problems.step(step.lineno, name, f"a join needs 2 or more inputs; it has {len(ins)}. No split "
                                  "or foreach is open before it, so remove `inputs` from its signature.")
                elif _is_join(step):
                    problems.step(step.lineno, name, f"takes `inputs`, but no split or foreach is open before it: "
                                  f"{', '.join(ins)} do not come from one split.")
            elif ins == [arrival[-1]] and len(out_funcs[arrival[-1]]) > 1:
                problems.step(step.lineno, name, f"takes `inputs` but is a branch of split '{arrival[-1]}', not "
                              "the step where its branches meet: a join needs 2 or more inputs; it has 1. Remove "
                              "`inputs` here; the step after the branches takes them.")
            else:
                closers.setdefault(arrival[-1], []).append(name)
                stack = arrival[:-1]
        shape.split_parents[name] = tuple(s for s in stack if not _is_switch(steps[s]))
        opens = _is_split(step, out_funcs[name]) or _is_switch(step)
        inside[name] = stack + (name,) if opens else stack

    for name in order:
        step = steps[name]
        if name not in inside or not _is_split(step, out_funcs[name]):
            continue
        kind = "foreach" if step.transition.foreach else "split"
        joins = closers.get(name, [])
        if name in unjoined:
            problems.step(step.lineno, name, f"this {kind} never joins: a path from it reaches 'end' without a "
                          "join. Add a step taking `inputs` where its branches meet, before end.")
        elif len(joins) > 1:
            problems.step(step.lineno, name, f"the branches of this {kind} are joined by different steps "
                          f"({', '.join(joins)}); join all of them in one step.")
        elif len(joins) == 1:
            join = joins[0]
            shape.matching_join[name] = join
            if kind == "split" and join not in via_switch and len(parents[join]) != len(out_funcs[name]):
                problems.step(steps[join].lineno, join, f"a join after split '{name}' needs one input per "
                              f"branch, {len(out_funcs[name])} ({', '.join(out_funcs[name])}); it has "
                              f"{len(parents[join])} ({', '.join(parents[join])}).")
    return shape


def _close_matches(name: str, candidates: list[str]) -> list[str]:
    import difflib  # only a flow with a mistyped step name pays for it

    return difflib.get_close_matches(name, candidates, n=1)
