"""compile_flow: golden definitions, each mapping rule, history budgets and limits.

That moto accepts every definition and evaluates its Parameters as expected: tests/functional/test_compiler_moto.py.

Goldens are regenerated only with FLOWDROP_UPDATE_GOLDEN=1; review the diff like code.
"""

from __future__ import annotations

import json
import textwrap
import os

import pytest

from flowdrop.compiler import (
    BackendSettings,
    check_limits,
    compile_flow,
    definition_json,
)
from flowdrop.compiler.history import HISTORY_BUDGET, HISTORY_EVENT_LIMIT  # noqa: E402
from flowdrop.compiler.limits import readable_json  # noqa: E402
from flowdrop.compiler.payload import payload_template  # noqa: E402
from flowdrop.compiler.shapes import Compilation  # noqa: E402
from flowdrop.errors import CompileError  # noqa: E402
from flowdrop.graph import parse_flow  # noqa: E402
from flowdrop.model.decorators import Decorator, parse_with_spec
from flowdrop.model.task import INLINE_FOREACH_LIMIT, TaskPayload  # noqa: E402
from flowdrop.testing import synthetic_graph
from tests.helpers.compiler import GOLDEN, GOLDEN_FLOWS, QUEUE_URL, all_states, example_graph, options

# --- goldens --------------------------------------------------------------------


@pytest.mark.parametrize("flow", GOLDEN_FLOWS)
def test_definition_matches_reviewed_golden(flow):
    graph = example_graph(flow)
    asl = compile_flow(graph, options(state_machine_name=graph.flow_name))
    text = json.dumps(asl, indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{flow}.json"
    if os.environ.get("FLOWDROP_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden for {flow}; run with FLOWDROP_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{path} differs; if intended, regenerate and review the diff"


@pytest.mark.parametrize("kind", ["batch", "lambda", "worker"])
def test_compiling_twice_gives_identical_bytes(kind):
    first = definition_json(compile_flow(example_graph("nested_foreach_flow"), options(kind)))
    second = definition_json(compile_flow(example_graph("nested_foreach_flow"), options(kind)))
    assert first.encode() == second.encode()
    assert first == json.dumps(json.loads(first), sort_keys=True, separators=(",", ":"))


# --- backends -------------------------------------------------------------------


def tasks(asl):
    return {name: state for name, state in all_states(asl).items() if state["Type"] == "Task"
            and not state["Resource"].startswith("arn:aws:states:::aws-sdk")}


def test_batch_tasks_submit_jobs_with_resources_and_the_payload_in_the_environment():
    asl = compile_flow(example_graph("decorated_flow"), options("batch"))
    found = tasks(asl)
    assert set(found) == {"start", "flaky", "risky", "risky-catch", "end"}
    for name, state in found.items():
        assert state["Resource"] == "arn:aws:states:::batch:submitJob.sync"
        params = state["Parameters"]
        assert params["JobQueue"] == "flowdrop-default" and params["JobDefinition"] == "flowdrop-task"
        env = {e["Name"]: e for e in params["ContainerOverrides"]["Environment"]}
        assert env["FLOWDROP_STEP"]["Value"] == name.removesuffix("-catch")
        assert env["FLOWDROP_MODE"]["Value"] == ("catch" if name.endswith("-catch") else "run")
        assert env["FLOWDROP_RUN"]["Value.$"] == "States.JsonToString($.run)"
    requirements = found["start"]["Parameters"]["ContainerOverrides"]["ResourceRequirements"]
    assert requirements == [{"Type": "VCPU", "Value": "2"}, {"Type": "MEMORY", "Value": "4096"}]
    assert "ResourceRequirements" not in found["end"]["Parameters"]["ContainerOverrides"]


def test_batch_decorator_adds_gpu_and_queue_and_wins_over_a_lambda_deployment():
    graph = synthetic_graph(3, step_decorators=(Decorator("batch", {"gpu": 1, "memory": 16384,
                                                                     "queue": "gpu-queue"}),))
    for kind in ("lambda", "worker"):
        start = compile_flow(graph, options(kind))["States"]["start"]
        assert start["Resource"] == "arn:aws:states:::batch:submitJob.sync"
        assert start["Parameters"]["JobQueue"] == "gpu-queue"
        assert start["Parameters"]["ContainerOverrides"]["ResourceRequirements"] == [
            {"Type": "VCPU", "Value": "1"}, {"Type": "MEMORY", "Value": "16384"}, {"Type": "GPU", "Value": "1"}]


def test_lambda_refuses_a_gpu_or_more_memory_than_the_task_function_has_naming_the_step():
    graph = parse_flow(textwrap.dedent('''
        from flowdrop import FlowSpec, resources, step

        class HungryFlow(FlowSpec):
            @resources(memory=16384)
            @step
            def start(self):
                self.next(self.train)

            @resources(gpu=1, memory=1024)
            @step
            def train(self):
                self.next(self.end)

            @resources(memory=2048)
            @step
            def end(self):
                pass
    '''), "hungry_flow.py")
    backend = BackendSettings(kind="lambda", task_function_memory=4096)
    with pytest.raises(CompileError) as err:
        compile_flow(graph, options("lambda", backend=backend))
    text = str(err.value)
    assert "step 'start': @resources(memory=16384) is more than the task function's 4096 MB" in text
    assert "step 'train': @resources(gpu=1) cannot run on the lambda backend" in text
    assert "'end'" not in text
    # The same flow on Batch gets what it asks for.
    states = all_states(compile_flow(graph, options("batch")))
    assert {"Type": "GPU", "Value": "1"} in states["train"]["Parameters"]["ContainerOverrides"]["ResourceRequirements"]


def test_lambda_tasks_invoke_the_runner_with_the_payload():
    asl = compile_flow(example_graph("foreach_flow"), options("lambda", backend=BackendSettings(
        kind="lambda", task_function="arn:aws:lambda:us-east-1:123456789012:function:runner")))
    for name, state in tasks(asl).items():
        assert state["Resource"] == "arn:aws:states:::lambda:invoke"
        assert state["Parameters"]["FunctionName"] == "arn:aws:lambda:us-east-1:123456789012:function:runner"
        assert state["Parameters"]["Payload"] == payload_template(name.split("@")[0], "run")
        assert state["ResultSelector"] == {"output.$": "$.Payload"} and state["ResultPath"] == "$.task"
        assert "ResourceRequirements" not in json.dumps(state)


def test_worker_tasks_send_the_token_and_payload_with_a_heartbeat():
    asl = compile_flow(example_graph("decorated_flow"), options("worker"))
    found = tasks(asl)
    for name, state in found.items():
        assert state["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
        body = state["Parameters"]["MessageBody"]
        assert state["Parameters"]["QueueUrl"] == QUEUE_URL
        assert body["task_token.$"] == "$$.Task.Token"
        assert body["payload"] == payload_template(name.split("@")[0].removesuffix("-catch"),
                                                   "catch" if name.endswith("-catch") else "run")
        assert state["HeartbeatSeconds"] == 60
    short = synthetic_graph(3, step_decorators=(Decorator("timeout", {"seconds": 30}),))
    start = compile_flow(short, options("worker"))["States"]["start"]
    assert start["TimeoutSeconds"] == 30 and "HeartbeatSeconds" not in start  # must be below the timeout


def test_payload_template_is_the_task_payload_json_form():
    assert set(payload_template("s", "run")) == {
        k if k in ("step", "mode") else k + ".$" for k in TaskPayload("f", "s", "r").to_dict()}


# --- decorators -----------------------------------------------------------------


def test_retry_maps_times_and_minutes():
    asl = compile_flow(example_graph("decorated_flow"), options())
    assert asl["States"]["flaky"]["Retry"] == [
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "IntervalSeconds": 1, "BackoffRate": 1.0}]
    assert "Retry" not in asl["States"]["start"]
    slow = synthetic_graph(3, step_decorators=(Decorator("retry", {"times": 2, "minutes_between_retries": 2}),))
    assert compile_flow(slow, options())["States"]["start"]["Retry"][0]["IntervalSeconds"] == 120


def test_with_retry_adds_retry_where_missing_and_times_zero_means_none():
    graph = example_graph("decorated_flow")
    no_retry = graph.nodes[0].__class__(**{**graph["end"].__dict__,
                                           "decorators": (Decorator("retry", {"times": 0}),)})
    graph = graph.__class__(**{**graph.__dict__, "nodes": tuple(no_retry if n.name == "end" else n
                                                               for n in graph.nodes)})
    states = compile_flow(graph, options(with_decorators=(parse_with_spec("retry"),)))["States"]
    assert states["start"]["Retry"][0]["MaxAttempts"] == 3  # Metaflow's default times
    assert states["start"]["Retry"][0]["IntervalSeconds"] == 120  # and 2 minutes
    assert states["flaky"]["Retry"][0]["IntervalSeconds"] == 1  # the step's own @retry wins
    assert "Retry" not in states["end"]
    assert states["risky-catch"]["Retry"] == CATCH_RETRY  # its own, not the step's


CATCH_RETRY = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 5, "BackoffRate": 2.0}]


@pytest.mark.parametrize("kind", ["batch", "lambda", "worker"])
def test_catch_goes_to_a_catch_task_that_continues_the_flow_and_retries_a_little(kind):
    states = compile_flow(example_graph("decorated_flow"), options(kind))["States"]
    assert states["risky"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.task",
                                         "Next": "risky-catch"}]
    catch = states["risky-catch"]
    assert json.dumps(catch).count('"catch"') == 1  # the mode, whatever the transport
    assert catch["Next"] == states["risky"]["Next"] == "end"
    assert catch["Retry"] == CATCH_RETRY
    assert "Catch" not in catch and "TimeoutSeconds" not in catch


def test_timeouts_on_the_task_and_the_workflow():
    asl = compile_flow(example_graph("decorated_flow"), options(workflow_timeout=7200))
    assert asl["States"]["risky"]["TimeoutSeconds"] == 300
    assert "TimeoutSeconds" not in asl["States"]["flaky"]
    assert asl["TimeoutSeconds"] == 7200
    assert "TimeoutSeconds" not in compile_flow(example_graph("decorated_flow"), options())


# --- shapes ---------------------------------------------------------------------


def test_branch_is_a_parallel_of_branches_ending_before_the_join():
    states = compile_flow(example_graph("branch_flow"), options())["States"]
    parallel = states["start-branches"]
    assert states["start"]["Next"] == "start-branches" and parallel["Next"] == "join"
    assert [b["StartAt"] for b in parallel["Branches"]] == ["fetch_a", "fetch_b", "fetch_c"]
    for branch in parallel["Branches"]:
        (only,) = branch["States"].values()
        assert only["End"] is True and only["OutputPath"] == "$.indices"
    assert parallel["ResultPath"] is None
    assert states["join"]["Next"] == "end" and states["end"]["End"] is True


def test_foreach_chooses_inline_or_distributed_map_on_the_count():
    states = compile_flow(example_graph("nested_foreach_flow"), options("worker", max_workers=7))["States"]
    choice = states["start-foreach"]
    assert choice["Choices"][0]["NumericGreaterThan"] == 2  # history.py: 4 rows x 1,000 cells would not fit
    assert choice["Choices"][0]["Next"] == "start-map-wide" and choice["Default"] == "start-map"
    inline, wide = states["start-map"], states["start-map-wide"]
    assert inline["ItemsPath"] == "$.task.output.foreach_indices"
    assert inline["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert wide["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert wide["ItemReader"]["Parameters"] == {"Bucket.$": "$.task.output.foreach_items.Bucket",
                                                "Key.$": "$.task.output.foreach_items.Key"}
    assert inline["MaxConcurrency"] == wide["MaxConcurrency"] == 7
    assert inline["ItemSelector"]["indices.$"] == "States.Array($$.Map.Item.Index)"
    inner = inline["ItemProcessor"]["States"]["row-map"]
    assert inner["ItemSelector"]["indices.$"] == "States.Array($.indices[0], $$.Map.Item.Index)"
    for body in (inline, wide):  # the same threshold in both copies of the body
        (row_choice,) = [s for n, s in body["ItemProcessor"]["States"].items() if n.startswith("row-foreach")]
        assert row_choice["Choices"][0]["NumericGreaterThan"] == INLINE_FOREACH_LIMIT
    assert set(wide["ItemProcessor"]["States"]) == {"row@start", "row-foreach@start", "row-map@start",
                                                    "row-map-wide@start", "join_cols@start"}
    assert states["join_rows"]["Next"] == "end"


def test_batch_foreach_reads_the_fan_out_from_the_datastore():
    states = compile_flow(example_graph("nested_foreach_flow"), options("batch"))["States"]
    assert states["start"]["Next"] == "start-output"
    fetch = all_states({"States": states})["row-output"]
    assert fetch["Parameters"] == {
        "Bucket": "flowdrop-data",
        "Key.$": "States.Format('data/NestedForeachFlow/runs/{}/row/row-{}/done.json', $.run.run_id, $.indices[0])"}
    with pytest.raises(CompileError, match="step 'start'.*s3://"):
        compile_flow(example_graph("foreach_flow"), options("batch", datastore_root=None))


def test_max_workers_must_be_positive():
    with pytest.raises(CompileError, match="--max-workers must be 1 or more, got 0"):
        compile_flow(example_graph("foreach_flow"), options(max_workers=0))


# --- history --------------------------------------------------------------------


def worst_events(machine: dict) -> int:
    """The most history events the states of one execution write, read from the ASL alone.

    An independent check of history.py: Tasks pay every attempt (and their
    Catch path), Choices take their costliest branch, an inline Map runs as
    many items as the `-foreach` Choice before it lets through. A
    Distributed Map's items run in child executions: see executions().
    """
    states = machine["States"]
    memo: dict[tuple[str, int | None], int] = {}

    def from_state(name: str | None, items: int | None) -> int:  # from `name` to the end
        if name is None:
            return 0
        if (name, items) not in memo:
            memo[name, items] = cost(name, items)
        return memo[name, items]

    def cost(name: str, items: int | None) -> int:
        state = states[name]
        after = None if state.get("End") else state.get("Next")
        match state["Type"]:
            case "Task":
                attempts = 1 + sum(r["MaxAttempts"] for r in state.get("Retry", ()))
                rest = from_state(after, items)
                if state.get("Catch"):  # both paths rejoin: take the costlier one
                    rest = max(rest, from_state(state["Catch"][0]["Next"], items))
                return 2 + 4 * attempts + rest
            case "Choice":
                rules = state["Choices"]
                if rules[0].get("Variable") == "$.task.output.foreach_count":
                    limit = rules[0]["NumericGreaterThan"]
                    return 2 + max(from_state(rules[0]["Next"], None), from_state(state["Default"], limit))
                return 2 + max(from_state(t, items) for t in [r["Next"] for r in rules] + [state["Default"]])
            case "Parallel":
                return 4 + sum(worst_events(branch) for branch in state["Branches"]) + from_state(after, items)
            case "Map":
                processor = state["ItemProcessor"]
                if processor["ProcessorConfig"]["Mode"] == "DISTRIBUTED":
                    return 6 + from_state(after, None)
                assert items is not None, f"inline Map {name} not behind a -foreach Choice"
                return 4 + items * (2 + worst_events(processor)) + from_state(after, None)
            case _:
                return 2 + from_state(after, items)

    for name in reversed(states):  # roughly last step first: keeps the recursion shallow
        if states[name]["Type"] != "Map" and not name.split("@")[0].endswith("-indices"):  # need the Choice's items
            from_state(name, None)
    return from_state(machine["StartAt"], None)


def executions(machine: dict, top: bool = True):
    """(name, worst-case events) of the top-level execution and of every Distributed Map's child."""
    yield ("top" if top else machine["StartAt"]), 2 + worst_events(machine)
    for state in all_states(machine).values():
        if state["Type"] == "Map" and state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED":
            child = state["ItemProcessor"]
            yield child["StartAt"], 2 + worst_events(child)


def flow_source(name: str, body: str) -> str:
    return f"from flowdrop import FlowSpec, step, retry, catch\n\nclass {name}(FlowSpec):\n{body}"


def foreach_body_flow(body_steps: int, decorators: str = "") -> str:
    """start fans out over `items` to a chain of `body_steps` steps, then join and end."""
    chain = [f"s{i}" for i in range(body_steps)] + ["join"]
    steps = ["    @step\n    def start(self):\n        self.items = [1]\n        self.next(self.s0, foreach='items')\n"]
    for here, there in zip(chain, chain[1:]):
        steps.append(f"{decorators}    @step\n    def {here}(self):\n        self.next(self.{there})\n")
    steps.append("    @step\n    def join(self, inputs):\n        self.next(self.end)\n")
    steps.append("    @step\n    def end(self):\n        pass\n")
    return flow_source("BodyFlow", "\n".join(steps))


def nested_flow(depth: int) -> str:
    """`depth` foreach levels, each one step deep, closed by as many joins."""
    opens = [f"f{i}" for i in range(depth)] + ["leaf"]
    joins = [f"j{i}" for i in reversed(range(depth))] + ["end"]
    steps = ["    @step\n    def start(self):\n        self.next(self.f0)\n"]
    for here, there in zip(opens, opens[1:]):
        steps.append(f"    @step\n    def {here}(self):\n        self.items = [1]\n"
                     f"        self.next(self.{there}, foreach='items')\n")
    steps.append(f"    @step\n    def leaf(self):\n        self.next(self.{joins[0]})\n")
    for here, there in zip(joins, joins[1:]):
        steps.append(f"    @step\n    def {here}(self, inputs):\n        self.next(self.{there})\n")
    steps.append("    @step\n    def end(self):\n        pass\n")
    return flow_source("DeepFlow", "\n".join(steps))


MIXED_FLOW = flow_source("MixedFlow", """
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.items = [1]
        self.next(self.x, foreach='items')

    @retry(times=2)
    @step
    def x(self):
        self.next(self.p, self.q)

    @catch(var='failed')
    @step
    def p(self):
        self.next(self.pq)

    @step
    def q(self):
        self.next(self.pq)

    @step
    def pq(self, inputs):
        self.next(self.ax)

    @step
    def ax(self, inputs):
        self.next(self.join)

    @step
    def b(self):
        self.items = [1]
        self.next(self.y, foreach='items')

    @step
    def y(self):
        self.next(self.by)

    @step
    def by(self, inputs):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
""")


def thresholds(graph, **overrides) -> dict[str, int]:
    budgets = Compilation.of(graph, options("worker", **overrides)).foreach_budgets
    return {step: budget.threshold for step, budget in budgets.items()}


def test_reviewers_cases_no_longer_fit_inline():
    # Outside the Map: the execution (2), the parameter states (6), the start,
    # join and end Tasks (3 x 6), the -foreach Choice (2) and either Map (6).
    outside = 2 + 6 + 3 * 6 + 2 + 6
    # 1,000 items x a 4-step body was ~26k events in one history: now 767 inline at most.
    four = parse_flow(foreach_body_flow(4), "body.py")
    budget = Compilation.of(four, options("worker")).foreach_budgets["start"]
    assert budget.events_per_iteration == 2 + 4 * 6
    assert budget.threshold == (HISTORY_BUDGET - outside) // budget.events_per_iteration == 767
    # Every attempt counts: @retry(times=3) makes each task up to 4 attempts of 4 events.
    retried = parse_flow(foreach_body_flow(4, "    @retry(times=3)\n"), "body.py")
    assert thresholds(retried) == {"start": (HISTORY_BUDGET - outside - 12) // (2 + 4 * (2 + 4 * 4))}
    assert thresholds(retried)["start"] == 269
    # 100 x 100 nested inline was ~80k events: the outer level goes distributed past 2.
    assert thresholds(example_graph("nested_foreach_flow")) == {"start": 2, "row": INLINE_FOREACH_LIMIT}
    # The examples' own foreach stays inline: 5 items of 1,000.
    assert thresholds(example_graph("foreach_flow")) == {"start": INLINE_FOREACH_LIMIT}


def test_foreach_steps_in_parallel_branches_share_the_budget_and_branches_in_a_body_add_up():
    budgets = Compilation.of(parse_flow(MIXED_FLOW, "mixed.py"), options("worker")).foreach_budgets
    # x: 3 attempts (14), the Parallel (4), p with its -catch (6 + 14), q (6), pq (6); the iteration (2)
    assert budgets["a"].events_per_iteration == 2 + 14 + 4 + 20 + 6 + 6
    assert budgets["b"].events_per_iteration == 2 + 6
    assert budgets["b"].threshold == INLINE_FOREACH_LIMIT  # 8,000 events: the cheaper one is served first
    outside = 2 + 6 + 6 + 4 + 2 * (6 + 2 + 6 + 6) + 6 + 6  # start, Parallel, a/b with Choice, Map, joins
    assert budgets["a"].threshold == (HISTORY_BUDGET - outside - 8000) // budgets["a"].events_per_iteration


def test_foreach_steps_in_one_execution_share_its_budget():
    # 50 foreach blocks in a row: 1,000 items each would be 400,000 events in one history.
    shared = thresholds(synthetic_graph(200, foreach=50))
    assert len(shared) == 50 and max(shared.values()) - min(shared.values()) <= 1
    assert 40 < min(shared.values()) < INLINE_FOREACH_LIMIT
    # One cheap foreach leaves what it does not need to an expensive one.
    two = thresholds(synthetic_graph(20, foreach=2))
    assert two == {"fan0": INLINE_FOREACH_LIMIT, "fan1": INLINE_FOREACH_LIMIT}


def test_inline_foreach_limit_caps_every_threshold_and_is_validated():
    assert thresholds(example_graph("nested_foreach_flow"), inline_foreach_limit=1) == {"start": 1, "row": 1}
    states = compile_flow(example_graph("foreach_flow"), options(inline_foreach_limit=0))["States"]
    assert states["start-foreach"]["Choices"][0]["NumericGreaterThan"] == 0
    with pytest.raises(CompileError, match="inline_foreach_limit must be 0 to 1000, got 1001"):
        compile_flow(example_graph("foreach_flow"), options(inline_foreach_limit=INLINE_FOREACH_LIMIT + 1))


def history_cases():
    yield "examples", [example_graph(f) for f in GOLDEN_FLOWS]
    yield "bodies", [parse_flow(foreach_body_flow(n, deco), "body.py") for n in (1, 4, 40)
                     for deco in ("", "    @retry(times=4)\n    @catch(var='failed')\n")]
    yield "nesting", [parse_flow(nested_flow(depth), "deep.py") for depth in (1, 2, 3, 5)]
    yield "mixed", [parse_flow(MIXED_FLOW, "mixed.py")]
    yield "generated", [synthetic_graph(1000, foreach=50, branches=50), synthetic_graph(60, foreach=10),
                        synthetic_graph(30, foreach=3, step_decorators=(Decorator("retry", {"times": 3}),))]


@pytest.mark.parametrize("kind", ["batch", "lambda", "worker"])
@pytest.mark.parametrize("case, graphs", list(history_cases()), ids=[c for c, _ in history_cases()])
def test_no_execution_can_pass_the_history_limit(kind, case, graphs):
    """Read back from the ASL, each execution's worst case stays within budget at every threshold."""
    for graph in graphs:
        asl = compile_flow(graph, options(kind))
        budgets = Compilation.of(graph, options(kind)).foreach_budgets
        for where, events in executions(asl):
            assert events <= HISTORY_BUDGET < HISTORY_EVENT_LIMIT, (graph.flow_name, where, events)
        # Not vacuous: the top execution of a single foreach uses most of the budget or all 1,000 items.
        if len(budgets) == 1:
            (only,) = budgets.values()
            top = dict(executions(asl))["top"]
            # (history.py counts 2 more: either Map's events, as if the costlier Distributed Map's)
            assert only.threshold == INLINE_FOREACH_LIMIT or top > HISTORY_BUDGET - only.events_per_iteration - 2


# --- limits ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["batch", "lambda", "worker"])
def test_a_thousand_step_flow_fits_in_under_a_kilobyte_per_step(kind):
    graph = synthetic_graph(1000, foreach=50, branches=50)
    size = len(definition_json(compile_flow(graph, options(kind))).encode())
    assert size < 1000 * len(graph)


def test_an_oversize_definition_is_a_compile_error_naming_the_size():
    with pytest.raises(CompileError, match=r"the definition is [\d,]+ bytes; Step Functions accepts at most 1,048,576"):
        compile_flow(synthetic_graph(2500), options("worker"))


def test_a_too_long_or_badly_named_state_is_a_compile_error_naming_it():
    long_name = "a" * 81
    asl = compile_flow(synthetic_graph(3), options())
    asl["States"][long_name] = asl["States"].pop("step0")
    asl["States"]["bad name"] = {"Type": "Pass", "End": True}
    with pytest.raises(CompileError) as err:
        check_limits(asl)
    assert f"state '{long_name}' (step '{long_name}'): the name is 81 characters" in str(err.value)
    assert "state 'bad name'" in str(err.value) and "' '" in str(err.value)


def test_too_deep_nesting_is_a_compile_error():
    machine = {"StartAt": "s", "States": {"s": {"Type": "Pass", "End": True}}}
    for level in range(10):
        machine = {"StartAt": f"p{level}", "States": {f"p{level}": {"Type": "Parallel", "Branches": [machine],
                                                                     "End": True}}}
    with pytest.raises(CompileError, match="state 's' .*nested 10 Parallel/Map levels deep"):
        check_limits(machine)


@pytest.mark.parametrize("value", [
    {}, [], "é\n\"x", 3, 2.5, None, True,
    {"b": [1, 2.5, None, False, "ü"], "a": {}, "c": [], "d": {"z": {"y": [[], [{}], [[1]]]}}},
    [[1, [2]], {"k": [{"a": {}}]}, "s"],
])
def test_readable_json_is_json_dumps_indented_with_sorted_keys(value):
    assert readable_json(value) == json.dumps(value, indent=2, sort_keys=True)


def test_readable_json_of_a_compiled_foreach_flow_matches_json_dumps():
    asl = compile_flow(parse_flow(textwrap.dedent(FOREACH_FOR_JSON), "f.py"), options())
    assert readable_json(asl) == json.dumps(asl, indent=2, sort_keys=True)


FOREACH_FOR_JSON = """
from flowdrop import FlowSpec, Parameter, step


class F(FlowSpec):
    n = Parameter("n", default=3, help="width ü")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
