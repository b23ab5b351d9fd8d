"""Metaflow's core test suite, run against flowdrop: cases from graphs x tests, each a real run, then checked.

Owns: loading the vendored suite (graphs/*.json, tests/*.py; see NOTICE)
with the module name changed from `metaflow` to `flowdrop` and nothing else,
turning a (graph, test) pair into a flow file and a check file the way
Metaflow's runner does (a graph step takes the body of the test's
best-priority step whose qualifiers match it), running the flow with the
command line of Metaflow's `python3-all-local` context, resuming it when
the case asks, and running both checkers (command line and client API).
Also the list of cases that do not apply to flowdrop, with why.

`python tests/metaflow_core/harness.py [--jobs N] [TEST ...]` runs every
applicable case (or those of the named tests) and prints the pass count.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUPPORT = HERE / "support"
_MODULE_NAME = re.compile(r"\bmetaflow(?=[.\s])")  # metaflow.x and `from metaflow import`, not metaflow_test

# Metaflow's `python3-all-local` context, as flowdrop spells its environment.
TOP_OPTIONS = ["--metadata=local", "--datastore=local", "--environment=local",
               "--event-logger=nullSidecarLogger", "--no-pylint", "--quiet"]
RUN_OPTIONS = ["--max-workers=50", "--max-num-splits=10000", "--tag=\u523a\u8eab means sashimi",
               "--tag=multiple tags should be ok"]
CONTEXT_ENV = {"METAFLOW_USER": "tester", "METAFLOW_RUN_BOOL_PARAM": "False",
               "METAFLOW_RUN_NO_DEFAULT_PARAM": "test_str"}
CHECKERS = ("CliCheck", "MetadataCheck")
# Tests Metaflow's own local context leaves out.
CONTEXT_DISABLED = {"LargeArtifactTest", "S3FailureTest", "CardComponentRefreshTest", "CardWithRefreshTest"}
# The names Metaflow's generated flows import from the package.
FLOW_IMPORTS = ("Config", "config_expr", "FlowSpec", "step", "Parameter", "project", "IncludeFile", "JSONType",
                "current", "parallel", "FlowMutator", "StepMutator", "UserStepDecorator", "user_step_decorator")

# Test files (tests/<name>.py) that do not apply to flowdrop, and why (reported, never run).
_UBF = "unbounded foreach is Metaflow's hook for @parallel-style executor plugins, not part of flowdrop"
NOT_APPLICABLE = {
    "basic_unbounded_foreach": _UBF, "nested_unbounded_foreach": _UBF, "resume_ubf_basic_foreach": _UBF,
    "resume_ubf_foreach_join": _UBF,
    "basic_parallel": "@parallel (multi-node gang steps) is not part of flowdrop",
    "extensions": "metaflow_extensions (Metaflow's plugin packaging) is not part of flowdrop",
    "flow_options": "flow options from metaflow_extensions plugins are not part of flowdrop",
    "secrets_decorator": "@secrets (a secrets-manager plugin) is not part of flowdrop",
    "custom_decorators": "user step decorators and mutators (UserStepDecorator, FlowMutator) are not in flowdrop",
    "large_artifact": "disabled in Metaflow's own local context too",
    "s3_failure": "disabled in Metaflow's own local context too (needs an S3 fault injector)",
}
# Graphs that do not apply, and why.
NOT_APPLICABLE_GRAPHS = {"small-parallel": "@parallel (multi-node gang steps) is not part of flowdrop"}
CARDS = "cards (@card, metaflow.cards) are not part of flowdrop"


@dataclass
class Case:
    """One (graph, test) pair, as files ready to run."""

    test: str
    graph: str
    file: str
    flow_name: str
    flow_code: str
    check_code: str
    required_files: list[str]
    should_fail: bool
    should_resume: bool
    resume_step: str | None

    @property
    def id(self) -> str:
        return f"{self.test}[{self.graph}]"


@dataclass
class Outcome:
    """How one case went: passed, and if not, which stage failed and its output."""

    case: Case
    passed: bool
    stage: str = ""
    output: str = ""
    seconds: float = 0.0


def _renamed(source: str) -> str:
    return _MODULE_NAME.sub("flowdrop", source)


def load_tests(cache: Path) -> list[Any]:
    """An instance of every MetaflowTest subclass in tests/*.py, loaded from a renamed copy in `cache`."""
    if str(SUPPORT) not in sys.path:
        sys.path.insert(0, str(SUPPORT))
    from metaflow_test import MetaflowTest

    cache.mkdir(parents=True, exist_ok=True)
    found = []
    for path in sorted((HERE / "tests").glob("*.py")):
        copy = cache / path.name
        copy.write_text(_renamed(path.read_text(encoding="utf-8")), encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"metaflow_core_case_{path.stem}", copy)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, obj in sorted(vars(module).items()):
            if isinstance(obj, type) and issubclass(obj, MetaflowTest) and obj is not MetaflowTest \
                    and obj.__module__ == module.__name__:
                found.append(obj())
    return found


def load_graphs() -> list[dict[str, Any]]:
    """Every graph of graphs/*.json."""
    return [json.loads(p.read_text()) for p in sorted((HERE / "graphs").glob("*.json"))]


def _body(func: Any) -> list[str]:
    """The lines of a test step's body, dedented (what follows its `def` line)."""
    lines, _ = inspect.getsourcelines(func)
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("def ")) + 1
    while not lines[start - 1].rstrip().endswith(":"):  # a def spanning lines
        start += 1
    return textwrap.dedent("".join(lines[start:])).rstrip().splitlines()


def _test_steps(test: Any) -> list[Any]:
    funcs = [getattr(test, attr) for attr in dir(test)]
    return sorted((f for f in funcs if hasattr(f, "is_step")), key=lambda f: f.prio)


def _qualifiers(name: str, node: dict[str, Any]) -> set[str]:
    quals = {"all", *node.get("quals", [])}
    if name in ("start", "end"):
        quals.add(name)
    for key, qual in (("join", "join"), ("parallel_step", "parallel-step"), ("linear", "linear"),
                      ("switch", "switch-step")):
        if key in node:
            quals.add(qual)
    return quals


def _transition(node: dict[str, Any]) -> str | None:
    if "linear" in node:
        return f"self.next(self.{node['linear']})"
    if "branch" in node:
        return "self.next(" + ", ".join(f"self.{b}" for b in node["branch"]) + ")"
    if "switch" in node:
        cases = ", ".join(f'"{key}": self.{target}' for key, target in node["switch"].items())
        return f"self.next({{{cases}}}, condition='{node['condition']}')"
    if "foreach" in node:
        return f'self.next(self.{node["foreach"]}, foreach="{node["foreach_var"]}")'
    if "num_parallel" in node:
        return f"self.next(self.{node['parallel']}, num_parallel={node['num_parallel']})"
    return None


def make_case(graph: dict[str, Any], test: Any) -> Case | None:
    """The case for `test` on `graph`, or None when the test does not fit the graph (as Metaflow decides)."""
    name = graph["name"]
    if name in getattr(test, "SKIP_GRAPHS", []):
        return None
    only = getattr(test, "ONLY_GRAPHS", [])
    if only and name not in only:
        return None
    candidates = _test_steps(test)
    test_name = type(test).__name__
    flow_name = f"{test_name}Flow"
    used: set[Any] = set()
    body: list[tuple[int, str]] = []
    for var, value in test.CLASS_VARS.items():
        body.append((1, f"{var} = {value}"))
    for kind, declared in (("Parameter", test.PARAMETERS), ("IncludeFile", test.INCLUDE_FILES),
                           ("Config", test.CONFIGS)):
        for var, kwargs in declared.items():
            body.append((1, f'{var} = {kind}("{var}", {",".join(f"{k}={v}" for k, v in kwargs.items())})'))
    for step_name, node in graph["graph"].items():
        quals = _qualifiers(step_name, node)
        chosen = next((f for f in candidates if f.quals & quals), None)
        if chosen is None:
            return None  # Metaflow raises here: the test has no body for this step
        used.add(chosen)
        body += [(1, f"@{spec}") for spec in chosen.tags]
        if "parallel_step" in node:
            body.append((1, "@parallel"))
        body.append((1, "@step"))
        body.append((1, f"def {step_name}(self, inputs):" if "join" in node else f"def {step_name}(self):"))
        if "foreach" in node:
            body.append((2, f"self.{node['foreach_var']} = {node['foreach_var_default']}"))
        body += [(2, line) for line in _body(chosen)]
        if (transition := _transition(node)) is not None:
            body.append((2, transition))
    if any(f.required and f not in used for f in candidates):
        return None
    import flowdrop

    names = [n for n in FLOW_IMPORTS if hasattr(flowdrop, n)]
    decorators = sorted({spec.split("(")[0] for f in candidates for spec in f.tags})
    head = ["# -*- coding: utf-8 -*-", f"from flowdrop import {', '.join(names)}",
            "from metaflow_test import assert_equals, assert_equals_metadata, assert_exception, ExpectationFailed, "
            "is_resumed, ResumeFromHere, TestRetry, try_to_get_card"]
    if decorators:
        head.append(f"from flowdrop import {', '.join(decorators)}")
    head += [test.HEADER, f"class {flow_name}(FlowSpec):"]
    tail = ["if __name__ == '__main__':", f"    {flow_name}()"]
    flow_code = "\n".join(head + ["    " * depth + line for depth, line in body] + tail) + "\n"
    check = ["# -*- coding: utf-8 -*-", "import sys",
             "from metaflow_test import assert_equals, assert_equals_metadata, assert_exception, new_checker",
             "def check_results(flow, checker):", *("    " + line for line in _body(test.check_results)),
             "if __name__ == '__main__':", f"    from test_flow import {flow_name}",
             f"    flow = {flow_name}(use_cli=False)", "    check = new_checker(flow)",
             "    check_results(flow, check)"]
    file = type(test).__module__.removeprefix("metaflow_core_case_")
    return Case(test_name, name, file, flow_name, flow_code, "\n".join(check) + "\n", list(getattr(test, "REQUIRED_FILES", [])),
                bool(getattr(test, "SHOULD_FAIL", False)), bool(getattr(test, "RESUME", False)),
                getattr(test, "RESUME_STEP", None))


def all_cases(cache: Path) -> Iterator[Case]:
    """Every valid (graph, test) case, tests in Metaflow's priority order."""
    graphs = load_graphs()
    for test in sorted(load_tests(cache), key=lambda t: t.PRIORITY):
        for graph in graphs:
            case = make_case(graph, test)
            if case is not None:
                yield case


def not_applicable(case: Case) -> str | None:
    """Why a case does not apply to flowdrop, or None when it does."""
    if case.file.startswith("card_"):
        return CARDS
    if case.graph in NOT_APPLICABLE_GRAPHS:
        return NOT_APPLICABLE_GRAPHS[case.graph]
    return NOT_APPLICABLE.get(case.file)


def _environment(folder: Path) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(folder)),
           "USER": os.environ.get("USER", "tester"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "PYTHONIOENCODING": "utf_8", "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", ".")]),
           "FLOWDROP_CONFIG": str(folder / "no-config.json")}
    for key, value in CONTEXT_ENV.items():
        env[key] = value  # the checks read METAFLOW_USER themselves
        env["FLOWDROP_" + key.removeprefix("METAFLOW_")] = value
    return env


def run_case(case: Case, python: str = sys.executable, keep: bool = False, timeout: int = 300) -> Outcome:
    """Run one case in a fresh folder: the flow (then resume if asked), then every checker."""
    import time

    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix=f"mfcore-{case.test}-{case.graph}-"))
    log: list[str] = []
    try:
        (folder / "test_flow.py").write_text(case.flow_code, encoding="utf-8")
        (folder / "check_flow.py").write_text(case.check_code, encoding="utf-8")
        for name in case.required_files:
            shutil.copy2(HERE / "tests" / name, folder / name)
        env = _environment(folder)

        def call(args: list[str]) -> subprocess.CompletedProcess:
            done = subprocess.run([python, "-B", *args], cwd=folder, env=env, capture_output=True, timeout=timeout)
            log.append(f"$ {' '.join(args)}  (exit {done.returncode})\n{done.stdout.decode(errors='replace')}"
                       f"{done.stderr.decode(errors='replace')}")
            return done

        def outcome(passed: bool, stage: str = "") -> Outcome:
            return Outcome(case, passed, stage, "\n".join(log), time.monotonic() - started)

        def flow_command(mode: str, extra: list[str] = ()) -> list[str]:
            return ["test_flow.py", *TOP_OPTIONS, mode, *extra, "--run-id-file", "run-id", *RUN_OPTIONS]

        done = call(flow_command("run"))
        if done.returncode:
            if case.should_resume:
                done = call(flow_command("resume", [case.resume_step] if case.resume_step else []))
                if done.returncode:
                    return outcome(False, "resume")
            elif not case.should_fail:
                return outcome(False, "run")
        elif case.should_fail:
            return outcome(False, "run should have failed")
        if not (folder / "run-id").is_file():
            return outcome(False, "no run-id file")
        run_id = (folder / "run-id").read_text()
        for checker in CHECKERS:
            if call(["check_flow.py", checker, run_id, *TOP_OPTIONS]).returncode:
                return outcome(False, checker)
        return outcome(True)
    except subprocess.TimeoutExpired:
        return Outcome(case, False, f"timed out after {timeout} s", "\n".join(log), time.monotonic() - started)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    """Run every applicable case (or those of the tests named) and print the pass count."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="*", help="only these tests (class names)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="print the output of failing cases")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        cases = [c for c in all_cases(Path(cache)) if not args.tests or c.test in args.tests]
    skipped = [(c, why) for c in cases if (why := not_applicable(c))]
    runnable = [c for c in cases if not not_applicable(c)]
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(run_case, runnable))
    for result in outcomes:
        mark = "PASS" if result.passed else f"FAIL ({result.stage})"
        print(f"{mark:28} {result.case.id}  {result.seconds:.1f}s")
        if args.verbose and not result.passed:
            print(textwrap.indent(result.output[-4000:], "    "))
    for case, why in skipped:
        print(f"{'N/A':28} {case.id}: {why}")
    passed = sum(r.passed for r in outcomes)
    print(f"\nmetaflow test/core: {passed} of {len(runnable)} applicable cases pass "
          f"({len(cases)} cases in all, {len(skipped)} not applicable)")
    return 0 if passed == len(runnable) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
