"""Switch steps in the static graph: parsed from the AST, linted (recursion only as a switch's own case), rendered."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowdrop.compiler import CompileError, CompileOptions, compile_flow
from flowdrop.graph import parse_flow_file, render_graph
from flowdrop.graph.render import render_dot
from tests.unit.test_graph import flow, problems_of

SWITCH_FLOW = Path(__file__).resolve().parents[1] / "flows" / "switch_flow.py"


def test_switch_flow_shape():
    graph = parse_flow_file(SWITCH_FLOW)
    loop, pick, gather, end = graph["loop"], graph["pick"], graph["gather"], graph["end"]
    assert loop.type == "split-switch" and loop.is_recursive
    assert loop.switch_cases == ((True, "loop"), (False, "fan")) and loop.condition == "again"
    assert loop.in_funcs == ("start", "loop")
    # A switch inside a foreach: its cases meet at the foreach's join, which still closes the foreach.
    assert pick.split_parents == ("fan",) and graph["fan"].matching_join == "gather"
    assert gather.is_join and set(gather.in_funcs) == {"vowel", "consonant"}
    assert end.in_funcs == ("quick", "careful") and not end.is_join
    assert graph["quick"].foreach_depth == 0 and graph["vowel"].foreach_depth == 1


def test_switch_round_trips_through_json():
    graph = parse_flow_file(SWITCH_FLOW)
    again = type(graph).from_dict(graph.to_dict())
    assert again["loop"].switch_cases == graph["loop"].switch_cases
    assert again["pick"].condition == "kind"


def test_show_and_dot_name_the_cases():
    graph = parse_flow_file(SWITCH_FLOW)
    assert "=> switch on 'kind': 'vowel' -> vowel, 'consonant' -> consonant" in render_graph(graph)
    assert '"loop" -> "loop" [label="again == True", style=dashed];' in render_dot(graph)


SWITCH = """
class F(FlowSpec):
    @step
    def start(self):
        self.x = 'a'
        self.next({CASES}, condition='x')
    @step
    def a(self):
        self.next(self.end)
    @step
    def b(self):
        self.next(self.end)
    @step
    def end(self):
        pass
"""


@pytest.mark.parametrize(("cases", "expected"), [
    ("{'a': self.a}", "a switch needs at least 2 cases; this one has 1"),
    ("{name: self.a, 'b': self.b}", "switch case keys must be string or number literals, not `name`"),
    ("{'a': self.a, 'b': 'b'}", "switch case 'b' must name a step as self.<step>"),
    ("{'a': self.a, 'a': self.b}", "switch case 'a' is given twice"),
    ("{'a': self.a, 'b': self.nowhere}", "unknown step 'nowhere'"),
])
def test_bad_switches_are_reported_with_line_and_step(cases, expected):
    problems = problems_of(flow(SWITCH.replace("{CASES}", cases)))
    assert any(p.startswith("flow.py:9: step 'start': ") and expected in p for p in problems), problems


def test_a_dict_without_condition_is_reported():
    source = flow(SWITCH.replace("{CASES}, condition='x'", "{'a': self.a, 'b': self.b}"))
    assert any("needs condition='<artifact>'" in p for p in problems_of(source))


def test_a_loop_through_another_step_is_still_refused():
    source = flow("""
    class F(FlowSpec):
        @step
        def start(self):
            self.next(self.a)
        @step
        def a(self):
            self.x = 1
            self.next({1: self.b, 2: self.end}, condition='x')
        @step
        def b(self):
            self.next(self.a)
        @step
        def end(self):
            pass
    """)
    assert any("closes a loop (a -> b -> a)" in p for p in problems_of(source))


def test_branches_of_a_split_meeting_without_inputs_still_need_a_join():
    source = flow("""
    class F(FlowSpec):
        @step
        def start(self):
            self.x = 1
            self.next({1: self.p, 2: self.end}, condition='x')
        @step
        def p(self):
            self.next(self.q, self.r)
        @step
        def q(self):
            self.next(self.end)
        @step
        def r(self):
            self.next(self.end)
        @step
        def end(self):
            pass
    """)
    assert any("step 'p': this split never joins" in p for p in problems_of(source))


def test_a_switch_straight_into_a_join_is_refused():
    source = flow("""
    class F(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)
        @step
        def a(self):
            self.x = 1
            self.next({1: self.j, 2: self.c}, condition='x')
        @step
        def c(self):
            self.next(self.j)
        @step
        def b(self):
            self.next(self.j)
        @step
        def j(self, inputs):
            self.next(self.end)
        @step
        def end(self):
            pass
    """)
    assert any("switch a leads straight to this join" in p for p in problems_of(source))
