"""The flow CLI: `python flow.py run|show|resume|step|step-functions ...`.

Owns: turning a flow file's command line into calls to the runtime, the
compiler and the uploader. Entry point only: it reads the config once,
parses the flow's graph from its source, and prints errors as messages
with a non-zero exit code (tracebacks only for the user's own steps).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from flowdrop.cli.exits import fail
from flowdrop.config import ClientConfig, load_config
from flowdrop.errors import FlowdropError, ParameterError
from flowdrop.model.decorators import Decorator, parse_with_spec
from flowdrop.model.graph import Graph
from flowdrop.model.task import TaskPayload


class FlowContext:
    """What every subcommand shares: the flow, its graph and the settings."""

    def __init__(self, flow_cls: type, flow_file: Path, graph: Graph, config: ClientConfig):
        self.flow_cls = flow_cls
        self.flow_file = flow_file
        self.graph = graph
        self.config = config
        self.with_specs: tuple[str, ...] = ()
        self.with_decorators: tuple[Decorator, ...] = ()
        self.datastore_root: str | None = None

    def datastore_url(self) -> str:
        """The datastore for this command: --datastore, else the config's (absolute for folders)."""
        root = self.datastore_root or self.config.datastore
        if "://" not in root:
            root = str(Path(root).expanduser().resolve())
        return root

    def datastore(self, url: str | None = None):
        """A FlowDatastore for this flow at `url` (default: datastore_url())."""
        from flowdrop.datastore import FlowDatastore, open_storage

        return FlowDatastore(open_storage(url or self.datastore_url(), self.config.aws), self.graph.flow_name)


def _given_parameters(graph: Graph, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {spec.name: kwargs[spec.attribute] for spec in graph.parameters if kwargs.get(spec.attribute) is not None}


def _start_parameters(obj: FlowContext, given: dict[str, Any]) -> str:
    """Check given values, evaluate deploy-time defaults once, and return the start task's JSON."""
    from flowdrop.config import user_name
    from flowdrop.model.parameters import resolve_parameters
    from flowdrop.parameters import evaluate_deploy_time_parameters

    values = dict(given)
    values.update(evaluate_deploy_time_parameters(obj.flow_cls, obj.graph, user_name(), skip=given))
    resolve_parameters(obj.graph.parameters, values, label=lambda name: f"--{name}")
    return json.dumps(values, sort_keys=True, default=str)


def _parameter_options(graph: Graph) -> list[Callable]:
    options = []
    for spec in graph.parameters:
        default_text = "computed at run start" if spec.deploy_time else repr(spec.default)
        help_text = (spec.help or "") + f" [{spec.type}; default: {default_text}]"
        options.append(click.option(f"--{spec.name}", spec.attribute, type=str, default=None, help=help_text.strip()))
    return options


def _apply(options: Sequence[Callable], func: Callable) -> Callable:
    for option in reversed(options):
        func = option(func)
    return func


def _report(result: Any, run_id: str) -> None:
    if result.succeeded:
        click.secho(f"Done! Run {run_id} succeeded ({result.tasks_run} task(s) run"
                    + (f", {result.tasks_cloned} reused" if result.tasks_cloned else "") + ").", fg="green")
        return
    fail(f"Run {run_id} failed at step '{result.failed_step}' (task {result.failed_task}): {result.error}")


def _run_flow(obj: FlowContext, run_id: str, params_json: str | None, max_workers: int, tags: tuple[str, ...],
              run_id_file: str | None, cloned: dict | None = None, origin_run_id: str | None = None) -> None:
    from flowdrop.runtime.scheduler import LocalScheduler, RunOptions

    if max_workers < 1:
        fail("--max-workers must be 1 or more", 2)
    if run_id_file:
        Path(run_id_file).write_text(run_id)
    launcher = os.environ.get("FLOWDROP_LAUNCHER", "fork")
    if launcher not in ("fork", "subprocess"):
        fail(f"FLOWDROP_LAUNCHER must be fork or subprocess, got {launcher!r}", 2)
    options = RunOptions(max_workers=max_workers, with_decorators=obj.with_decorators, with_specs=obj.with_specs,
                         tags=tags, datastore_root=obj.datastore_url(), origin_run_id=origin_run_id,
                         echo=lambda m: click.echo(m, err=True), launcher=launcher)
    click.echo(f"Workflow starting (run-id {run_id}) for {obj.graph.flow_name}, datastore {obj.datastore_url()}:")

    def run_forked(payload: TaskPayload) -> dict:
        # In the forked child: a fresh datastore (clients must not cross a fork).
        from flowdrop.runtime.entry import load_package_context
        from flowdrop.runtime.task import TaskSetup, run_task

        setup = TaskSetup(obj.flow_cls, obj.graph, obj.datastore(), obj.with_decorators, tags,
                          load_package_context(obj.flow_file).deploy_values, origin_run_id)
        return run_task(setup, payload)

    scheduler = LocalScheduler(obj.flow_file, obj.graph, obj.datastore(), run_id, options, params_json, cloned,
                               run_forked=run_forked)
    _report(scheduler.run(), run_id)


def build_cli(flow_cls: type, flow_file: Path, graph: Graph) -> click.Group:
    """The click group for one flow."""

    @click.group(help=f"Commands for the flow {graph.flow_name} ({flow_file.name}).")
    @click.option("--with", "with_specs", multiple=True, metavar="DECORATOR[:k=v,...]",
                  help="Add a decorator to every step, e.g. --with retry or --with retry:times=2.")
    @click.option("--datastore", "datastore_root", default=None, help="Folder or s3:// URL for artifacts.")
    @click.pass_context
    def cli(ctx: click.Context, with_specs: tuple[str, ...], datastore_root: str | None) -> None:
        from flowdrop.model.decorators import decorator_problems
        from flowdrop.model.graph import FOREACH

        obj = FlowContext(flow_cls, flow_file, graph, load_config())
        decorators, problems = [], []
        foreach_steps = [node.name for node in graph if node.type == FOREACH]
        for spec in with_specs:
            try:
                decorator = parse_with_spec(spec)
            except ValueError as err:
                problems.append(str(err))
                continue
            decorators.append(decorator)
            problems += [f"--with {spec!r}: {problem}" for problem in decorator_problems(decorator)]
            if decorator.name == "catch" and foreach_steps:
                problems.append(f"--with {spec!r}: @catch is not supported in foreach split steps, and this flow "
                                f"has {', '.join(foreach_steps)}; put @catch on the steps that need it instead.")
        if problems:
            fail("\n".join(problems), 2)
        obj.with_decorators = tuple(decorators)
        obj.with_specs = with_specs
        obj.datastore_root = datastore_root
        ctx.obj = obj

    @cli.command(help="Show the flow's steps and how they connect.")
    @click.pass_obj
    def show(obj: FlowContext) -> None:
        from flowdrop.graph import render_graph

        click.echo(render_graph(obj.graph))

    def run(obj: FlowContext, max_workers: int, tag: tuple[str, ...], run_id_file: str | None, **kwargs: Any) -> None:
        from flowdrop.runtime.scheduler import new_run_id

        params_json = _start_parameters(obj, _given_parameters(obj.graph, kwargs))
        _run_flow(obj, new_run_id(), params_json, max_workers, tag, run_id_file)

    run_options = [
        *_parameter_options(graph),
        click.option("--max-workers", default=16, show_default=True, help="Run at most this many tasks at once."),
        click.option("--tag", multiple=True, help="Tag the run (repeatable)."),
        click.option("--run-id-file", default=None, help="Write the run id to this file."),
        click.pass_obj,
    ]
    cli.command(name="run", help="Run the flow locally.")(_apply(run_options, run))

    @cli.command(help="Rerun a run from its failed step (or STEP), reusing what succeeded.")
    @click.argument("step", required=False)
    @click.option("--origin-run-id", default=None, help="The run to resume (default: the latest local run).")
    @click.option("--max-workers", default=16, show_default=True)
    @click.option("--tag", multiple=True)
    @click.option("--run-id-file", default=None)
    @click.pass_obj
    def resume(obj: FlowContext, step: str | None, origin_run_id: str | None, max_workers: int,
               tag: tuple[str, ...], run_id_file: str | None) -> None:
        from flowdrop.runtime.resume import clone_tasks, steps_to_rerun
        from flowdrop.runtime.scheduler import new_run_id

        local = obj.datastore()
        origin = _find_origin(obj, local, origin_run_id)
        origin_id = origin_run_id or local.list_runs()[0]
        rerun = steps_to_rerun(obj.graph, origin, origin_id, step)
        run_id = new_run_id()
        click.echo(f"Resuming run {origin_id} from step(s) {', '.join(n.name for n in obj.graph if n.name in rerun)}")
        cloned = clone_tasks(obj.graph, origin, origin_id, local, run_id, rerun)
        origin_meta = origin.read_run(origin_id) or {}
        params = origin_meta.get("parameters") or {}
        if "start" not in rerun:
            # The start task, which records a run, is reused: record this one here.
            local.ensure_run(run_id, _resumed_run_meta(obj.graph.flow_name, run_id, origin_id, params, tag))
        _run_flow(obj, run_id, json.dumps(params, sort_keys=True, default=str), max_workers, tag, run_id_file,
                  cloned, origin_run_id=origin_id)

    @cli.command(help="Run one task (used by the local runtime, workers, Batch and Lambda).")
    @click.argument("step_name")
    @click.option("--run-id", required=True)
    @click.option("--task-id", required=True)
    @click.option("--parameters", default=None, help='The start task\'s parameters as a JSON object string.')
    @click.option("--mode", type=click.Choice(["run", "catch"]), default="run")
    @click.option("--output-file", default=None)
    @click.option("--tag", multiple=True)
    @click.option("--origin-run-id", default=None)
    @click.option("--retry-count", type=click.IntRange(min=0), default=0,
                  help="Attempts of this task before this one (Step Functions' retry count).")
    @click.pass_obj
    def step(obj: FlowContext, step_name: str, run_id: str, task_id: str, parameters: str | None, mode: str,
             output_file: str | None, tag: tuple[str, ...], origin_run_id: str | None, retry_count: int) -> None:
        from flowdrop.model.task import indices_of
        from flowdrop.runtime.entry import load_package_context
        from flowdrop.runtime.task import TaskSetup, run_task

        if not (task_id == step_name or task_id.startswith(step_name + "-")):
            fail(f"--task-id {task_id!r} does not belong to step {step_name!r} (expected {step_name}[-i-j...])", 2)
        payload = TaskPayload(obj.graph.flow_name, step_name, run_id, indices_of(task_id), parameters, mode,
                              retry_count)
        context = load_package_context(obj.flow_file)
        setup = TaskSetup(obj.flow_cls, obj.graph, obj.datastore(), (*context.with_decorators, *obj.with_decorators),
                          (*tag, *context.tags_for(run_id)), context.deploy_values, origin_run_id,
                          deployment_name=context.state_machine_name)
        output = run_task(setup, payload)
        if output_file:
            Path(output_file).write_text(json.dumps(output))

    from flowdrop.cli.step_functions import add_step_functions_commands

    add_step_functions_commands(cli)
    return cli


def _resumed_run_meta(flow_name: str, run_id: str, origin_id: str, params: dict, tags: tuple[str, ...]) -> dict:
    from flowdrop.config import user_name
    from flowdrop.model.runs import run_record
    from flowdrop.runtime.task import now_iso

    return run_record(flow_name, run_id, created=now_iso(), user=user_name(), tags=tags, parameters=params,
                      origin_run_id=origin_id)


def _find_origin(obj: FlowContext, local: Any, origin_run_id: str | None) -> Any:
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


def main(flow_cls: type, argv: Sequence[str] | None = None) -> int:
    """Run the flow CLI for `flow_cls` (called by FlowSpec() under __main__)."""
    from flowdrop.graph import parse_flow_file

    module = sys.modules.get(flow_cls.__module__)
    flow_file = Path(getattr(module, "__file__", "") or sys.argv[0]).resolve()
    try:
        graph = parse_flow_file(flow_file, class_name=flow_cls.__name__)
        cli = build_cli(flow_cls, flow_file, graph)
        cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name=f"python {flow_file.name}",
                 standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except ParameterError as err:
        click.secho("Invalid parameters:\n  " + "\n  ".join(err.problems), fg="red", err=True)
        return 2
    except FlowdropError as err:
        click.secho(str(err), fg="red", err=True)
        return 1
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0
