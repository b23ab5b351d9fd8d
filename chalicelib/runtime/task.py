"""The task runner: executes one task of one run, wherever it runs.

Owns: loading a task's inputs from the datastore, running the step with
`current` set, enforcing @timeout, persisting artifacts and the attempt's
metadata and logs (captured by streams.py), and answering with model.task_output.
@catch's recording of an exception lives in catching.py. Every task goes
through here: the local scheduler's subprocesses, the embedded stack's
workers, a Batch job or a task Lambda (`python flow.py step ...`).
In "catch" mode it runs after a step's final failure under @catch and
records that failure instead of running the step.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import signal
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from flowdrop.config import user_name
from flowdrop.current import current
from flowdrop.datastore import FlowDatastore
from flowdrop.errors import TaskError
from flowdrop.exception import dotted_type
from flowdrop.flowspec import ArtifactView, FlowSpec, ForeachFrame, Inputs, _constants
from flowdrop.model.backends import task_backend
from flowdrop.model.decorators import Decorator, effective_decorators, timeout_seconds
from flowdrop.model.exit_hooks import MODES as EXIT_HOOK_MODES
from flowdrop.model.graph import Graph
from flowdrop.model.parameters import parse_parameters_input, resolve_parameters
from flowdrop.model.runs import is_production_run, run_record
from flowdrop.model.task import TaskPayload, input_task, task_output
from flowdrop.parameters import evaluate_deploy_time_parameters
from flowdrop.plugins.timeout_decorator import TimeoutException
from flowdrop.runtime.inputs import foreach_step_closed_by, has_switch, input_tasks, join_inputs_ran, with_iteration
from flowdrop.runtime.resume import ProductionResume, clone_task
from flowdrop.runtime.catching import catch_in_task, record_caught_failure, retry_times
from flowdrop.runtime.streams import captured_output, log_bytes


def now_iso() -> str:
    """The current UTC time as an ISO string (attempt and run metadata)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# Raised inside a step when its @timeout runs out (Metaflow's name and module).
StepTimeout = TimeoutException


@dataclass
class TaskSetup:
    """Everything a task needs besides its payload."""

    flow_cls: type[FlowSpec]
    graph: Graph
    datastore: FlowDatastore
    with_decorators: tuple[Decorator, ...] = ()
    tags: tuple[str, ...] = ()
    deploy_values: Mapping[str, Any] = field(default_factory=dict)
    origin_run_id: str | None = None
    deployment_name: str | None = None  # the state machine's name, for production runs
    max_log_size: int = 10 * 1024 * 1024  # bytes of stdout and of stderr kept (Metaflow's --max-log-size)
    configs: Mapping[str, Any] = field(default_factory=dict)  # the run's Config values by name (fixed at its start)


def run_system_tags(graph: Graph, run_id: str, created: str, deployment_name: str | None, user: str) -> list[str]:
    """The system tags Metaflow gives a run: runtime, Python version, date, and @project's name and branch."""
    from flowdrop.model.runs import is_production_run, scheduled_time
    from flowdrop.model.version import __version__

    project = _project_fields(graph, deployment_name, user)
    tags = [f"runtime:{'step-functions' if is_production_run(run_id) else 'dev'}",
            f"python_version:{platform.python_version()}", f"date:{created[:10]}", f"flowdrop_version:{__version__}"]
    if project.get("project_name"):
        tags += [f"project:{project['project_name']}", f"project_branch:{project['branch_name']}"]
    tick = scheduled_time(run_id)
    if tick is not None:
        tags.append("scheduled_time:" + tick.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return tags


def _trigger_meta(ds: FlowDatastore, graph: Graph, run_id: str) -> list[dict] | None:
    """The events that started a triggered production run (datastore trigger.json); None for any other run."""
    from flowdrop.model.runs import execution_name_of, is_production_run

    triggered = graph.flow_decorator("trigger") or graph.flow_decorator("trigger_on_finish")
    if triggered is None or not is_production_run(run_id) or not execution_name_of(run_id).startswith("evt-"):
        return None  # only runs the event handler started have one: no extra read for every other task
    return ds.read_trigger(run_id)


def _project_fields(graph: Graph, deployment_name: str | None, user: str) -> dict[str, Any]:
    """current's @project fields: the branch comes from the deployment's name (`<project>.<branch>.<Flow>`)."""
    project = graph.flow_decorator("project")
    if project is None:
        return {"project_name": None, "branch_name": None, "project_flow_name": None, "is_production": False}
    name = str(project.attributes.get("name"))
    prefix, suffix = f"{name}.", f".{graph.flow_name}"
    if deployment_name and deployment_name.startswith(prefix) and deployment_name.endswith(suffix):
        branch = deployment_name[len(prefix):-len(suffix)]
    else:
        branch = f"user.{user}"
    return {"project_name": name, "branch_name": branch, "project_flow_name": f"{name}.{branch}.{graph.flow_name}",
            "is_production": branch == "prod" or branch.startswith("prod.")}


@contextmanager
def _time_limit(seconds: int, step: str) -> Iterator[None]:
    if seconds <= 0 or not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise StepTimeout(f"step '{step}' timed out after {seconds} s (@timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _foreach_count(datastore: FlowDatastore, run_id: str):
    def count(step: str, task_id: str) -> int:
        done = datastore.read_done(run_id, step, task_id)
        if done is None or done.get("foreach_count") is None:
            raise TaskError(f"foreach task {step}/{task_id} of run {run_id} has not finished; its join cannot start")
        return int(done["foreach_count"])

    return count


def _input_metadata(setup: TaskSetup, payload: TaskPayload) -> list[tuple[str, str, dict[str, Any]]]:
    ds = setup.datastore
    out = []
    if payload.input_paths is not None:  # a flow with a switch: the scheduler (or the state data) says which ran
        given = [input_task(path) for path in payload.input_paths]
    elif setup.graph[payload.step].is_join and len(setup.graph[payload.step].in_funcs) > 1 and has_switch(setup.graph):
        # Its parents may be a switch's alternatives: each probe is one read, only for such joins.
        given = join_inputs_ran(setup.graph, payload.step, payload.indices, _foreach_count(ds, payload.run_id),
                                lambda step, task_id: ds.read_done(payload.run_id, step, task_id) is not None)
    else:
        given = input_tasks(setup.graph, payload.step, payload.indices, _foreach_count(ds, payload.run_id))
    for (step, task_id), done in zip(given, ds.read_done_many(payload.run_id, list(given))):
        if done is None:
            raise TaskError(
                f"step '{payload.step}' needs {step}/{task_id} of run {payload.run_id}, which has not succeeded"
            )
        out.append((step, task_id, done))
    return out


def _parameter_values(setup: TaskSetup, payload: TaskPayload, user: str) -> dict[str, Any]:
    """Parameter values by name as given (an IncludeFile's: its path or reference), for the start task."""
    given = parse_parameters_input(payload.parameters)
    defaults = dict(setup.deploy_values)
    defaults.update(evaluate_deploy_time_parameters(setup.flow_cls, setup.graph, user, skip={*given, *defaults},
                                                    configs=setup.configs))
    return resolve_parameters(setup.graph.parameters, given, defaults)


def _start_artifacts(setup: TaskSetup, by_name: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The start task's parameter, IncludeFile and Config artifacts, by attribute name."""
    from pathlib import Path

    from flowdrop.includefile import IncludeFile, load_included
    from flowdrop.user_configs import config_artifact, declared_attribute, declared_configs

    code_folder = Path(getattr(sys.modules.get(setup.flow_cls.__module__), "__file__", None) or ".").resolve().parent
    out: dict[str, Any] = {}
    for spec in setup.graph.parameters:
        value = by_name[spec.name]
        if spec.include:  # the content, through the IncludeFile's parser= (here, as Metaflow's load_parameter)
            content = load_included(spec, value, setup.datastore, code_folder, is_production_run(run_id))
            declared = declared_attribute(setup.flow_cls, spec.attribute, IncludeFile)
            value = declared.parse(content) if declared is not None else content
        out[spec.attribute] = value
    declared = declared_configs(setup.flow_cls, setup.graph)
    for config in setup.graph.configs:
        out[config.attribute] = config_artifact(declared.get(config.name), setup.configs.get(config.name))
    return out


def _run_attributes(graph: Graph, flow_cls: type) -> set[str]:
    """What a join takes from its first input rather than merging: parameters, configs and constants."""
    configs = {config.attribute for config in graph.configs}
    return {spec.attribute for spec in graph.parameters} | configs | set(_constants(flow_cls))


def _prepare_flow(setup: TaskSetup, payload: TaskPayload, user: str) -> tuple[FlowSpec, dict[str, Any]]:
    """A flow object with its inherited artifacts, foreach stack and (for joins) inputs."""
    ds, graph = setup.datastore, setup.graph
    node = graph[payload.step]
    flow = setup.flow_cls(use_cli=False)
    flow._datastore = ds
    flow._step_name = payload.step
    extra: dict[str, Any] = {}
    inputs = _input_metadata(setup, payload)
    extra["input_paths"] = [f"{payload.run_id}/{s}/{t}" for s, t, _ in inputs]
    if not inputs:
        by_name = _parameter_values(setup, payload, user)
        for attr, value in _start_artifacts(setup, by_name, payload.run_id).items():
            flow.__dict__[attr] = value
        for attr, value in _constants(type(flow)).items():
            if _picklable(value):  # as Metaflow: the flow's constants are artifacts of every task
                flow.__dict__[attr] = value
        created = now_iso()
        run_meta = run_record(graph.flow_name, payload.run_id, created=created, user=user, tags=setup.tags,
                              parameters=dict(by_name),
                              origin_run_id=setup.origin_run_id,
                              system_tags=run_system_tags(graph, payload.run_id, created, setup.deployment_name,
                                                          user), code_package=payload.code_package)
        ds.ensure_run(payload.run_id, _jsonable(run_meta))
        return flow, extra
    stacks = [[ForeachFrame(**f) for f in done.get("foreach_stack", [])] for _, _, done in inputs]
    if node.is_join:
        views = [ArtifactView(ds, s, t, done.get("artifacts", {})) for s, t, done in inputs]
        # A join reads an artifact from its inputs one after the other: let the datastore fetch ahead.
        names = sorted({name for _, _, done in inputs for name in done.get("artifacts") or {}})
        ds.read_together([[shas[n] for *_, done in inputs if n in (shas := done.get("artifacts") or {})]
                          for n in names])
        flow._inputs = Inputs(views)
        param_attrs = _run_attributes(graph, type(flow))
        first = inputs[0][2].get("artifacts", {})
        flow._inherited = {k: v for k, v in first.items() if k in param_attrs}
        closes_foreach = foreach_step_closed_by(graph, node.name) is not None
        flow._foreach_stack = stacks[0][:-1] if closes_foreach else stacks[0]
        return flow, extra
    (parent_step, parent_task, done) = inputs[0]
    flow._inherited = dict(done.get("artifacts", {}))
    stack = stacks[0]
    parent = graph[parent_step]
    if parent.foreach_param is not None:
        items = ds.load_artifact(done["artifacts"][parent.foreach_param])
        index = payload.indices[-1]
        items = list(items)
        if index >= len(items):
            raise TaskError(f"foreach index {index} is out of range: {parent_step} made {len(items)} items")
        value_sha = ds.save_artifacts({"_item": items[index]})["_item"]
        stack = [*stack, ForeachFrame(parent_step, index, len(items), value_sha, var=parent.foreach_param,
                                      value=_short_text(items[index]))]
    flow._foreach_stack = stack
    return flow, extra


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - whatever pickling raises, the value is not stored
        return False
    return True


def _short_text(value: Any, limit: int = 30) -> str:
    """A foreach item as Metaflow's frame shows it: its text, cut to `limit` characters."""
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a user object whose __str__ fails still gets a frame
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))


def run_task(setup: TaskSetup, payload: TaskPayload) -> dict[str, Any]:
    """Run one task (or record its failure, in catch mode) and return its task_output."""
    ds, graph = setup.datastore, setup.graph
    ds.cache_blobs()  # for this task's life: each blob fetched once, a join's inputs read ahead
    if payload.mode in EXIT_HOOK_MODES:  # the production run's final hook task, not a step
        from flowdrop.runtime.exit_hooks import run_exit_hook_task

        return run_exit_hook_task(graph, ds, setup.flow_cls, payload)
    if payload.step not in graph:
        raise TaskError(f"flow {graph.flow_name!r} has no step {payload.step!r}")
    node = graph[payload.step]
    payload = with_iteration(node, payload)
    run_id, step, task_id = payload.run_id, payload.step, payload.task_id
    if setup.origin_run_id is None and is_production_run(run_id):
        # A run the deployer resumed says so in its run.json (runtime/resume.py).
        resumed = ProductionResume.of_run(ds, run_id)
        if resumed is not None:
            setup = replace(setup, origin_run_id=resumed.origin_run_id)
            if payload.mode == "run" and resumed.clones(graph, step):
                copied = clone_task(ds, resumed.origin_run_id, ds, run_id, step, task_id)
                if copied is not None:
                    return _output(node, payload, copied[0], copied[1])
    user = user_name()
    decorators = effective_decorators(node, setup.with_decorators)
    meta: dict[str, Any] = {"status": "running", "started": now_iso(), "pid": os.getpid(),
                            "mode": payload.mode, "user": user, "origin_run_id": setup.origin_run_id,
                            "python_version": platform.python_version(), "platform": sys.platform,
                            "backend": task_backend(os.environ),
                            **({"code_package": payload.code_package} if payload.code_package else {})}
    # Step Functions' retry count says how many attempts of this state came
    # before; the catch fallback's own count says nothing about the step's.
    hint = payload.retry_count if payload.mode == "run" else 0
    attempt = ds.claim_attempt(run_id, step, task_id, meta, first=hint)
    meta["attempt"] = attempt
    namespace = next((t for t in setup.tags if t.startswith("production:")), f"user:{user}")
    current._set(flow_name=graph.flow_name, run_id=run_id, step_name=step, task_id=task_id,
                 retry_count=attempt, origin_run_id=setup.origin_run_id, username=user,
                 namespace=namespace, tags=[t for t in setup.tags if not t.startswith("production:")], parameter_names=[p.name for p in graph.parameters],
                 trigger=_trigger_meta(ds, graph, run_id), trigger_storage=ds.storage, **_project_fields(graph, setup.deployment_name, user))
    for key, value in (decorators.get("environment", {}).get("vars") or {}).items():
        os.environ[str(key)] = str(value)
    with captured_output() as (out, err):
        try:
            flow, extra = _prepare_flow(setup, payload, user)
            meta.update(extra)
            if payload.mode == "catch":
                limit = timeout_seconds(decorators["timeout"]) if "timeout" in decorators else None
                record_caught_failure(setup, payload, flow, decorators.get("catch", {}), attempt, limit)
            else:
                catch = decorators.get("catch")
                if (catch or {}).get("var"):
                    # As in Metaflow: the @catch artifact exists, None, when the step succeeds.
                    flow.__dict__[catch["var"]] = None
                try:
                    _run_step(flow, node, decorators)
                except Exception as exc:  # noqa: BLE001 - @catch takes whatever the step raised
                    if catch is None or attempt < retry_times(decorators):
                        raise
                    failure = catch_in_task(flow, step, catch, exc, attempt)
                    # Kept for a later fallback task (Step Functions' Catch); status "caught" tells the client
                    # the exception was handled, so Task.exception stays None as in Metaflow.
                    meta.update(caught=True, exception=failure.stacktrace, exception_type=type(exc).__name__,
                                exception_class=failure.type, exception_message=failure.exception)
            values, untouched = flow._artifact_state()
            artifacts = {**untouched, **ds.save_artifacts(values)}
            meta["foreach_stack"] = [f.to_dict() for f in flow._foreach_stack]
            foreach_count, location = None, None
            if node.foreach_param is not None:
                foreach_count = _count_items(flow, node.foreach_param, step, payload.mode)
                location = ds.write_foreach_items(run_id, step, task_id, foreach_count)
                meta["foreach_count"] = foreach_count
            if node.is_switch and payload.mode == "run" and flow._transition is not None:
                # Kept with the attempt: a production resume that reuses this task answers the same case.
                meta.update(switch_target=flow._transition[0][0], switch_value=flow._switch_value)
            meta.update(status="succeeded" if payload.mode == "run" and not meta.get("caught") else "caught",
                        finished=now_iso(),
                        artifacts=artifacts)
        except BaseException as exc:  # noqa: BLE001 - the user's step may raise anything; record it
            text = "".join(traceback.format_exception(exc))
            print(text, file=sys.stderr, end="")
            meta.update(status="failed", finished=now_iso(), exception=text,
                        exception_type=type(exc).__name__, exception_class=dotted_type(exc),
                        exception_message=str(exc))
            ds.write_attempt(run_id, step, task_id, attempt, _jsonable(meta))
            ds.save_logs(run_id, step, task_id, attempt, log_bytes(out.buffer_copy.getvalue(), setup.max_log_size),
                         log_bytes(err.buffer_copy.getvalue(), setup.max_log_size))
            current._clear()
            raise TaskError(f"step '{step}' (task {task_id}, attempt {attempt}) failed: "
                            f"{type(exc).__name__}: {exc}") from exc
    record = _jsonable(meta)
    ds.write_attempt(run_id, step, task_id, attempt, record)
    ds.save_logs(run_id, step, task_id, attempt, log_bytes(out.buffer_copy.getvalue(), setup.max_log_size),
                 log_bytes(err.buffer_copy.getvalue(), setup.max_log_size))
    # The status says "succeeded" or "caught": the run's status reader trusts the first over a stopped branch.
    ds.mark_done(run_id, step, task_id, attempt, {"foreach_count": meta.get("foreach_count"), "status": meta["status"],
                                                  **_switch_done(graph, node, payload, meta)}, record=record)
    current._clear()
    return _output(node, payload, meta, location)


def _switch_done(graph: Graph, node: Any, payload: TaskPayload, meta: Mapping[str, Any]) -> dict[str, Any]:
    """What a Batch job of a switch flow leaves in done.json for Step Functions to read (compiler/batch.py):
    its task id, a switch's case, and for a recursive switch its pass and the id its next pass would have."""
    if not has_switch(graph):
        return {}
    out = {"task_id": payload.task_id, **{k: meta[k] for k in ("switch_target", "switch_value") if k in meta}}
    if node.is_recursive:
        out.update(iteration=payload.iteration, next_task_id=replace(payload, iteration=payload.iteration + 1).task_id)
    return out


def _output(node: Any, payload: TaskPayload, meta: Mapping[str, Any], location: Any) -> dict[str, Any]:
    """The task's model.task_output from its recorded metadata (a reused task's too)."""
    return task_output(payload.task_id, meta.get("foreach_count"), location, switch_target=meta.get("switch_target"),
                       switch_value=meta.get("switch_value"),
                       iteration=payload.iteration if node.is_recursive else None)


def _run_step(flow: FlowSpec, node: Any, decorators: Mapping[str, Mapping[str, Any]]) -> None:
    method = getattr(flow, node.name)
    limit = timeout_seconds(decorators["timeout"]) if "timeout" in decorators else 0
    with _time_limit(limit, node.name):
        if node.is_join:
            method(flow._inputs)
        else:
            method()
    if node.name == "end":
        return
    if flow._transition is None:
        raise TaskError(f"step '{node.name}' finished without calling self.next(...)")
    targets, foreach = flow._transition
    if node.is_switch:
        _check_switch(flow, node)
        return
    if flow._switch_cases is not None:
        raise TaskError(f"step '{node.name}' called self.next with a switch, but its source has no switch; "
                        "transitions must not depend on data")
    if tuple(targets) != tuple(node.out_funcs) or foreach != node.foreach_param:
        raise TaskError(
            f"step '{node.name}' called self.next({', '.join(targets)}"
            f"{', foreach=' + repr(foreach) if foreach else ''}) but its source says "
            f"self.next({', '.join(node.out_funcs)}{', foreach=' + repr(node.foreach_param) if node.foreach_param else ''}); "
            "transitions must not depend on data"
        )


def _check_switch(flow: FlowSpec, node: Any) -> None:
    """The switch the step took must be the one its source declares (same cases, same condition)."""
    declared = {value: step for value, step in node.switch_cases}
    taken = dict(flow._switch_cases or ())
    if flow._switch_cases is None or taken != declared:
        raise TaskError(f"step '{node.name}' is a switch over {declared} (condition '{node.condition}') in its source, "
                        f"but ran self.next with {taken or 'no switch'}; transitions must not depend on data")


def _count_items(flow: FlowSpec, name: str, step: str, mode: str) -> int:
    try:
        items = getattr(flow, name)
    except AttributeError:
        if mode == "catch":
            return 0
        raise TaskError(f"step '{step}': foreach={name!r} but the step set no artifact {name!r}") from None
    count = len(items)
    if count == 0 and mode == "run":
        raise TaskError(f"step '{step}': foreach over {name!r}, which is empty; a foreach needs at least one item")
    return count
