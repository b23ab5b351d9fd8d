"""The flow CLI: `python flow.py [options] run|resume|step|check|show|logs|dump|tag|step-functions ...`.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from flowdrop.cli.exits import fail, messages_not_tracebacks
from flowdrop.cli.lint import check_flow
from flowdrop.config import ClientConfig, load_config
from flowdrop.errors import FlowdropError, ParameterError
from flowdrop.model.decorators import Decorator, parse_with_spec
from flowdrop.model.graph import Graph
from flowdrop.model.task import TaskPayload


DATASTORE_TYPES = ("local", "s3")


class FlowContext:
    """What every subcommand shares: the flow, its graph, the settings and the top-level options."""

    def __init__(self, flow_cls: type, flow_file: Path, graph: Graph, config: ClientConfig):
        self.flow_cls = flow_cls
        self.flow_file = flow_file
        self.graph = graph
        self.config = config
        self.with_specs: tuple[str, ...] = ()
        self.with_decorators: tuple[Decorator, ...] = ()
        self.datastore_root: str | None = None
        self.quiet = False
        self.pylint = True
        self.branch: str | None = None
        self.production = False

    def echo(self, message: str, err: bool = True, **style: Any) -> None:
        """A progress message, silenced by --quiet."""
        if not self.quiet:
            click.secho(message, err=err, **style)

    def datastore_url(self) -> str:
        """The datastore for this command: --datastore(-root), else the config's (absolute for folders)."""
        root = self.datastore_root or self.config.datastore
        if "://" not in root:
            root = str(Path(root).expanduser().resolve())
        return root

    def datastore(self, url: str | None = None):
        """A FlowDatastore for this flow at `url` (default: datastore_url())."""
        from flowdrop.datastore import FlowDatastore, open_storage

        return FlowDatastore(open_storage(url or self.datastore_url(), self.config.aws), self.graph.flow_name)


def _datastore_root(config: ClientConfig, kind: str | None, root: str | None) -> str | None:
    """Metaflow's `--datastore local|s3` and `--datastore-root`; `--datastore PATH_OR_URL` as before."""
    if kind is not None and kind not in DATASTORE_TYPES:
        if root is not None:
            fail(f"--datastore {kind!r} is a location and --datastore-root {root!r} another; give one of them "
                 f"(or --datastore {'|'.join(DATASTORE_TYPES)} with --datastore-root)", 2)
        return kind
    if kind == "s3":
        root = root or config.production_datastore or (f"s3://{config.bucket}/data" if config.bucket else None)
        if root is None or not root.startswith("s3://"):
            fail("--datastore s3 needs an s3:// location: give --datastore-root s3://BUCKET/PREFIX or set the "
                 f"config's production_datastore (got {root!r})", 2)
    if kind == "local" and root is not None and "://" in root:
        fail(f"--datastore local needs a folder, got --datastore-root {root!r}; say --datastore s3 for S3", 2)
    return root


def _with_decorators(graph: Graph, with_specs: Sequence[str]) -> tuple[Decorator, ...]:
    """--with values as decorators; exits listing every problem (a mistyped name among them)."""
    from flowdrop.model.decorators import decorator_problems, unknown_step_decorator
    from flowdrop.model.graph import FOREACH

    decorators, problems = [], []
    foreach_steps = [node.name for node in graph if node.type == FOREACH]
    for spec in with_specs:
        try:
            decorator = parse_with_spec(spec)
        except ValueError as err:
            problems.append(str(err))
            continue
        unknown = unknown_step_decorator(decorator.name)
        if unknown:
            problems.append(f"--with {spec!r}: {unknown}")
            continue
        decorators.append(decorator)
        problems += [f"--with {spec!r}: {problem}" for problem in decorator_problems(decorator)]
        if decorator.name == "catch" and foreach_steps:
            problems.append(f"--with {spec!r}: @catch is not supported in foreach split steps, and this flow "
                            f"has {', '.join(foreach_steps)}; put @catch on the steps that need it instead.")
    if problems:
        fail("\n".join(problems), 2)
    return tuple(decorators)


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


def _parameter_options(graph: Graph, run: bool = False) -> list[Callable]:
    options = []
    for spec in graph.parameters:
        default_text = "computed at run start" if spec.deploy_time else repr(spec.default)
        help_text = (spec.help or "") + f" [{spec.type}; default: {default_text}]"
        # As Metaflow's METAFLOW_RUN_<NAME>: a value may come from FLOWDROP_RUN_<NAME>.
        envvar = f"FLOWDROP_RUN_{spec.name.replace('-', '_').upper()}" if run else None
        options.append(click.option(f"--{spec.name}", spec.attribute, type=str, default=None, envvar=envvar,
                                    help=help_text.strip()))
    return options


def _apply(options: Sequence[Callable], func: Callable) -> Callable:
    for option in reversed(options):
        func = option(func)
    return func


def _report(obj: FlowContext, result: Any, run_id: str) -> None:
    if result.succeeded:
        obj.echo(f"Done! Run {run_id} succeeded ({result.tasks_run} task(s) run"
                 + (f", {result.tasks_cloned} reused" if result.tasks_cloned else "") + ").", err=False, fg="green")
        return
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


def _run_settings(obj: FlowContext, max_workers: int, max_num_splits: int, max_log_size: int,
                  tags: tuple[str, ...], run_id_file: str | None, user_namespace: str | None,
                  with_specs: tuple[str, ...]) -> RunSettings:
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
        obj.with_decorators += _with_decorators(obj.graph, with_specs)
        obj.with_specs += with_specs
    return RunSettings(max_workers, max_num_splits, max_log_size, tuple(dict.fromkeys(tags)), run_id_file,
                       user_namespace)


def _run_flow(obj: FlowContext, run_id: str, params_json: str | None, settings: RunSettings,
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
                         namespace=settings.namespace)
    obj.echo(f"Workflow starting (run-id {run_id}) for {obj.graph.flow_name}, datastore {obj.datastore_url()}:",
             err=False)

    def run_forked(payload: TaskPayload) -> dict:
        # In the forked child: a fresh datastore (clients must not cross a fork).
        from flowdrop.runtime.entry import load_package_context
        from flowdrop.runtime.task import TaskSetup, run_task

        setup = TaskSetup(obj.flow_cls, obj.graph, obj.datastore(), obj.with_decorators, settings.tags,
                          load_package_context(obj.flow_file).deploy_values, origin_run_id,
                          max_log_size=max_log_bytes)
        return run_task(setup, payload)

    scheduler = LocalScheduler(obj.flow_file, obj.graph, obj.datastore(), run_id, options, params_json, cloned,
                               run_forked=run_forked)
    _report(obj, scheduler.run(), run_id)


def _run_options(graph: Graph | None) -> list[Callable]:
    """The options of `run` and `resume`, Metaflow's names and defaults."""
    return [
        *(_parameter_options(graph, run=True) if graph is not None else []),
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


def build_cli(flow_cls: type, flow_file: Path, graph: Graph) -> click.Group:
    """The click group for one flow."""

    @click.group(cls=_FlowGroup, help=f"Commands for the flow {graph.flow_name} ({flow_file.name}).",
                 invoke_without_command=True)
    @click.option("--quiet/--not-quiet", default=False, help="Print only what was asked for, no progress messages.")
    @click.option("--metadata", type=click.Choice(["local"]), default="local", show_default=True,
                  help="Where run metadata lives: beside the artifacts, in the datastore.")
    @click.option("--datastore", "datastore_kind", default=None, metavar="local|s3",
                  help="Where artifacts live: local (a folder) or s3. A folder or s3:// URL is taken as the root.")
    @click.option("--datastore-root", default=None, help="The datastore's folder or s3://bucket/prefix.")
    @click.option("--with", "with_specs", multiple=True, metavar="DECORATOR[:k=v,...]",
                  help="Add a decorator to every step, e.g. --with retry or --with retry:times=2.")
    @click.option("--pylint/--no-pylint", default=True, show_default=True,
                  help="Check the flow file with pyflakes before run, resume and check.")
    @click.option("--environment", type=click.Choice(["local"]), default="local", show_default=True,
                  help="Where step code finds its packages: this Python's (Metaflow's local environment).")
    @click.option("--event-logger", default="nullSidecarLogger", hidden=True, help="Accepted for Metaflow; unused.")
    @click.option("--monitor", default="nullSidecarMonitor", hidden=True, help="Accepted for Metaflow; unused.")
    @click.option("--branch", default=None, help="@project flows: the branch (as after step-functions create).")
    @click.option("--production", is_flag=True, help="@project flows: the production branch.")
    @click.pass_context
    def cli(ctx: click.Context, quiet: bool, metadata: str, datastore_kind: str | None, datastore_root: str | None,
            with_specs: tuple[str, ...], pylint: bool, environment: str, event_logger: str, monitor: str,
            branch: str | None, production: bool) -> None:
        from flowdrop.config import user_name
        from flowdrop.model.version import __version__

        obj = FlowContext(flow_cls, flow_file, graph, load_config())
        obj.quiet, obj.pylint, obj.branch, obj.production = quiet, pylint, branch, production
        obj.with_decorators = _with_decorators(graph, with_specs)
        obj.with_specs = with_specs
        obj.datastore_root = _datastore_root(obj.config, datastore_kind, datastore_root)
        ctx.obj = obj
        # Metaflow's first line on stderr; tools reading its output skip it (`tag list --flat`).
        obj.echo(f"flowdrop {__version__} executing {graph.flow_name} for user:{user_name()}", fg="magenta")
        if ctx.invoked_subcommand is None:
            check_flow(obj)  # as Metaflow: `python flow.py` alone checks the flow

    def run(obj: FlowContext, max_workers: int, max_num_splits: int, max_log_size: int, tags: tuple[str, ...],
            run_id_file: str | None, user_namespace: str | None, run_with: tuple[str, ...], **kwargs: Any) -> None:
        from flowdrop.runtime.scheduler import new_run_id

        settings = _run_settings(obj, max_workers, max_num_splits, max_log_size, tags, run_id_file,
                                 user_namespace, run_with)
        with messages_not_tracebacks():
            check_flow(obj)
        params_json = _start_parameters(obj, _given_parameters(obj.graph, kwargs))
        _run_flow(obj, new_run_id(), params_json, settings)

    cli.command(name="run", help="Run the flow locally.")(_apply(_run_options(graph), run))

    def resume(obj: FlowContext, step: str | None, origin_run_id: str | None, run_id: str | None,
               max_workers: int, max_num_splits: int, max_log_size: int, tags: tuple[str, ...],
               run_id_file: str | None, user_namespace: str | None, run_with: tuple[str, ...]) -> None:
        from flowdrop.runtime.resume import clone_tasks, steps_to_rerun
        from flowdrop.runtime.scheduler import new_run_id

        settings = _run_settings(obj, max_workers, max_num_splits, max_log_size, tags, run_id_file,
                                 user_namespace, run_with)
        with messages_not_tracebacks():
            check_flow(obj)
        local = obj.datastore()
        origin = _find_origin(obj, local, origin_run_id)
        origin_id = origin_run_id or local.list_runs()[0]
        rerun = steps_to_rerun(obj.graph, origin, origin_id, step)
        run_id = run_id or new_run_id()
        cloned = clone_tasks(obj.graph, origin, origin_id, local, run_id, rerun)
        rerunning = f"from step(s) {', '.join(n.name for n in obj.graph if n.name in rerun)}" if rerun else \
            "from the tasks that did not succeed"
        obj.echo(f"Resuming run {origin_id} {rerunning} ({len(cloned)} task(s) reused)", err=False)
        origin_meta = origin.read_run(origin_id) or {}
        params = origin_meta.get("parameters") or {}
        if ("start", ()) in cloned:
            # The start task, which records a run, is reused: record this one here.
            local.ensure_run(run_id, _resumed_run_meta(obj.graph.flow_name, run_id, origin_id, params, settings.tags))
        _run_flow(obj, run_id, json.dumps(params, sort_keys=True, default=str), settings, cloned,
                  origin_run_id=origin_id)

    resume_options = [
        click.argument("step", required=False),
        click.option("--origin-run-id", default=None, help="The run to resume (default: the latest local run)."),
        click.option("--run-id", default=None, hidden=True, help="The new run's id (default: a fresh one)."),
        *_run_options(None),
    ]
    cli.command(help="Rerun a run from its failed step (or STEP), reusing what succeeded.")(
        _apply(resume_options, resume))

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
    @click.option("--namespace", "user_namespace", default=None)
    @click.option("--max-log-size", default=10, help="MB of stdout and stderr kept.")
    @click.pass_obj
    def step(obj: FlowContext, step_name: str, run_id: str, task_id: str, parameters: str | None, mode: str,
             output_file: str | None, tag: tuple[str, ...], origin_run_id: str | None, retry_count: int,
             user_namespace: str | None, max_log_size: int) -> None:
        from flowdrop.model.task import indices_of
        from flowdrop.runtime.entry import load_package_context
        from flowdrop.runtime.task import TaskSetup, run_task

        if not (task_id == step_name or task_id.startswith(step_name + "-")):
            fail(f"--task-id {task_id!r} does not belong to step {step_name!r} (expected {step_name}[-i-j...])", 2)
        if user_namespace is not None:
            from flowdrop.client import namespace

            namespace(user_namespace or None)
        payload = TaskPayload(obj.graph.flow_name, step_name, run_id, indices_of(task_id), parameters, mode,
                              retry_count)
        context = load_package_context(obj.flow_file)
        setup = TaskSetup(obj.flow_cls, obj.graph, obj.datastore(), (*context.with_decorators, *obj.with_decorators),
                          (*tag, *context.tags_for(run_id)), context.deploy_values, origin_run_id,
                          deployment_name=context.state_machine_name, max_log_size=max_log_size * 1024 * 1024)
        output = run_task(setup, payload)
        if output_file:
            Path(output_file).write_text(json.dumps(output))

    return cli


def _add_inspect_commands(cli: click.Group) -> None:
    from flowdrop.cli.flow_inspect import add_inspect_commands

    add_inspect_commands(cli)


def _add_step_functions_commands(cli: click.Group) -> None:
    from flowdrop.cli.step_functions import add_step_functions_commands

    add_step_functions_commands(cli)


# Commands defined in other modules, loaded when first asked for: every Batch and Lambda task is a
# fresh `python flow.py step ...` that needs neither the uploader and API client nor the inspectors.
_LAZY_COMMANDS: dict[str, Callable[[click.Group], None]] = {
    **dict.fromkeys(("check", "show", "output-dot", "logs", "dump", "tag"), _add_inspect_commands),
    "step-functions": _add_step_functions_commands,
}


class _FlowGroup(click.Group):
    """The flow's command group, with the commands of _LAZY_COMMANDS loaded on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY_COMMANDS and cmd_name not in self.commands:
            _LAZY_COMMANDS[cmd_name](self)
        return super().get_command(ctx, cmd_name)


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
