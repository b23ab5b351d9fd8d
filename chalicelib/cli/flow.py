"""The flow CLI: `python flow.py [options] run|resume|step|check|show|logs|dump|tag|step-functions ...`.

Owns: the command group with Metaflow's top-level options, and the run,
resume and step commands (flow_run.py does their work; flow_inspect.py
holds the commands that only read). It turns a flow file's command line into calls to the runtime, the
compiler and the uploader. Entry point only: it reads the config once,
parses the flow's graph from its source, and prints errors as messages
with a non-zero exit code (tracebacks only for the user's own steps).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from flowdrop.cli.exits import fail, messages_not_tracebacks
from flowdrop.cli.flow_context import FlowContext, resolve_datastore_root, with_decorators
from flowdrop.cli.flow_run import (
    apply_options,
    find_origin,
    given_parameters,
    resumed_run_meta,
    run_flow,
    run_options,
    run_settings,
    start_parameters,
)
from flowdrop.cli.lint import check_flow
from flowdrop.config import load_config
from flowdrop.errors import FlowdropError, ParameterError
from flowdrop.model.graph import Graph
from flowdrop.model.task import TASK_MODES, TaskPayload

__all__ = ["FlowContext", "build_cli", "main"]


def _with_config_options(func: Callable) -> Callable:
    from flowdrop.cli.flow_configs import config_options

    return apply_options(config_options(), func)


def build_cli(flow_cls: type, flow_file: Path, graph: Graph) -> click.Group:
    """The click group for one flow."""

    @click.group(cls=_FlowGroup, help=f"Commands for the flow {graph.flow_name} ({flow_file.name}).",
                 invoke_without_command=True)
    @_with_config_options
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
    # Metaflow's METAFLOW_BRANCH / METAFLOW_PRODUCTION are read too, as a Metaflow user sets them.
    @click.option("--branch", default=None, envvar=["FLOWDROP_BRANCH", "METAFLOW_BRANCH"],
                  help="@project flows: the branch test.BRANCH, for runs and step-functions create.")
    @click.option("--production", is_flag=True, envvar=["FLOWDROP_PRODUCTION", "METAFLOW_PRODUCTION"],
                  help="@project flows: the production branch, for runs and step-functions create.")
    @click.pass_context
    def cli(ctx: click.Context, quiet: bool, metadata: str, datastore_kind: str | None, datastore_root: str | None,
            with_specs: tuple[str, ...], pylint: bool, environment: str, event_logger: str, monitor: str,
            branch: str | None, production: bool, config_files: tuple, config_texts: tuple,
            config_frozen: str | None) -> None:
        from flowdrop.cli.flow_configs import apply_configs
        from flowdrop.config import user_name
        from flowdrop.model.version import __version__

        obj = FlowContext(flow_cls, flow_file, graph, load_config())
        # Configs first: decorators read them.
        apply_configs(obj, config_files, config_texts, config_frozen, ctx.invoked_subcommand)
        obj.quiet, obj.pylint, obj.branch, obj.production = quiet, pylint, branch, production
        obj.with_decorators = with_decorators(obj.graph, with_specs)
        obj.with_specs = with_specs
        obj.datastore_root = resolve_datastore_root(obj.config, datastore_kind, datastore_root)
        ctx.obj = obj
        # Metaflow's first line on stderr; tools reading its output skip it (`tag list --flat`).
        obj.echo(f"flowdrop {__version__} executing {graph.flow_name} for user:{user_name()}", fg="magenta")
        if ctx.invoked_subcommand is None:
            check_flow(obj)  # as Metaflow: `python flow.py` alone checks the flow

    def run(obj: FlowContext, max_workers: int, max_num_splits: int, max_log_size: int, tags: tuple[str, ...],
            run_id_file: str | None, user_namespace: str | None, run_with: tuple[str, ...], **kwargs: Any) -> None:
        from flowdrop.runtime.scheduler import new_run_id

        settings = run_settings(obj, max_workers, max_num_splits, max_log_size, tags, run_id_file,
                                 user_namespace, run_with)
        with messages_not_tracebacks():
            check_flow(obj)
        params_json = start_parameters(obj, given_parameters(obj.graph, kwargs))
        run_flow(obj, new_run_id(), params_json, settings)

    cli.command(name="run", help="Run the flow locally.")(apply_options(run_options(graph), run))

    def resume(obj: FlowContext, step: str | None, origin_run_id: str | None, run_id: str | None,
               max_workers: int, max_num_splits: int, max_log_size: int, tags: tuple[str, ...],
               run_id_file: str | None, user_namespace: str | None, run_with: tuple[str, ...]) -> None:
        from flowdrop.runtime.resume import clone_tasks, steps_to_rerun
        from flowdrop.runtime.scheduler import new_run_id

        from flowdrop.cli.flow_configs import apply_origin_configs

        settings = run_settings(obj, max_workers, max_num_splits, max_log_size, tags, run_id_file,
                                 user_namespace, run_with)
        local = obj.datastore()
        origin = find_origin(obj, local, origin_run_id)
        origin_id = origin_run_id or local.list_runs()[0]
        apply_origin_configs(obj, origin, origin_id)  # as Metaflow: a resumed run keeps its origin's configs
        with messages_not_tracebacks():
            check_flow(obj)
        rerun = steps_to_rerun(obj.graph, origin, origin_id, step)
        run_id = run_id or new_run_id()
        cloned = clone_tasks(obj.graph, origin, origin_id, local, run_id, rerun)
        rerunning = f"from step(s) {', '.join(n.name for n in obj.graph if n.name in rerun)}" if rerun else \
            "from the tasks that did not succeed"
        obj.echo(f"Resuming run {origin_id} {rerunning} ({len(cloned)} task(s) reused)", err=False)
        origin_meta = origin.read_run(origin_id) or {}
        params = origin_meta.get("parameters") or {}
        if ("start", "start") in cloned:
            # The start task, which records a run, is reused: record this one here.
            local.ensure_run(run_id, resumed_run_meta(obj.graph, run_id, origin_id, params, settings.tags))
        run_flow(obj, run_id, json.dumps(params, sort_keys=True, default=str), settings, cloned,
                  origin_run_id=origin_id)

    resume_options = [
        click.argument("step", required=False),
        click.option("--origin-run-id", default=None, help="The run to resume (default: the latest local run)."),
        click.option("--run-id", default=None, hidden=True, help="The new run's id (default: a fresh one)."),
        *run_options(None),
    ]
    cli.command(help="Rerun a run from its failed step (or STEP), reusing what succeeded.")(
        apply_options(resume_options, resume))

    @cli.command(help="Run one task (used by the local runtime, workers, Batch and Lambda).")
    @click.argument("step_name")
    @click.option("--run-id", required=True)
    @click.option("--task-id", required=True)
    @click.option("--parameters", default=None, help='The start task\'s parameters as a JSON object string.')
    @click.option("--mode", type=click.Choice(list(TASK_MODES)), default="run")
    @click.option("--output-file", default=None)
    @click.option("--tag", multiple=True)
    @click.option("--origin-run-id", default=None)
    @click.option("--retry-count", type=click.IntRange(min=0), default=0,
                  help="Attempts of this task before this one (Step Functions' retry count).")
    @click.option("--namespace", "user_namespace", default=None)
    @click.option("--max-log-size", default=10, help="MB of stdout and stderr kept.")
    @click.option("--input-paths", default=None, help="After a switch: the input tasks, comma-separated.")
    @click.option("--code-package", default=None, help="The s3:// URL of the code package the task runs from.")
    @click.pass_obj
    def step(obj: FlowContext, step_name: str, run_id: str, task_id: str, parameters: str | None, mode: str,
             output_file: str | None, tag: tuple[str, ...], origin_run_id: str | None, retry_count: int,
             user_namespace: str | None, max_log_size: int, input_paths: str | None,
             code_package: str | None) -> None:
        from flowdrop.model.task import indices_of, iteration_of
        from flowdrop.runtime.entry import load_package_context
        from flowdrop.runtime.task import TaskSetup, run_task

        # A recursive switch's later passes end in `.N` (loop.2, loop-1.3).
        if not (task_id.split(".")[0] == step_name or task_id.startswith(step_name + "-")):
            fail(f"--task-id {task_id!r} does not belong to step {step_name!r} (expected {step_name}[-i-j...][.n])",
                 2)
        if user_namespace is not None:
            from flowdrop.client import namespace

            namespace(user_namespace or None)
        payload = TaskPayload(obj.graph.flow_name, step_name, run_id, indices_of(task_id), parameters, mode,
                              retry_count, code_package=code_package, iteration=iteration_of(task_id),
                              input_paths=None if input_paths is None else tuple(filter(None, input_paths.split(","))))
        context = load_package_context(obj.flow_file)
        setup = TaskSetup(obj.flow_cls, obj.graph, obj.datastore(), (*context.with_decorators, *obj.with_decorators),
                          (*tag, *context.tags_for(run_id)), context.deploy_values, origin_run_id,
                          deployment_name=context.state_machine_name or obj.project_flow_name(),
                          max_log_size=max_log_size * 1024 * 1024,
                          configs=obj.configs)
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
