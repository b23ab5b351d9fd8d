"""Tests for flowdrop.graph: flow source -> validated Graph, and `show` text.

The invalid corpus lives in tests/flows/invalid/: one small flow per rule,
each starting with `# expect: <substring of one problem message>`; the
deployer reuses it as bad packages.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowdrop.errors import FlowError
from flowdrop.graph import find_flow_class_names, parse_flow, parse_flow_file, render_graph
from flowdrop.model.decorators import Decorator
from flowdrop.model.graph import Graph
from flowdrop.model.parameters import ParameterSpec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
INVALID = sorted((ROOT / "tests" / "flows" / "invalid").glob("*.py"))


def example(name: str) -> Graph:
    return parse_flow_file(ROOT / "examples" / name)


def shape(graph: Graph) -> dict[str, tuple]:
    """Each step's structure, in graph order, as one comparable value."""
    return {
        n.name: (n.type, n.in_funcs, n.out_funcs, n.split_parents, n.matching_join, n.foreach_depth)
        for n in graph.nodes
    }


def flow(body: str, minimal_steps: bool = False) -> str:
    """A flow module: the usual import, `body` (dedented), and optionally a start and an end step."""
    source = "from flowdrop import FlowSpec, Parameter, step\n\n\n" + textwrap.dedent(body)
    return source + textwrap.indent(MINIMAL, "    ") if minimal_steps else source


def problems_of(source: str, filename: str = "flow.py") -> tuple[str, ...]:
    with pytest.raises(FlowError) as info:
        parse_flow(source, filename)
    return info.value.problems


MINIMAL = """\
@step
def start(self):
    self.next(self.end)

@step
def end(self):
    pass
"""


# --- the examples --------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_parses(path: Path):
    graph = parse_flow_file(path)
    assert [graph.flow_name] == find_flow_class_names(path.read_text())
    assert graph.file == str(path)
    assert graph.nodes[0].name == "start" and graph.nodes[-1].name == "end"
    assert Graph.from_dict(graph.to_dict()) == graph


def test_nested_foreach_shape():
    graph = example("nested_foreach_flow.py")
    assert shape(graph) == {
        "start": ("foreach", (), ("row",), (), "join_rows", 0),
        "row": ("foreach", ("start",), ("cell",), ("start",), "join_cols", 1),
        "cell": ("linear", ("row",), ("join_cols",), ("start", "row"), None, 2),
        "join_cols": ("join", ("cell",), ("join_rows",), ("start",), None, 1),
        "join_rows": ("join", ("join_cols",), ("end",), (), None, 0),
        "end": ("end", ("join_rows",), (), (), None, 0),
    }
    assert graph["start"].foreach_param == "rows"
    assert graph["row"].foreach_param == "cols"
    assert graph["join_cols"].is_join and not graph["cell"].is_join


def test_branch_shape():
    graph = example("branch_flow.py")
    branch = ("linear", ("start",), ("join",), ("start",), None, 0)
    assert shape(graph) == {
        "start": ("split", (), ("fetch_a", "fetch_b", "fetch_c"), (), "join", 0),
        "fetch_a": branch,
        "fetch_b": branch,
        "fetch_c": branch,
        "join": ("join", ("fetch_a", "fetch_b", "fetch_c"), ("end",), (), None, 0),
        "end": ("end", ("join",), (), (), None, 0),
    }
    assert graph["start"].foreach_param is None
    assert graph["join"].lineno == 31
    assert graph["start"].is_split and not graph["join"].is_split


def test_foreach_and_linear_shapes():
    foreach = example("foreach_flow.py")
    assert [n.type for n in foreach] == ["foreach", "linear", "join", "end"]
    assert foreach["square"].foreach_depth == 1 and foreach["join"].foreach_depth == 0
    linear = example("linear_flow.py")
    assert [(n.name, n.type) for n in linear] == [
        ("start", "start"), ("double", "linear"), ("increment", "linear"), ("end", "end")]
    assert linear.lineno == 5 and linear.flow_name == "LinearFlow"


def test_parameters_of_parameter_flow():
    graph = example("parameter_flow.py")
    assert graph.parameters == (
        ParameterSpec(name="alpha", attribute="alpha", type="float", default=0.01, has_default=True,
                      deploy_time=False, required=False, help="Learning rate", lineno=5),
    )


def test_deploy_time_parameter():
    (param,) = example("deployment_info_flow.py").parameters
    assert param == ParameterSpec(name="deployment_info", attribute="info", type="json", default=None,
                                  has_default=True, deploy_time=True, lineno=13)


def test_flow_decorators():
    assert example("hourly_flow.py").flow_decorators == (Decorator("schedule", {"hourly": True}, 6),)
    cron = example("cron_flow.py")
    assert cron.flow_decorator("schedule") == Decorator("schedule", {"cron": "0 10 * * ? *"}, 5)


def test_step_decorators():
    graph = example("decorated_flow.py")
    assert graph["start"].decorators == (Decorator("resources", {"cpu": 2, "memory": 4096}, 7),)
    assert graph["flaky"].decorators == (Decorator("retry", {"times": 3, "minutes_between_retries": 0}, 12),)
    assert [d.name for d in graph["risky"].decorators] == ["catch", "timeout"]
    assert graph["risky"].decorator("catch").attributes == {"var": "risky_failure"}
    assert graph["risky"].decorator("timeout").attributes == {"minutes": 5}
    assert graph["end"].decorators == ()
    assert graph["flaky"].lineno == 14  # the `def` line, not the decorator's


# --- the invalid corpus --------------------------------------------------


def expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message substring>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_flow_is_rejected_naming_file_line_and_step(path: Path):
    expected = expectation(path)
    # Every expectation names the file and a line; a step or flow when the problem has one.
    assert expected.startswith(f"{path.name}:")
    line = int(expected.split(":")[1])
    assert 1 <= line <= len(path.read_text().splitlines())
    with pytest.raises(FlowError) as info:
        parse_flow_file(path)
    matching = [p for p in info.value.problems if expected in p]
    assert matching, f"no problem contains {expected!r}; got {info.value.problems}"
    assert all(p.startswith(str(path) + ":") for p in info.value.problems)


def test_invalid_corpus_covers_each_rule():
    names = {p.name for p in INVALID}
    assert {"no_start.py", "no_end.py", "unknown_next.py", "missing_next.py", "cycle.py", "join_without_inputs.py",
            "split_never_joins.py", "unreachable.py", "foreach_not_literal.py", "end_with_next.py",
            "syntax_error.py", "non_literal_decorator_arg.py"} <= names


def test_every_problem_is_reported_not_just_the_first():
    source = flow("""\
        class TwoProblemsFlow(FlowSpec):

            @step
            def start(self):
                self.next(self.trian)

            @retry(times=count())
            @step
            def train(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)
    problems = problems_of(source, "two.py")
    assert len(problems) == 2
    assert problems[0].startswith("two.py:8: step 'start': self.next() names an unknown step 'trian'")
    assert problems[1].startswith("two.py:10: step 'train': @retry(times=count()) is not a literal")


def test_problems_in_different_rules_are_all_listed_in_line_order():
    source = flow("""\
        class ManyFlow(FlowSpec):
            x = Parameter('x', type=dict)

            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.join)

            @step
            def b(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                if inputs:
                    self.next(self.end)

            @step
            def end(self):
                pass
        """)
    problems = problems_of(source)
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == [5, 22]
    assert any(":5: flow 'ManyFlow': parameter `x`: type=dict" in p for p in problems)
    assert any(":22: step 'join': self.next() must be the last statement" in p for p in problems)


def test_syntax_error_names_file_and_line():
    assert problems_of("class A(FlowSpec:\n    pass\n", "bad.py")[0].startswith("bad.py:1: syntax error:")


def test_join_needs_two_inputs_message():
    source = flow("""\
        class EtlFlow(FlowSpec):

            @step
            def start(self):
                self.next(self.load)

            @step
            def load(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)
    assert problems_of(source, "etl_flow.py") == (
        "etl_flow.py:11: step 'load': a join needs 2 or more inputs; it has 1. No split or foreach is open "
        "before it, so remove `inputs` from its signature.",
    )


# --- parsing details -----------------------------------------------------


def test_find_flow_class_names():
    source = textwrap.dedent("""\
        import metaflow
        from flowdrop import FlowSpec

        class Helper:
            pass

        class A(FlowSpec):
            pass

        class B(metaflow.FlowSpec):
            pass
        """)
    assert find_flow_class_names(source) == ["A", "B"]
    assert find_flow_class_names("class (") == []


def test_two_flows_need_a_class_name():
    source = "from flowdrop import FlowSpec, step\n\n" + "".join(
        f"class {name}(FlowSpec):\n{textwrap.indent(MINIMAL, '    ')}\n\n" for name in ("AFlow", "BFlow"))
    (problem,) = problems_of(source)
    assert "AFlow, BFlow" in problem
    assert parse_flow(source, "f.py", class_name="BFlow").flow_name == "BFlow"
    with pytest.raises(FlowError, match="no FlowSpec subclass named 'CFlow'"):
        parse_flow(source, "f.py", class_name="CFlow")


def test_parameter_types_defaults_and_metadata():
    source = flow('''\
        import metaflow

        def today(context):
            return 'x'

        class ParamsFlow(FlowSpec):
            """Docs of the flow."""
            flag = Parameter('flag', default=True)
            count = Parameter('count', default=3)
            rate = Parameter(name='rate', default=0.5)
            label = Parameter('label', default='a', help='A label', required=True)
            plain = metaflow.Parameter('plain')
            when = Parameter('when', default=today)
            lam = Parameter('lam', type=int, default=lambda ctx: 1)
            neg = Parameter('neg', type=float, default=-1)
            config = Parameter('config', type=metaflow.JSONType, default='{"a": 1}')
            computed = Parameter('computed', default=str(1))
        ''', minimal_steps=True)
    graph = parse_flow(source, "p.py")
    params = {p.name: p for p in graph.parameters}
    assert [p.attribute for p in graph.parameters] == [
        "flag", "count", "rate", "label", "plain", "when", "lam", "neg", "config", "computed"]
    assert {name: p.type for name, p in params.items()} == {
        "flag": "bool", "count": "int", "rate": "float", "label": "str", "plain": "str", "when": "str",
        "lam": "int", "neg": "float", "config": "json", "computed": "str"}
    assert params["label"].required and params["label"].help == "A label"
    assert not params["plain"].has_default and params["plain"].default is None
    assert params["neg"].default == -1 and not params["neg"].deploy_time
    assert params["config"].default == '{"a": 1}'
    for name in ("when", "lam", "computed"):
        assert (params[name].deploy_time, params[name].has_default, params[name].default) == (True, True, None)
    assert params["flag"].lineno == 11
    assert graph.doc == "Docs of the flow."


def test_parameter_name_clashes():
    source = flow("""\
        class ClashFlow(FlowSpec):
            a = Parameter('alpha')
            b = Parameter('alpha')
            end_value = Parameter('end')
        """, minimal_steps=True)
    problems = problems_of(source, "c.py")
    assert problems[0].startswith("c.py:6: flow 'ClashFlow': parameter 'alpha' is declared twice")
    assert problems[1].startswith("c.py:7: flow 'ClashFlow': parameter `end_value` clashes with step 'end'")


def test_decorator_names_and_attributes():
    source = flow("""\
        import metaflow

        @metaflow.project(name='demo')
        @my_company_tag
        class DecoFlow(FlowSpec):

            @retry
            @metaflow.batch(cpu=1, queue='q', image=None)
            @environment(vars={'A': '1'})
            @metaflow.step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)
    graph = parse_flow(source, "d.py")
    assert graph.flow_decorators == (Decorator("project", {"name": "demo"}, 6), Decorator("my_company_tag", {}, 7))
    assert graph["start"].decorators == (
        Decorator("retry", {}, 10),
        Decorator("batch", {"cpu": 1, "queue": "q", "image": None}, 11),
        Decorator("environment", {"vars": {"A": "1"}}, 12),
    )


def test_decorator_positional_and_splat_arguments_are_problems():
    source = flow("""\
        class PosFlow(FlowSpec):

            @retry(2)
            @step
            def start(self):
                self.next(self.end)

            @resources(**SIZES)
            @step
            def end(self):
                pass
        """)
    problems = problems_of(source, "p.py")
    assert problems[0].startswith("p.py:6: step 'start': @retry takes keyword arguments only")
    assert problems[1].startswith("p.py:11: step 'end': @resources(**SIZES) cannot be read")


def test_start_that_splits_is_a_split_and_order_follows_the_source():
    source = flow("""\
        class OrderFlow(FlowSpec):

            @step
            def end(self):
                pass

            @step
            def join(self, inputs):
                \"\"\"Meet here.\"\"\"
                self.next(self.end)

            @step
            def b(self):
                self.next(self.join)

            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.join)
        """)
    graph = parse_flow(source, "o.py")
    assert [n.name for n in graph] == ["start", "b", "a", "join", "end"]
    assert graph["start"].type == "split" and graph["start"].matching_join == "join"
    assert graph["join"].in_funcs == ("b", "a")  # source order of the parents
    assert graph["join"].doc == "Meet here."


def test_branch_inside_foreach_and_uneven_branches():
    source = flow("""\
        class MixFlow(FlowSpec):

            @step
            def start(self):
                self.next(self.each, foreach='items')

            @step
            def each(self):
                self.next(self.left, self.right)

            @step
            def left(self):
                self.next(self.left2)

            @step
            def left2(self):
                self.next(self.meet)

            @step
            def right(self):
                self.next(self.meet)

            @step
            def meet(self, inputs):
                self.next(self.gather)

            @step
            def gather(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)
    graph = parse_flow(source, "m.py")
    assert shape(graph) == {
        "start": ("foreach", (), ("each",), (), "gather", 0),
        "each": ("split", ("start",), ("left", "right"), ("start",), "meet", 1),
        "left": ("linear", ("each",), ("left2",), ("start", "each"), None, 1),
        "right": ("linear", ("each",), ("meet",), ("start", "each"), None, 1),
        "left2": ("linear", ("left",), ("meet",), ("start", "each"), None, 1),
        "meet": ("join", ("left2", "right"), ("gather",), ("start",), None, 1),
        "gather": ("join", ("meet",), ("end",), (), None, 0),
        "end": ("end", ("gather",), (), (), None, 0),
    }


def test_a_thousand_steps_in_a_row():
    names = ["start"] + [f"s{i}" for i in range(1000)] + ["end"]
    body = "".join(
        f"    @step\n    def {a}(self):\n        self.next(self.{b})\n\n" for a, b in zip(names, names[1:]))
    source = f"class LongFlow(FlowSpec):\n{body}    @step\n    def end(self):\n        pass\n"
    graph = parse_flow(source, "long.py")
    assert [n.name for n in graph] == names


def test_user_code_is_never_run():
    source = flow("""\
        import module_that_does_not_exist
        raise SystemExit('ran user code')

        class SafeFlow(FlowSpec):
            p = Parameter('p', default=__import__('os').system('false'))
        """, minimal_steps=True)
    graph = parse_flow(source, "safe.py")
    assert graph.parameter("p").deploy_time


# --- show ----------------------------------------------------------------


def test_render_graph_lists_steps_in_order_with_transitions():
    text = render_graph(example("nested_foreach_flow.py"))
    assert text.startswith("NestedForeachFlow\n")
    steps = [line for line in text.splitlines() if line.startswith("Step ")]
    assert steps == ["Step start", "Step row", "Step cell", "Step join_cols (join)", "Step join_rows (join)",
                     "Step end"]
    assert "    => row (foreach over 'rows')" in text
    assert "    => cell (foreach over 'cols')" in text
    assert "    => join_rows\n" in text


def test_render_graph_shows_docs_decorators_and_parameters():
    decorated = render_graph(example("decorated_flow.py"))
    assert "Step flaky\n    ?\n    @retry(times=3, minutes_between_retries=0)\n    => risky\n" in decorated
    assert render_graph(example("hourly_flow.py")).startswith("HourlyFlow\n@schedule(hourly=True)\n")
    params = render_graph(example("foreach_flow.py"))
    assert "Parameters\n    width (int, default 5): How many items to fan out to\n" in params
    source = flow('''\
        class DocFlow(FlowSpec):
            """The flow's story.

            In two paragraphs.
            """

            @step
            def start(self):
                """Begin here."""
                self.next(self.end)

            @step
            def end(self):
                pass
        ''')
    text = render_graph(parse_flow(source, "doc.py"))
    assert "DocFlow\n\n    The flow's story.\n\n    In two paragraphs.\n" in text
    assert "Step start\n    Begin here.\n    => end\n" in text


# --- reserved parameter names, decorator arguments, pathological sources -------------


def one_parameter_flow(declaration: str) -> str:
    return flow(f"""\
        class ParamFlow(FlowSpec):
            {declaration}
        """, minimal_steps=True)


@pytest.mark.parametrize("name", ["tag", "max-workers", "max_workers", "Max-Workers", "run-id-file", "with",
                                  "params", "datastore", "namespace", "origin-run-id", "help", "user-namespace"])
def test_parameter_names_of_the_command_line_are_reserved(name):
    problems = problems_of(one_parameter_flow(f"p = Parameter({name!r}, default=1)"), "r.py")
    assert len(problems) == 1
    assert problems[0].startswith(f"r.py:5: flow 'ParamFlow': parameter name '{name}' is reserved"), problems


@pytest.mark.parametrize("attribute", ["name", "input", "index", "foreach_stack", "next", "merge_artifacts",
                                       "script_name"])
def test_parameter_attributes_that_are_flowspec_attributes_are_reserved(attribute):
    problems = problems_of(one_parameter_flow(f"{attribute} = Parameter('alpha', default=1)"), "r.py")
    assert problems == (f"r.py:5: flow 'ParamFlow': parameter `{attribute}`: `{attribute}` is an attribute of "
                        f"FlowSpec itself (self.{attribute}), which the parameter would hide; rename the class "
                        "attribute.",)


def test_parameter_attribute_named_like_a_run_option_is_reserved():
    problems = problems_of(one_parameter_flow("max_workers = Parameter('workers', default=1)"), "r.py")
    assert problems == ("r.py:5: flow 'ParamFlow': parameter `max_workers`: the class attribute `max_workers` "
                        "collides with the command line's own `max_workers`; rename the class attribute.",)


@pytest.mark.parametrize("declaration", ["tagline = Parameter('tagline')", "workers = Parameter('workers')",
                                         "names = Parameter('names')", "p = Parameter('with_retries')"])
def test_names_near_reserved_ones_are_fine(declaration):
    assert len(parse_flow(one_parameter_flow(declaration), "ok.py").parameters) == 1


def decorated_flow(decorator: str) -> str:
    return flow(f"""\
        class DecoFlow(FlowSpec):

            {decorator}
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)


@pytest.mark.parametrize(("decorator", "message"), [
    ("@timeout(seconds='abc')", "@timeout(seconds='abc'): seconds must be a whole number of seconds >= 0"),
    ("@timeout(minutes=-5)", "@timeout(minutes=-5): minutes must be a whole number of minutes >= 0"),
    ("@timeout", "@timeout: the total is 0 seconds; give a positive seconds=, minutes= or hours="),
    ("@timeout(hours=30000)", "@timeout(hours=30000): the total is more than Step Functions' limit of 99999999 seconds"),
    ("@retry(times=11)", "@retry(times=11): times must be a whole number from 0 to 10"),
    ("@retry(times='3')", "@retry(times='3'): times must be a whole number from 0 to 10"),
    ("@retry(times=-1)", "@retry(times=-1): times must be a whole number from 0 to 10"),
    ("@retry(minutes_between_retries=-1)", "@retry(minutes_between_retries=-1): minutes_between_retries must be"),
    ("@retry(tries=2)", "@retry(tries=...): unknown argument 'tries'; @retry takes times, minutes_between_retries"),
    ("@resources(cpu=0)", "@resources(cpu=0): cpu must be a number of vCPUs > 0"),
    ("@resources(memory='16GB')", "@resources(memory='16GB'): memory must be a whole number of megabytes > 0"),
    ("@batch(gpu=-1)", "@batch(gpu=-1): gpu must be a whole number of GPUs >= 0"),
    ("@catch(var='not an identifier')", "@catch(var='not an identifier'): var must be an artifact name"),
    ("@environment(vars={'A': 1})", "@environment(vars={'A': 1}): vars must be a dict of environment variable names"),
])
def test_decorator_arguments_are_checked_statically(decorator, message):
    problems = problems_of(decorated_flow(decorator), "d.py")
    assert len(problems) == 1 and problems[0].startswith(f"d.py:6: step 'start': {message}"), problems


def test_good_and_unknown_decorators_are_accepted():
    # Metaflow flows may carry decorators flowdrop ignores (@conda, @kubernetes): they are not errors.
    for decorator in ("@retry(times=0, minutes_between_retries=0.5)", "@timeout(hours=1, minutes=30)",
                      "@resources(cpu=0.25, gpu=1, memory=512)", "@catch(var='failure', print_exception=False)",
                      "@environment(vars={'MODE': 'fast'})", "@kubernetes(cpu='lots')", "@conda(libraries={})"):
        assert parse_flow(decorated_flow(decorator), "ok.py")["start"].decorators


def test_catch_on_a_foreach_body_is_fine():
    graph = example("decorated_flow.py")
    assert graph["risky"].decorator("catch") is not None
    source = flow("""\
        class CatchBodyFlow(FlowSpec):

            @step
            def start(self):
                self.items = [1, 2]
                self.next(self.body, foreach='items')

            @catch(var='failure')
            @step
            def body(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """)
    assert parse_flow(source, "c.py")["body"].decorator("catch").attributes == {"var": "failure"}


@pytest.mark.parametrize("expression", ["a" + ".b" * 100_000, "-" * 100_000 + "1", "1" + " + 1" * 100_000])
def test_a_source_too_deep_for_the_parser_is_a_flow_error(expression):
    source = flow("x = " + expression + "\n", minimal_steps=False) + "\n\nclass F(FlowSpec):\n    pass\n"
    problems = problems_of(source, "deep.py")
    assert len(problems) == 1
    assert problems[0].startswith("deep.py:4: Python cannot parse this file: an expression is nested too deeply")
    assert f"line 4 is the longest ({len(expression) + 4} characters)" in problems[0]
    assert find_flow_class_names(source) == []


def test_a_decorator_argument_too_deep_to_show_is_not_a_literal():
    problems = problems_of(decorated_flow("@retry(times=" + "a" + ".b" * 600 + ")"), "d.py")
    assert problems == ("d.py:6: step 'start': @retry(times=<attribute nested too deeply to show>) is not a literal; "
                        "decorator arguments are read without running the flow, so write the value itself (a number, "
                        "string, or a list or dict of them).",)


INHERITED = '''
from flowdrop import FlowSpec, Parameter, project, step


@project(name="base")
class BaseFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(BaseFlow):
    alpha = Parameter("alpha", default=2)
    beta = Parameter("beta", default="b")

    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)
'''


def test_a_flow_inherits_steps_parameters_and_decorators_from_a_base_flow_in_its_file():
    assert find_flow_class_names(INHERITED) == ["ChildFlow"]  # the base is no flow of its own
    graph = parse_flow(INHERITED, "child.py")
    assert graph.flow_name == "ChildFlow"
    assert sorted(n.name for n in graph.nodes) == ["end", "middle", "start"]  # start overridden to go to middle
    assert [(p.name, p.default) for p in graph.parameters] == [("alpha", 2), ("beta", "b")]
    assert graph.flow_decorator("project") is not None
    # Named, the base parses as its own flow too (running `python base.py` runs BaseFlow).
    assert sorted(n.name for n in parse_flow(INHERITED, "child.py", "BaseFlow").nodes) == ["end", "start"]
