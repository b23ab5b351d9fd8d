"""compile_flow on switch steps: the Choice and Fail states, where cases meet, loop bounds, payload inputs."""

from __future__ import annotations

from pathlib import Path

from flowdrop.compiler import CompileOptions, compile_flow, definition_json
from flowdrop.compiler.history import HISTORY_BUDGET
from flowdrop.graph import parse_flow, parse_flow_file
from tests.helpers.compiler import all_states, options
from tests.unit.test_graph import flow

SWITCH_FLOW = Path(__file__).resolve().parents[1] / "flows" / "switch_flow.py"
INPUT_TASK = "States.Array($.task.output.task_id)"


def compiled(source: str, **overrides) -> dict:
    return compile_flow(parse_flow(flow(source), "flow.py"), options("worker", **overrides))


def payload(state: dict) -> dict:
    return state["Parameters"]["MessageBody"]["payload"]


TYPED = """
class F(FlowSpec):
    @step
    def start(self):
        self.x = 2
        self.next({2: self.one, 'two': self.two, True: self.yes}, condition='x')
    @step
    def one(self):
        self.next(self.after)
    @step
    def two(self):
        self.next(self.after)
    @step
    def yes(self):
        self.next(self.end)
    @step
    def after(self):
        self.next(self.end)
    @step
    def end(self):
        pass
"""


def test_a_switch_is_its_task_then_a_choice_on_the_matched_case_by_json_type():
    states = compiled(TYPED)["States"]
    assert states["start"]["Next"] == "start-switch"
    choice = states["start-switch"]
    assert choice["Type"] == "Choice" and choice["Default"] == "start-no-case"
    assert choice["Choices"] == [
        {"Variable": "$.task.output.switch_value", "IsPresent": False, "Next": "start-no-case"},
        {"Variable": "$.task.output.switch_value", "NumericEquals": 2, "Next": "one"},
        {"Variable": "$.task.output.switch_value", "StringEquals": "two", "Next": "two"},
        {"Variable": "$.task.output.switch_value", "BooleanEquals": True, "Next": "yes"},
    ]
    fail = states["start-no-case"]
    assert fail["Type"] == "Fail" and fail["Error"] == "flowdrop.SwitchNoCase"
    assert fail["CausePath"] == ("States.Format('step start: the switch on self.x chose no case (task result: {}); "
                                 "its cases are 2 -> one, \"two\" -> two, true -> yes', States.JsonToString($.task))")
    # The cases run up to where they meet: `after` for two of them, `end` for all three.
    assert states["one"]["Next"] == "after" and states["two"]["Next"] == "after" and states["yes"]["Next"] == "end"
    assert states["after"]["Next"] == "end" and states["end"]["End"] is True
    # Where cases meet, the step names the task that ran before it; elsewhere the graph says.
    assert payload(states["after"])["input_paths.$"] == INPUT_TASK
    assert payload(states["end"])["input_paths.$"] == INPUT_TASK
    assert "input_paths.$" not in payload(states["one"]) and "input_paths.$" not in payload(states["start"])


def test_a_case_may_lead_straight_to_where_the_others_meet():
    states = compiled("""
        class F(FlowSpec):
            @step
            def start(self):
                self.x = 'a'
                self.next({'a': self.a, 'b': self.b}, condition='x')
            @step
            def a(self):
                self.next(self.b)
            @step
            def b(self):
                self.next(self.end)
            @step
            def end(self):
                pass
        """)["States"]
    assert [rule.get("Next") for rule in states["start-switch"]["Choices"][1:]] == ["a", "b"]
    assert states["a"]["Next"] == "b" and states["b"]["Next"] == "end"
    assert payload(states["b"])["input_paths.$"] == INPUT_TASK  # a or start ran before it


def test_switch_flow_shapes_recursive_loop_foreach_and_convergence():
    machine = compile_flow(parse_flow_file(SWITCH_FLOW), options("worker"))
    states = machine["States"]
    loop = states["loop-switch"]["Choices"]
    assert loop[1]["Next"] == "loop-too-many-repeats" and loop[1]["And"][0] == {
        "Variable": "$.task.output.switch_value", "BooleanEquals": True}
    assert loop[1]["And"][1]["Variable"] == "$.task.output.iteration"
    assert loop[2:] == [{"Variable": "$.task.output.switch_value", "BooleanEquals": True, "Next": "loop"},
                        {"Variable": "$.task.output.switch_value", "BooleanEquals": False, "Next": "fan"}]
    assert states["loop-too-many-repeats"]["Error"] == "flowdrop.SwitchRepeatLimit"
    # The loop follows its predecessor or its last pass; `fan` follows the last pass.
    assert payload(states["loop"])["input_paths.$"] == INPUT_TASK
    assert payload(states["fan"])["input_paths.$"] == INPUT_TASK
    # A switch in a foreach: each case ends the iteration; both Map copies carry the Choice.
    for suffix, map_state in (("", "fan-map"), ("@fan", "fan-map-wide")):
        body = states[map_state]["ItemProcessor"]["States"]
        assert body[f"pick{suffix}"]["Next"] == f"pick-switch{suffix}"
        assert {rule.get("Next") for rule in body[f"pick-switch{suffix}"]["Choices"]} == {
            f"pick-no-case{suffix}", f"vowel{suffix}", f"consonant{suffix}"}
        for case in ("vowel", "consonant"):
            assert body[f"{case}{suffix}"]["End"] is True and body[f"{case}{suffix}"]["OutputPath"] == "$.indices"
    assert states["fan-map"]["Next"] == "gather" and "input_paths.$" not in payload(states["gather"])
    assert states["quick"]["Next"] == "end" and states["careful"]["Next"] == "end"
    # Byte-identical for the same input.
    assert definition_json(machine) == definition_json(compile_flow(parse_flow_file(SWITCH_FLOW), options("worker")))


def test_a_switch_in_a_branch_ends_the_branch_on_each_case():
    states = all_states(compiled("""
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.left, self.right)
            @step
            def left(self):
                self.x = 'p'
                self.next({'p': self.p, 'q': self.q}, condition='x')
            @step
            def p(self):
                self.next(self.join)
            @step
            def q(self):
                self.next(self.join)
            @step
            def right(self):
                self.next(self.join)
            @step
            def join(self, inputs):
                self.next(self.end)
            @step
            def end(self):
                pass
        """))
    assert states["left"]["Next"] == "left-switch"
    assert states["p"]["End"] is True and states["q"]["End"] is True and states["right"]["End"] is True
    assert states["start-branches"]["Next"] == "join"


RECURSIVE_IN_FOREACH = """
class F(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.again, foreach='items')
    @{decorator}step
    def again(self):
        self.n = getattr(self, 'n', 0) + 1
        self.more = self.n < self.input
        self.next({{True: self.again, False: self.after}}, condition='more')
    @step
    def after(self):
        self.next(self.join)
    @step
    def join(self, inputs):
        self.next(self.end)
    @step
    def end(self):
        pass
"""


def test_a_recursive_first_step_of_a_foreach_gets_the_foreach_task_from_the_item_selector():
    states = compiled(RECURSIVE_IN_FOREACH.format(decorator=""))["States"]
    selector = states["start-map"]["ItemSelector"]
    assert selector["task"] == {"output": {"task_id.$": "$.task.output.task_id"}}
    assert payload(states["start-map"]["ItemProcessor"]["States"]["again"])["input_paths.$"] == INPUT_TASK


def test_catch_on_a_step_naming_its_input_keeps_the_task_output_for_the_fallback():
    states = compiled(RECURSIVE_IN_FOREACH.format(decorator="catch(var='e')\n    @"))["States"]
    body = states["start-map"]["ItemProcessor"]["States"]
    assert body["again"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "again-catch"}]
    assert payload(body["again-catch"])["input_paths.$"] == INPUT_TASK


def repeats(machine: dict, step: str) -> int:
    rule = next(r for r in all_states(machine)[f"{step}-switch"]["Choices"] if "And" in r)
    return rule["And"][1]["NumericGreaterThanEquals"]


LOOP = """
class F(FlowSpec):
    @step
    def start(self):
        self.next(self.loop)
    @{decorator}step
    def loop(self):
        self.go = False
        self.next({{True: self.loop, False: self.end}}, condition='go')
    @step
    def end(self):
        pass
"""


def test_the_repeat_bound_comes_from_the_history_budget():
    alone = repeats(compiled(LOOP.format(decorator=""), inline_foreach_limit=1000), "loop")
    assert alone == 1000  # capped, as inline foreach items are
    assert repeats(compiled(LOOP.format(decorator=""), inline_foreach_limit=3), "loop") == 3
    retried = repeats(compiled(LOOP.format(decorator="retry(times=9)\n    @")), "loop")
    # Each repeat may write its Task's 10 attempts (2 + 40 events) and the Choice (2).
    assert retried == (HISTORY_BUDGET - 2 - 6 - (2 * 8 + 2) - 42) // 44
    # Inside a foreach, the repeats are paid by each item: the foreach's inline threshold shrinks.
    nested = compiled(RECURSIVE_IN_FOREACH.format(decorator=""))
    threshold = nested["States"]["start-foreach"]["Choices"][0]["NumericGreaterThan"]
    assert 0 < threshold < 1000 and repeats(nested, "again") * threshold < HISTORY_BUDGET


def test_on_batch_the_result_is_read_from_done_json_where_it_is_needed():
    # A Batch job returns no result: a GetObject reads the task's done.json after a switch step and
    # before a step that names its input task, and only there.
    states = compile_flow(parse_flow_file(SWITCH_FLOW), options("batch"))["States"]
    assert states["gather"]["Next"] == "gather-output" and states["gather-output"]["Next"] == "gather-switch"
    assert states["gather-output"]["Parameters"]["Key.$"] == (
        "States.Format('data/SwitchFlow/runs/{}/gather/gather/done.json', $.run.run_id)")
    assert states["quick"]["Next"] == "quick-output" and states["quick-output"]["Next"] == "end"
    assert states["start"]["Next"] == "start-output"  # the loop's first pass names `start` as its input
    assert "end-output" not in states and states["fan"]["Next"] == "fan-output"  # a foreach's read, as before
    body = states["fan-map"]["ItemProcessor"]["States"]
    assert body["pick"]["Next"] == "pick-output" and "vowel-output" not in body
    environment = states["end"]["Parameters"]["ContainerOverrides"]["Environment"]
    assert {"Name": "FLOWDROP_INPUT_TASK", "Value.$": "$.task.output.task_id"} in environment
    assert not any(e["Name"] == "FLOWDROP_INPUT_TASK" for e in states["quick"]["Parameters"]["ContainerOverrides"]
                   ["Environment"])


def test_on_batch_a_recursive_pass_is_read_by_the_id_its_previous_pass_gave():
    states = compile_flow(parse_flow_file(SWITCH_FLOW), options("batch"))["States"]
    assert states["loop"]["Next"] == "loop-pass"
    choice = states["loop-pass"]
    # Before the read, $.task.output is still the task before this one (a Batch Task keeps no result).
    assert choice["Choices"][0]["Or"] == [
        {"Variable": "$.task.output.task_id", "StringEquals": "loop"},
        {"Variable": "$.task.output.task_id", "StringMatches": "loop.*"},
        {"Variable": "$.task.output.task_id", "StringMatches": "loop-*"}]
    assert choice["Choices"][0]["Next"] == "loop-output-again" and choice["Default"] == "loop-output"
    assert states["loop-output-again"]["Parameters"]["Key.$"] == (
        "States.Format('data/SwitchFlow/runs/{}/loop/{}/done.json', $.run.run_id, $.task.output.next_task_id)")
    assert states["loop-output"]["Next"] == states["loop-output-again"]["Next"] == "loop-switch"


def test_batch_foreach_keeps_the_task_id_for_a_recursive_first_step():
    states = compile_flow(parse_flow(flow(RECURSIVE_IN_FOREACH.format(decorator="")), "flow.py"),
                          options("batch"))["States"]
    assert states["start-indices"]["Parameters"]["task_id.$"] == "$.task.output.task_id"
    assert states["start-map"]["ItemSelector"]["task"] == {"output": {"task_id.$": "$.task.output.task_id"}}


def test_lambda_backend_compiles_the_same_choice():
    machine = compile_flow(parse_flow_file(SWITCH_FLOW), options("lambda"))
    states = machine["States"]
    assert states["gather"]["Next"] == "gather-switch"
    assert states["end"]["Parameters"]["Payload"]["input_paths.$"] == INPUT_TASK


def test_only_json_options_without_switch_carry_no_input_paths():
    # The goldens pin flows without a switch byte for byte; this pins the rule behind it.
    machine = compile_flow(parse_flow(flow(LOOP.format(decorator="")).replace(
        "self.next({True: self.loop, False: self.end}, condition='go')", "self.next(self.end)"), "flow.py"),
        CompileOptions(state_machine_name="F"))
    assert "input_paths" not in definition_json(machine) and "switch" not in definition_json(machine)
