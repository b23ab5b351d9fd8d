"""Switch steps in the state machine: where a switch's cases meet again, and its Choice and Fail states.

Owns: the walk of a scope that knows switches (`following`: after a switch
comes the step where its cases meet again), which steps read their input
task from the state data (`reads_input_task`), and the states a switch adds
after its Task:

- `<step>-switch` (Choice) on the case the task's condition matched,
  `$.task.output.switch_value` (model.task_output): one rule per case, by
  JSON type (StringEquals, NumericEquals, BooleanEquals), to the case's
  step. A case back to the step itself (a recursive switch) goes back to
  its Task: a loop, each pass a new task (`loop`, `loop.1`, ...).
- `<step>-no-case` (Fail): the value matched no case, or the task gave none
  (it failed and @catch recorded it); the cause names step and value.
- `<step>-too-many-repeats` (Fail): a recursive switch that wants to run
  again after `repeats` repeats. Every repeat writes its Task's and the
  Choice's events into the execution's history, which AWS caps at 25,000
  events, so the compiler bounds the repeats (history.py computes the
  bound with the foreach thresholds) and fails the run clearly instead of
  letting AWS fail it at an arbitrary state.

Does not own: the Task states (shapes.py) or the history budget (history.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from flowdrop.model import state_names as sn
from flowdrop.model.graph import Node
from flowdrop.model.state_names import state_name

SWITCH_VALUE = "$.task.output.switch_value"
ITERATION = "$.task.output.iteration"
# The task that ran before, as Step Functions' state data knows it (model.task.input_task parses it).
INPUT_TASK = "States.Array($.task.output.task_id)"


def case_steps(node: Node) -> list[str]:
    """The steps a switch may go to other than itself, once each, in source order."""
    return list(dict.fromkeys(step for _, step in node.switch_cases if step != node.name))


def following(nodes: Mapping[str, Node], node: Node, stop: str | None) -> str | None:
    """The step after `node` in its scope: a split's join, a switch's meeting point, or its one successor."""
    if node.is_split:
        return node.matching_join
    if node.is_switch:
        return meeting_point(nodes, node, stop)
    return node.out_funcs[0] if node.out_funcs else None


def _path(nodes: Mapping[str, Node], first: str, stop: str | None) -> list[str | None]:
    steps: list[str | None] = []
    name: str | None = first
    while name is not None and name != stop:
        steps.append(name)
        name = following(nodes, nodes[name], stop)
    return [*steps, stop]


def meeting_point(nodes: Mapping[str, Node], node: Node, stop: str | None) -> str | None:
    """The first step every case of switch `node` reaches (`stop`, the scope's end, if only that)."""
    paths = [_path(nodes, step, stop) for step in case_steps(node)]
    if not paths:  # every case is the step itself (lint refuses a loop with no way out)
        return stop
    others = [set(path) for path in paths[1:]]
    return next(step for step in paths[0] if all(step in seen for seen in others))


def reads_input_task(nodes: Mapping[str, Node], node: Node) -> bool:
    """True when which task feeds `node` depends on data, so its payload names the task that ran before.

    A recursive switch follows its predecessor or its own last pass; a step
    after one follows its last pass; a step where a switch's cases meet
    again (several parents, no join) follows whichever case ran. Joins find
    their inputs in the datastore instead (runtime/inputs.py).
    """
    if node.is_join or node.name == "start":
        return False
    return node.is_recursive or len(node.in_funcs) > 1 or any(nodes[p].is_recursive for p in node.in_funcs)


def _equals(value: Any) -> dict[str, Any]:
    # bool before int: True is an int in Python, a boolean in JSON.
    if isinstance(value, bool):
        return {"BooleanEquals": value}
    if isinstance(value, (int, float)):
        return {"NumericEquals": value}
    return {"StringEquals": str(value)}


def switch_states(node: Node, scope_name: Callable[[str], str], repeats: int | None) -> dict[str, dict[str, Any]]:
    """The Choice after switch `node`'s Task and its Fail states; `scope_name` names a state in the scope."""
    choice, no_case = scope_name(state_name(node.name, sn.SWITCH)), scope_name(state_name(node.name, sn.NO_CASE))
    # Checked first: AWS fails a comparison on a missing path (moto takes Default).
    rules: list[dict[str, Any]] = [{"Variable": SWITCH_VALUE, "IsPresent": False, "Next": no_case}]
    states: dict[str, dict[str, Any]] = {}
    if node.is_recursive and repeats is not None:
        too_many = scope_name(state_name(node.name, sn.TOO_MANY_REPEATS))
        rules += [{"And": [{"Variable": SWITCH_VALUE, **_equals(value)},
                           {"Variable": ITERATION, "NumericGreaterThanEquals": repeats}], "Next": too_many}
                  for value, step in node.switch_cases if step == node.name]
        states[too_many] = {
            "Type": "Fail",
            "Error": "flowdrop.SwitchRepeatLimit",
            "Cause": f"step '{node.name}': the recursive switch on self.{node.condition} wants to run the step "
                     f"again after {repeats} repeats, the most one Step Functions execution's history (25,000 "
                     "events) holds for it with the rest of the flow; end the loop sooner, or move the repeated "
                     "work into a foreach",
        }
    rules += [{"Variable": SWITCH_VALUE, **_equals(value), "Next": scope_name(step)}
              for value, step in node.switch_cases]
    cases = ", ".join(f"{json.dumps(value)} -> {step}" for value, step in node.switch_cases)
    states[choice] = {"Type": "Choice", "Choices": rules, "Default": no_case}
    states[no_case] = {
        "Type": "Fail",
        "Error": "flowdrop.SwitchNoCase",
        "CausePath": f"States.Format('step {node.name}: the switch on self.{_literal(node.condition)} chose no "
                     f"case (task result: {{}}); its cases are {_literal(cases)}', States.JsonToString($.task))",
    }
    return states


def _literal(text: str | None) -> str:
    """Text safe inside an intrinsic function's string literal: moto's interpreter reads no escapes, so drop them."""
    return "".join(ch for ch in str(text) if ch not in "'{}\\")
