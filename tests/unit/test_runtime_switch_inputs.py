"""Which tasks feed a task after a switch, in Step Functions: from the state data's task id, or the datastore."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowdrop.errors import TaskError
from flowdrop.graph import parse_flow_file
from flowdrop.model.task import TaskPayload, input_task, step_of_task, task_output
from flowdrop.runtime.inputs import join_inputs_ran, with_iteration

SWITCH_FLOW = Path(__file__).resolve().parents[1] / "flows" / "switch_flow.py"


@pytest.mark.parametrize(("path", "expected"), [
    ("loop.2", ("loop", "loop.2")), ("pick-1", ("pick", "pick-1")), ("inner-3-1.4", ("inner", "inner-3-1.4")),
    ("loop/loop.1", ("loop", "loop.1")), ("sfn-x/fan/fan", ("fan", "fan")),
])
def test_input_paths_name_a_task_with_or_without_its_step(path, expected):
    assert input_task(path) == expected
    assert step_of_task(expected[1]) == expected[0]


def test_a_recursive_step_after_itself_is_its_next_pass_and_after_another_step_its_first():
    graph = parse_flow_file(SWITCH_FLOW)
    first = TaskPayload("SwitchFlow", "loop", "sfn-r", input_paths=("start",))
    assert with_iteration(graph["loop"], first).task_id == "loop"
    again = TaskPayload("SwitchFlow", "loop", "sfn-r", input_paths=("loop.1",))
    assert with_iteration(graph["loop"], again).task_id == "loop.2"
    # Steps that are no recursive switch keep their id.
    fan = TaskPayload("SwitchFlow", "fan", "sfn-r", input_paths=("loop.2",))
    assert with_iteration(graph["fan"], fan).task_id == "fan"


def test_a_foreach_join_takes_at_each_index_the_case_that_ran():
    graph = parse_flow_file(SWITCH_FLOW)
    ran = {("vowel", "vowel-0"), ("consonant", "consonant-1"), ("consonant", "consonant-2")}
    inputs = join_inputs_ran(graph, "gather", (), lambda step, task: 3, lambda step, task: (step, task) in ran)
    assert inputs == [("vowel", "vowel-0"), ("consonant", "consonant-1"), ("consonant", "consonant-2")]
    with pytest.raises(TaskError, match="join 'gather': at foreach index 2 none of \\['vowel', 'consonant'\\]"):
        join_inputs_ran(graph, "gather", (), lambda step, task: 3, lambda step, task: (step, task) in list(ran)[:0]
                        or task in ("vowel-0", "consonant-1"))


def test_a_switch_task_output_carries_its_case_and_a_recursive_one_its_pass():
    assert task_output("gather", switch_target="quick", switch_value="fast") == {
        "task_id": "gather", "switch_target": "quick", "switch_value": "fast"}
    assert task_output("loop.2", switch_target="loop", switch_value=True, iteration=2)["iteration"] == 2
    assert task_output("a") == {"task_id": "a"}


def test_a_batch_job_and_the_step_command_carry_the_input_task():
    import json

    from flowdrop.model.task import payload_from_batch_environment
    from flowdrop.runtime import task_command

    env = {"FLOWDROP_RUN": json.dumps({"flow_name": "SwitchFlow", "run_id": "sfn-r"}), "FLOWDROP_INDICES": "[]",
           "FLOWDROP_STEP": "loop", "FLOWDROP_INPUT_TASK": "loop.1"}
    payload = payload_from_batch_environment(env)
    assert payload.input_paths == ("loop.1",)
    args = task_command(Path("switch_flow.py"), with_iteration(parse_flow_file(SWITCH_FLOW)["loop"], payload))
    assert args[args.index("--task-id") + 1] == "loop.2" and args[args.index("--input-paths") + 1] == "loop.1"
    del env["FLOWDROP_INPUT_TASK"]
    assert payload_from_batch_environment(env).input_paths is None
