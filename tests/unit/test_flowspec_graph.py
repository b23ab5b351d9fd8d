"""`flow._graph`: Metaflow's private graph of a flow instance, which Metaflow's own checks read
(`flow._graph[step].type`, `.in_funcs`, `.out_funcs`, `.parallel_step`), on a flow made with use_cli=False."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

FLOW = textwrap.dedent('''
    from flowdrop import FlowSpec, step


    class BaseFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.next(self.join)


    class ShapeFlow(BaseFlow):
        @step
        def join(self, inputs):
            self.next(self.fork)

        @step
        def fork(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.meet)

        @step
        def b(self):
            self.next(self.meet)

        @step
        def meet(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
''')


@pytest.fixture
def module(tmp_path: Path):
    """The flow file, imported as a module (as Metaflow's checker imports test_flow)."""
    name = "shape_flow_graph"
    path = tmp_path / f"{name}.py"
    path.write_text(FLOW, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    yield loaded
    sys.modules.pop(name, None)


def test_graph_of_a_flow_instance_has_metaflow_node_types_and_edges(module):
    flow = module.ShapeFlow(use_cli=False)
    graph = flow._graph
    assert {node.name: node.type for node in graph} == {
        "start": "foreach", "each": "linear", "join": "join", "fork": "split", "a": "linear", "b": "linear", "meet": "join",
        "end": "end"}
    assert graph["fork"].out_funcs == ("a", "b")
    assert sorted(graph["meet"].in_funcs) == ["a", "b"]
    assert graph["each"].parallel_step is False
    assert flow._graph is graph  # read once per class
    # every step the flow iterates has a node (Metaflow's checks do `flow._graph[step.name]`)
    assert [graph[step.name].name for step in flow] == [step.name for step in flow]
