"""@exit_hook: the decorator at import, the static graph, the compiled hook paths, and calling the hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from flowdrop import FlowSpec, exit_hook
from flowdrop.compiler import BackendSettings, CompileOptions, compile_flow
from flowdrop.datastore import FlowDatastore, open_storage
from flowdrop.errors import DecoratorError, FlowError
from flowdrop.graph import parse_flow, parse_flow_file
from flowdrop.model.exit_hooks import hook_names
from flowdrop.runtime.exit_hooks import run_exit_hooks
from tests.helpers.runtime import TEST_FLOWS

FLOW = TEST_FLOWS / "exit_hook_flow.py"
WORKER = CompileOptions("ExitHookFlow", backend=BackendSettings(kind="worker", worker_queue_url="http://queue"))


def _hook():
    pass


# -- import time ------------------------------------------------------------------------------------


def test_a_function_and_a_name_are_recorded_by_name():
    @exit_hook(on_success=[_hook, "notify"], on_error=[_hook])
    class F(FlowSpec):
        pass

    (deco,) = F._flowdrop_flow_decorators
    assert deco.attributes == {"on_success": ["_hook", "notify"], "on_error": ["_hook"]}


@pytest.mark.parametrize(("make", "message"), [
    (lambda: exit_hook(on_success=[42]), "@exit_hook(on_success=[...]): item 1 is 42 (int), not a function"),
    (lambda: exit_hook(on_error=_hook), "@exit_hook(on_error=<function"),
    (lambda: exit_hook(), "@exit_hook: give at least one of on_success=[...] or on_error=[...]"),
    (lambda: exit_hook(on_success=[_hook], options=3), "@exit_hook(options=3): options must be a dict"),
])
def test_a_bad_hook_fails_at_import_naming_file_and_line(make, message):
    with pytest.raises(DecoratorError) as info:
        make()
    where, _, what = str(info.value).partition(": ")
    assert where.startswith(__file__ + ":")
    assert what.startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_a_flow_file_with_a_bad_hook_prints_one_line_and_exits_2(tmp_path):
    flow = tmp_path / "bad_hook_flow.py"
    flow.write_text(textwrap.dedent('''
        from flowdrop import FlowSpec, exit_hook, step

        @exit_hook(on_error=[None])
        class BadHookFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            BadHookFlow()
    '''))
    done = subprocess.run([sys.executable, str(flow), "show"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"{flow}:4: @exit_hook(on_error=[...]): item 1 is None (NoneType), not a "
                                   "function; give the function itself, or its name")


# -- the static graph ----------------------------------------------------------------------------------

SOURCE = '''
from flowdrop import FlowSpec, exit_hook, step
import helpers
from alerting import alert

def notify(run):
    pass

by_name = notify

@exit_hook(on_success=[notify, "by_name", helpers.page])
@exit_hook(on_error=[alert])
class HookedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_the_graph_reads_hooks_by_name_and_several_decorators_add_up():
    graph = parse_flow(SOURCE, "hooked.py")
    assert hook_names(graph, True) == ("notify", "by_name", "helpers.page")
    assert hook_names(graph, False) == ("alert",)


def test_the_graph_refuses_what_is_not_a_function_naming_the_line():
    source = SOURCE.replace('@exit_hook(on_error=[alert])', '@exit_hook(on_error=[alert(), 3], options={})')
    with pytest.raises(FlowError) as info:
        parse_flow(source, "hooked.py")
    assert list(info.value.problems) == [
        "hooked.py:12: flow 'HookedFlow': @exit_hook(on_error=[...]): item 1 `alert()` is not a function; name a "
        "function defined or imported in the flow file (or write 'module.function').",
        "hooked.py:12: flow 'HookedFlow': @exit_hook(on_error=[...]): item 2 `3` is not a function; name a "
        "function defined or imported in the flow file (or write 'module.function').",
    ]


def test_a_hook_name_the_file_never_binds_is_refused_before_any_run():
    source = SOURCE.replace("from alerting import alert\n", "")
    with pytest.raises(FlowError) as info:
        parse_flow(source, "hooked.py")
    assert list(info.value.problems) == [
        "hooked.py:11: flow 'HookedFlow': @exit_hook(on_error=[...]): no function 'alert' in this file; define or "
        "import it here, or name it as 'module.function'."]
    assert hook_names(parse_flow(source.replace("import helpers", "from helpers import *"), "hooked.py"), False) == (
        "alert",)  # a star import may bring it


# -- the compiled machine -----------------------------------------------------------------------------


def test_both_paths_end_in_a_hook_task_and_the_failure_path_still_fails():
    states = compile_flow(parse_flow_file(FLOW), WORKER)["States"]
    assert states["end"]["Next"] == "exit-hook-success" and "End" not in states["end"]
    for name in ("start", "end"):
        assert states[name]["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure",
                                             "Next": "exit-hook-error"}
    success, error = states["exit-hook-success"], states["exit-hook-error"]
    assert success["Parameters"]["MessageBody"]["payload"]["mode"] == "exit_hook_success"
    assert success["End"] is True and success["Catch"][0]["Next"] == "run-succeeded"
    assert success["TimeoutSeconds"] == error["TimeoutSeconds"] == 3600 and "HeartbeatSeconds" in success
    assert error["Parameters"]["MessageBody"]["payload"]["mode"] == "exit_hook_error"
    assert error["Parameters"]["MessageBody"]["payload"]["step"] == "_exit_hook"
    assert error["Next"] == error["Catch"][0]["Next"] == "run-failed-check"
    assert states["run-failed"] == {"Type": "Fail", "Error": "flowdrop.RunFailed",
                                    "CausePath": "States.Format('{}: {}', $.failure.Error, $.failure.Cause)"}
    assert states["run-failed-without-cause"] == {"Type": "Fail", "Error": "flowdrop.RunFailed",
                                                  "CausePath": "States.Format('{}', $.failure.Error)"}
    # The hook task keeps the caught error where the Fail state reads it.
    assert "$.failure" not in (success.get("ResultPath"), error.get("ResultPath"))


def test_catch_comes_first_and_nested_states_get_no_hook_catch():
    source = SOURCE.replace('''    @step
    def start(self):
        self.next(self.end)''', '''    @catch(var="oops")
    @step
    def start(self):
        self.next(self.fan)

    @step
    def fan(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)''')
    states = compile_flow(parse_flow(source, "hooked.py"), WORKER)["States"]
    assert [c["Next"] for c in states["start"]["Catch"]] == ["start-catch", "exit-hook-error"]
    assert states["start-catch"]["Catch"][-1]["Next"] == "exit-hook-error"
    assert states["fan-map"]["Catch"][-1]["Next"] == "exit-hook-error"
    body = states["fan-map"]["ItemProcessor"]["States"]
    assert "Catch" not in body["each"]


def test_only_the_paths_the_flow_has_hooks_for_are_added():
    only_success = parse_flow(SOURCE.replace("@exit_hook(on_error=[alert])\n", ""), "hooked.py")
    states = compile_flow(only_success, WORKER)["States"]
    assert "exit-hook-error" not in states and "Catch" not in states["start"]
    assert states["end"]["Next"] == "exit-hook-success"
    plain = parse_flow(SOURCE.replace("@exit_hook(on_error=[alert])\n", "").replace(
        '@exit_hook(on_success=[notify, "by_name", helpers.page])\n', ""), "hooked.py")
    assert "exit-hook-success" not in compile_flow(plain, WORKER)["States"]


@pytest.mark.parametrize("kind", ["batch", "lambda"])
def test_the_hook_task_runs_on_the_deployments_backend(kind):
    options = CompileOptions("ExitHookFlow", backend=BackendSettings(kind=kind))
    hook = compile_flow(parse_flow_file(FLOW), options)["States"]["exit-hook-error"]
    text = json.dumps(hook)
    assert ("submitJob" if kind == "batch" else "lambda:invoke") in hook["Resource"]
    assert "exit_hook_error" in text and "_exit_hook" in text


# -- calling the hooks ---------------------------------------------------------------------------------


def test_hooks_get_the_run_a_raising_hook_is_reported_and_none_runs_twice(tmp_path, capsys):
    graph = parse_flow(SOURCE, "hooked.py")
    ds = FlowDatastore(open_storage(str(tmp_path)), "HookedFlow")
    ds.write_run("r1", {"flow_name": "HookedFlow", "run_id": "r1"})
    calls = []

    def notify(run):
        calls.append(run.pathspec)
        print("notify saw", run.pathspec)

    def by_name(**kwargs):
        calls.append(sorted(kwargs))
        raise KeyError("boom")

    namespace = {"notify": notify, "by_name": by_name}
    results = run_exit_hooks(graph, ds, "r1", True, namespace)
    assert [(r["name"], r["ok"]) for r in results] == [("notify", True), ("by_name", False), ("helpers.page", False)]
    assert calls == ["HookedFlow/r1", ["run"]]
    assert results[0]["output"] == "notify saw HookedFlow/r1\n"
    assert results[1]["error"] == "KeyError: 'boom'" and "raise KeyError" in results[1]["output"]
    assert "no function 'helpers.page'" in results[2]["error"]
    printed = capsys.readouterr().out
    assert "[exit_hook] Hook 'by_name' failed with error: KeyError: 'boom'" in printed
    assert ds.read_exit_hooks("r1")["successful"] is True
    assert run_exit_hooks(graph, ds, "r1", True, namespace) == results and len(calls) == 2
    assert ds.list_steps("r1") == []  # the record is no step


def test_the_step_whose_failure_the_hook_path_caught_reads_as_failed():
    from flowdrop.model.exit_hooks import counts_with_exit_hook_failures, with_exit_hook_failures

    events = [
        {"id": 1, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "start"}},
        {"id": 2, "previousEventId": 1, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "start"}},
        {"id": 3, "previousEventId": 2, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "end"}},
        {"id": 4, "previousEventId": 3, "type": "TaskFailed", "taskFailedEventDetails": {"error": "States.TaskFailed"}},
        {"id": 5, "previousEventId": 4, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "end"}},
        {"id": 6, "previousEventId": 5, "type": "TaskStateEntered",
         "stateEnteredEventDetails": {"name": "exit-hook-error"}},
    ]
    states = {"start": "SUCCEEDED", "end": "SUCCEEDED"}
    assert with_exit_hook_failures(events, states) == {"start": "SUCCEEDED", "end": "FAILED"}
    assert with_exit_hook_failures(events[:5], states) == states  # no hook path: nothing changes
    counts = {"start": {"succeeded": 1, "failed": 0}, "end": {"succeeded": 1, "failed": 0}}
    assert counts_with_exit_hook_failures(events, counts) == {"start": {"succeeded": 1, "failed": 0},
                                                              "end": {"succeeded": 0, "failed": 1}}
