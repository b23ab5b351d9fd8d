"""How the flow CLI runs a flow: the options `run` and `resume` share, and starting the local scheduler.

Owns: Metaflow's run options (--max-workers, --max-num-splits,
--max-log-size, --tag, --run-id-file, --namespace, --with) read into
RunSettings, the start task's parameters, finding the run `resume` starts
from (local, else the production datastore), and reporting how a run ended.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from flowdrop.cli.exits import fail
from flowdrop.cli.flow_context import FlowContext, with_decorators
from flowdrop.model.graph import Graph
from flowdrop.model.task import TaskPayload


def given_parameters(graph: Graph, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The flow parameters given on the command line, by parameter name."""
    return {spec.name: kwargs[spec.attribute] for spec in graph.parameters if kwargs.get(spec.attribute) is not None}


def start_parameters(obj: FlowContext, given: dict[str, Any]) -> str:
    """Check given values, evaluate deploy-time defaults once, and return the start task's JSON."""
    from flowdrop.config import user_name
    from flowdrop.model.parameters import resolve_parameters
    from flowdrop.parameters import evaluate_deploy_time_parameters

    from flowdrop.cli.flow_configs import store_included_files

    values = dict(given)
    values.update(evaluate_deploy_time_parameters(obj.flow_cls, obj.graph, user_name(), skip=given,
                                                  configs=obj.configs))
    resolve_parameters(obj.graph.parameters, values, label=lambda name: f"--{name}")
    store_included_files(obj, values)  # as Metaflow: an IncludeFile's file is read at run start
    return json.dumps(values, sort_keys=True, default=str)


# What --help shows a parameter's value as (values are checked by the flow's types, not click's).
_METAVARS = {"int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN", "json": "JSON", "str": "TEXT"}


def parameter_options(graph: Graph, run: bool = False) -> list[Callable]:
    """One `--<name>` option per flow parameter."""
    options = []
    for spec in graph.parameters:
        default_text = "computed at run start" if spec.deploy_time else repr(spec.default)
        help_text = (spec.help or "") + f" [{spec.type}; default: {default_text}]"
        # As Metaflow's METAFLOW_RUN_<NAME> (also read): a value may come from FLOWDROP_RUN_<NAME>.
        suffix = spec.name.replace('-', '_').upper()
        envvar = [f"FLOWDROP_RUN_{suffix}", f"METAFLOW_RUN_{suffix}"] if run else None
        options.append(click.option(f"--{spec.name}", spec.attribute, type=str, default=None, envvar=envvar,
                                    metavar=_METAVARS.get(spec.type, "TEXT"), help=help_text.strip()))
    return options


def apply_options(options: Sequence[Callable], func: Callable) -> Callable:
    """`func` with click options applied, first one outermost."""
    for option in reversed(options):
        func = option(func)
    return func


def _report(obj: FlowContext, result: Any, run_id: str) -> None:
    if result.succeeded:
        obj.echo(f"Done! Run {run_id} succeeded ({result.tasks_run} task(s) run"
                 + (f", {result.tasks_cloned} reused" if result.tasks_cloned else "") + ").", err=False, fg="green")
        return
    if result.interrupted:
        # 130 / 143: the shell's code for a process ended by SIGINT / SIGTERM.
        fail(f"Run {run_id} interrupted ({result.interrupted}): its tasks were stopped and the run is recorded as "
             f"interrupted; `resume --origin-run-id {run_id}` goes on from what succeeded.",
             130 if result.interrupted == "SIGINT" else 143)
    fail(f"Run {run_id} failed at step '{result.failed_step}' (task {result.failed_task}): {result.error}")


@dataclass(frozen=True)
class RunSettings:
    """The options `run` and `resume` share, as Metaflow spells them."""

    max_workers: int = 16
    max_num_splits: int = 100
    max_log_size: int = 10  # MB
    tags: tuple[str, ...] = ()
    run_id_file: str | None = None
    namespace: str | None = None  # None: the default; "": every namespace


def run_settings(obj: FlowContext, max_workers: int, max_num_splits: int, max_log_size: int,
                  tags: tuple[str, ...], run_id_file: str | None, user_namespace: str | None,
                  with_specs: tuple[str, ...]) -> RunSettings:
    """The run options checked (every problem listed) into RunSettings; --with decorators added to obj."""
    from flowdrop.model.tags import tag_problems

    problems = []
    for name, value in (("--max-workers", max_workers), ("--max-num-splits", max_num_splits),
                        ("--max-log-size", max_log_size)):
        if value < 1:
            problems.append(f"{name} must be 1 or more, got {value}")
    problems += [f"--tag {tag!r}: {problem}" for tag in tags for problem in tag_problems(tag)]
    if problems:
        fail("\n".join(problems), 2)
    if with_specs:
        obj.with_decorators += with_decorators(obj.graph, with_specs)
        obj.with_specs += with_specs
    return RunSettings(max_workers, max_num_splits, max_log_size, tuple(dict.fromkeys(tags)), run_id_file,
                       user_namespace)


def run_flow(obj: FlowContext, run_id: str, params_json: str | None, settings: RunSettings,
              cloned: dict | None = None, origin_run_id: str | None = None) -> None:
    from flowdrop.runtime.scheduler import LocalScheduler, RunOptions

    if settings.namespace is not None:
        from flowdrop.client import namespace

        namespace(settings.namespace or None)  # forked tasks inherit it; subprocesses get --namespace
    if settings.run_id_file:
        Path(settings.run_id_file).write_text(run_id)
    launcher = os.environ.get("FLOWDROP_LAUNCHER", "fork")
    if launcher not in ("fork", "subprocess"):
        fail(f"FLOWDROP_LAUNCHER must be fork or subprocess, got {launcher!r}", 2)
    max_log_bytes = settings.max_log_size * 1024 * 1024
    options = RunOptions(max_workers=settings.max_workers, with_decorators=obj.with_decorators,
                         with_specs=obj.with_specs, tags=settings.tags, datastore_root=obj.datastore_url(),
                         origin_run_id=origin_run_id, echo=obj.echo, launcher=launcher,
                         max_num_splits=settings.max_num_splits, max_log_size=settings.max_log_size,
                         namespace=settings.namespace, top_options=obj.top_options())
    obj.echo(f"Workflow starting (run-id {run_id}) for {obj.graph.flow_name}, datastore {obj.datastore_url()}:",
             err=False)

    def run_forked(payload: TaskPayload) -> dict:
        # In the forked child: a fresh datastore (clients must not cross a fork).
        from flowdrop.runtime.entry import load_package_context
        from flowdrop.runtime.task import TaskSetup, run_task

        setup = TaskSetup(obj.flow_cls, obj.graph, obj.datastore(), obj.with_decorators, settings.tags,
                          load_package_context(obj.flow_file).deploy_values, origin_run_id,
                          max_log_size=max_log_bytes, configs=obj.configs, deployment_name=obj.project_flow_name())
        return run_task(setup, payload)

    scheduler = LocalScheduler(obj.flow_file, obj.graph, obj.datastore(), run_id, options, params_json, cloned,
                               run_forked=run_forked)
    result = scheduler.run()
    _call_exit_hooks(obj, run_id, result.succeeded)
    _report(obj, result, run_id)


def _call_exit_hooks(obj: FlowContext, run_id: str, succeeded: bool) -> None:
    """@exit_hook: once the run has ended (failed or interrupted too), its hooks run here, in the run's process."""
    from flowdrop.model.exit_hooks import has_exit_hooks

    if not has_exit_hooks(obj.graph):
        return
    from flowdrop.runtime.exit_hooks import flow_namespace, run_exit_hooks

    run_exit_hooks(obj.graph, obj.datastore(), run_id, succeeded, flow_namespace(obj.flow_cls))


def run_options(graph: Graph | None) -> list[Callable]:
    """The options of `run` and `resume`, Metaflow's names and defaults."""
    return [
        *(parameter_options(graph, run=True) if graph is not None else []),
        click.option("--max-workers", default=16, show_default=True, help="Run at most this many tasks at once."),
        click.option("--max-num-splits", default=100, show_default=True,
                     help="Fail a foreach wider than this (a guard against thousands of tasks by mistake)."),
        click.option("--max-log-size", default=10, show_default=True,
                     help="Keep at most this many MB of each task's stdout and stderr; the rest is cut."),
        click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable; any unicode text)."),
        click.option("--run-id-file", default=None, help="Write the run id to this file."),
        click.option("--namespace", "user_namespace", default=None,
                     help="The client API's namespace inside the run's steps ('' for every namespace)."),
        click.option("--with", "run_with", multiple=True, metavar="DECORATOR[:k=v,...]",
                     help="Add a decorator to every step (as the top-level --with)."),
        click.pass_obj,
    ]


def resumed_run_meta(graph: Graph, run_id: str, origin_id: str, params: dict, tags: tuple[str, ...]) -> dict:
    """run.json of a resumed run whose start task is reused."""
    from flowdrop.config import user_name
    from flowdrop.model.runs import run_record
    from flowdrop.runtime.task import now_iso, run_system_tags

    created, user = now_iso(), user_name()
    return run_record(graph.flow_name, run_id, created=created, user=user, tags=tags, parameters=params,
                      origin_run_id=origin_id,
                      system_tags=run_system_tags(graph, run_id, created, None, user))


def find_origin(obj: FlowContext, local: Any, origin_run_id: str | None) -> Any:
    """The datastore holding the run `resume` starts from: the local one, else production's."""
    if origin_run_id is None:
        if not local.list_runs():
            fail(f"resume: no runs of {obj.graph.flow_name} in {obj.datastore_url()}; run the flow first", 2)
        return local
    if local.read_run(origin_run_id) is not None or local.list_steps(origin_run_id):
        return local
    if obj.config.production_datastore:
        production = obj.datastore(obj.config.production_datastore)
        if production.read_run(origin_run_id) is not None or production.list_steps(origin_run_id):
            return production
    where = obj.datastore_url() + (f" or {obj.config.production_datastore}" if obj.config.production_datastore else "")
    fail(f"resume: run {origin_run_id} of {obj.graph.flow_name} not found in {where}", 2)
