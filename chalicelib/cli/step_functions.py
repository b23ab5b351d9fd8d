"""`python flow.py step-functions ...`: deploy, trigger and inspect production.

Owns: the step-functions subcommands of the flow CLI and what they print.
`create --only-json` compiles locally and prints the state machine (no AWS
access); `create --plan` asks the deployer what a deploy would change
(deploy_plan.py); `create` hands the flow to the uploader (S3, then the deployment
record through the API); `trigger`, `list-runs` and `delete` call the
deployer's HTTPS API (`resume`: step_functions_resume.py). Does not own: packaging (uploader.py), what
create prints once deployed (deploy_outcome.py), Metaflow's other create flags (metaflow_create.py),
HTTP (api_client.py) or anything that runs server side.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import click

from flowdrop.cli.exits import messages_not_tracebacks
from flowdrop.cli.metaflow_create import authorize_option, metaflow_create_options
from flowdrop.errors import ParameterError
from flowdrop.model.backends import BACKENDS, DEFAULT_BACKEND
from flowdrop.model.graph import Graph
from flowdrop.model.runs import RUN_STATUSES
from flowdrop.model.schedule import DEFAULT_OVERLAP, OVERLAPS

# `list-runs --running`, `--timed-out`...: one flag per execution status.
STATUS_FLAGS = {status.lower(): status for status in RUN_STATUSES}
# Options of `trigger` itself; a flow parameter may not take these names.
_TRIGGER_OWN = ("name", "branch", "production", "idempotency_key", "run_id_file", "help")


def _target_options(func: Callable) -> Callable:
    func = click.option("--production", is_flag=True, help="@project flows: the production branch.")(func)
    func = click.option("--branch", default=None, help="@project flows: deploy to branch test.BRANCH "
                        "(with --production: prod.BRANCH).")(func)
    return click.option("--name", default=None, help="State machine name (default: the flow name).")(func)


def _target(ctx: click.Context, name: str | None, branch: str | None, production: bool) -> Any:
    """The deployment target of a subcommand; --name, --branch and --production may come from the groups above."""
    from flowdrop.cli.deploy_target import deployment_target
    from flowdrop.config import user_name

    branch, production = _branch(ctx, branch, production)

    group_name = ctx.parent.params.get("name") if ctx.parent is not None else None
    if name and group_name and name != group_name:
        raise click.UsageError(f"--name given twice with different values ({group_name!r}, {name!r})")
    return deployment_target(ctx.obj.graph, user_name(), name or group_name, branch, production)


def _branch(ctx: click.Context, branch: str | None, production: bool) -> tuple[str | None, bool]:
    """(--branch, --production) of the subcommand, else the flow command's top-level ones (as Metaflow takes them)."""
    return branch or getattr(ctx.obj, "branch", None), production or bool(getattr(ctx.obj, "production", False))


class _FlowParameterCommand(click.Command):
    """A command that also takes one `--<param>` option per flow parameter (read from ctx.obj.graph)."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        graph = getattr(ctx.obj, "graph", None)
        extra = _parameter_options(graph) if graph is not None else []
        return [*extra, *super().get_params(ctx)]


def _parameter_options(graph: Graph) -> list[click.Option]:
    options = []
    for spec in graph.parameters:
        if spec.name.replace("-", "_") in _TRIGGER_OWN:
            continue  # reported when the command runs: the option would be ambiguous
        default = "the deployment-time value" if spec.deploy_time else repr(spec.default)
        help_text = f"{spec.help or ''} [{spec.type}; default: {default}]".strip()
        options.append(click.Option([f"--{spec.name}", f"param__{spec.name}"], type=str, default=None, help=help_text))
    return options


def add_step_functions_commands(cli: click.Group) -> None:
    """Attach the `step-functions` group to a flow's CLI."""

    @cli.group(name="step-functions", help="Deploy the flow to AWS Step Functions and run it there.")
    @click.option("--name", default=None, help="State machine name (default: the flow name).")
    def step_functions(name: str | None) -> None:
        pass

    @step_functions.command(help="Deploy the flow: package it, drop it in S3, wait until it is in production.")
    @_target_options
    @click.option("--max-workers", default=100, show_default=True, help="Concurrent tasks per foreach.")
    @click.option("--workflow-timeout", type=int, default=None, help="Whole-run timeout in seconds.")
    @click.option("--tag", "tags", multiple=True, help="Tag every production run (repeatable).")
    @click.option("--backend", type=click.Choice(BACKENDS), default=None,
                  help="Where tasks run (default: the config's backend, else batch).")
    @click.option("--package-suffixes", default=".py", show_default=True,
                  help="Comma-separated suffixes of the files to package.")
    @click.option("--overlap", type=click.Choice(OVERLAPS), default=DEFAULT_OVERLAP, show_default=True,
                  help="A @schedule tick while the previous scheduled run is still going: skip it, queue it "
                       "until that run ends, or allow both.")
    @click.option("--notify-on-error", "notify_on_error", multiple=True, metavar="TARGET",
                  help="Alert an SNS topic ARN or an https:// webhook (Slack's payload) when a production run "
                       "fails, times out or is aborted (repeatable).")
    @click.option("--notify-on-success", "notify_on_success", multiple=True, metavar="TARGET",
                  help="Alert this SNS topic or webhook when a production run succeeds (repeatable).")
    @click.option("--no-wait", is_flag=True, help="Upload and return; do not wait for the deployer.")
    @click.option("--wait-timeout", type=float, default=120.0, show_default=True,
                  help="Seconds to wait for the deployment record.")
    @click.option("--only-json", is_flag=True, help="Print the state machine definition (and, on stderr, the flow's "
                  "trigger rules and schedule) and stop; no AWS access.")
    @click.option("--plan", "plan_only", is_flag=True,
                  help="Print what deploying would change (new version or duplicate, definition diff, schedule) "
                       "and stop; nothing is uploaded.")
    @metaflow_create_options
    @click.pass_context
    def create(ctx: click.Context, name: str | None, branch: str | None, production: bool, max_workers: int,
               workflow_timeout: int | None, tags: tuple[str, ...], backend: str | None, package_suffixes: str,
               overlap: str, notify_on_error: tuple[str, ...], notify_on_success: tuple[str, ...], no_wait: bool,
               wait_timeout: float, only_json: bool, plan_only: bool, use_distributed_map: bool | None,
               deployer_attribute_file: str | None, **metaflow_flags: Any) -> None:
        from flowdrop.cli import metaflow_create
        from flowdrop.cli.deploy_target import DeployOptions, deploy_alerts
        from flowdrop.cli.lint import say_ignored

        obj = ctx.obj
        if max_workers < 1:
            raise click.BadParameter("must be 1 or more", param_hint="--max-workers")
        if workflow_timeout is not None and workflow_timeout < 1:
            raise click.BadParameter("must be 1 second or more", param_hint="--workflow-timeout")
        suffixes = tuple(s.strip() for s in package_suffixes.split(",") if s.strip())
        with messages_not_tracebacks():
            target = _target(ctx, name, branch, production)
            branch, production = _branch(ctx, branch, production)
            # The config has no backend key yet on older installs; the embedded stack writes one.
            kind = backend or getattr(obj.config, "backend", None) or DEFAULT_BACKEND
            options = DeployOptions(name=name, branch=branch, production=production, max_workers=max_workers,
                                    workflow_timeout=workflow_timeout, with_specs=tuple(obj.with_specs),
                                    tags=tags, backend=kind, suffixes=suffixes or (".py",),
                                    schedule_overlap=overlap, notify_on_error=notify_on_error,
                                    notify_on_success=notify_on_success, distributed_map=bool(use_distributed_map))
            if notify_on_error or notify_on_success:
                deploy_alerts(options)  # a bad target is refused before anything is packaged
            say_ignored(obj)  # production leaves them out too: say so before deploying
            metaflow_create.say_ignored(metaflow_flags)
            if only_json:
                click.echo(_definition_json(obj, target.state_machine_name, options))
                return
            if plan_only:
                from flowdrop.cli.deploy_plan import show_plan

                raise SystemExit(show_plan(obj, options))
            raise SystemExit(_create(obj, options, wait=not no_wait, wait_timeout=wait_timeout,
                                     attribute_file=deployer_attribute_file))

    @step_functions.command(cls=_FlowParameterCommand,
                            help="Start a run of the production version; flow parameters as --<name> VALUE.")
    @_target_options
    @click.option("--idempotency-key", default=None, help="The same key starts at most one run.")
    @click.option("--run-id-file", default=None, type=click.Path(dir_okay=False),
                  help="Write the run's id (sfn-...) to this file, as Metaflow's trigger does.")
    @click.pass_context
    def trigger(ctx: click.Context, name: str | None, branch: str | None, production: bool,
                idempotency_key: str | None, run_id_file: str | None, **given: Any) -> None:
        from flowdrop.cli.api_client import ApiClient

        with messages_not_tracebacks():
            graph = ctx.obj.graph
            target = _target(ctx, name, branch, production)
            parameters = trigger_parameters(graph, {k[len("param__"):]: v for k, v in given.items() if v is not None})
            answer = ApiClient.from_config(ctx.obj.config).trigger(target.state_machine_name, parameters,
                                                                   idempotency_key)
            click.echo(f"Workflow {target.state_machine_name} triggered on AWS Step Functions "
                       f"(run-id {answer.get('run_id')}).")
            if answer.get("status_url"):
                click.echo(f"Status: {answer['status_url']}")
            if run_id_file:
                with open(run_id_file, "w") as out:
                    out.write(str(answer.get("run_id")))

    @step_functions.command(help="Stop a running production run: python flow.py step-functions terminate sfn-...")
    @click.argument("run_id")
    @click.option("--reason", default=None, help="Why, kept with the run (its cause).")
    @_target_options
    @authorize_option
    @click.pass_context
    def terminate(ctx: click.Context, run_id: str, reason: str | None, name: str | None, branch: str | None,
                  production: bool) -> None:
        from flowdrop.cli.api_client import ApiClient
        from flowdrop.config import user_name

        with messages_not_tracebacks():
            target = _target(ctx, name, branch, production)
            answer = ApiClient.from_config(ctx.obj.config).terminate(target.state_machine_name, run_id, reason,
                                                                     user_name())
            click.echo(f"Terminated {target.state_machine_name}/{answer.get('run_id')}: it ends "
                       f"{answer.get('status')} ({answer.get('cause')}).")

    from flowdrop.cli.step_functions_resume import add_resume_command

    add_resume_command(step_functions, _target_options, _target)

    @step_functions.command(name="list-runs", help="List the production runs of the flow.")
    @_target_options
    @click.option("--running", is_flag=True, help="Only running runs.")
    @click.option("--succeeded", is_flag=True, help="Only succeeded runs.")
    @click.option("--failed", is_flag=True, help="Only failed runs.")
    @click.option("--timed-out", is_flag=True, help="Only timed-out runs.")
    @click.option("--aborted", is_flag=True, help="Only aborted runs.")
    @click.pass_context
    def list_runs(ctx: click.Context, name: str | None, branch: str | None, production: bool, **flags: bool) -> None:
        from flowdrop.cli.api_client import ApiClient

        wanted = [status for flag, status in STATUS_FLAGS.items() if flags.get(flag)]
        with messages_not_tracebacks():
            target = _target(ctx, name, branch, production)
            api = ApiClient.from_config(ctx.obj.config)
            # Every page: one status is filtered by Step Functions, several here.
            listed = api.iter_runs(target.state_machine_name, wanted[0] if len(wanted) == 1 else None)
            runs = [r for r in listed if not wanted or r.get("status") in wanted]
            if not runs:
                which = " or ".join(s.lower().replace("_", "-") for s in wanted) + " " if wanted else ""
                click.echo(f"No {which}runs of {target.state_machine_name}.")
            for line in run_lines(runs):
                click.echo(line)

    @step_functions.command(help="Remove the flow from production: state machine, alias and schedule.")
    @_target_options
    @authorize_option
    @click.pass_context
    def delete(ctx: click.Context, name: str | None, branch: str | None, production: bool) -> None:
        from flowdrop.cli.api_client import ApiClient

        with messages_not_tracebacks():
            target = _target(ctx, name, branch, production)
            ApiClient.from_config(ctx.obj.config).delete_flow(target.state_machine_name)
            click.echo(f"Deleted {target.state_machine_name} from AWS Step Functions: its state machine, "
                       "alias and schedule are gone; deployment records and run artifacts are kept.")


# -- the commands' work ------------------------------------------------------------------------


def _definition_json(obj: Any, state_machine_name: str, options: Any) -> str:
    from flowdrop.compiler import BackendSettings, CompileOptions, compile_flow
    from flowdrop.compiler.limits import readable_json

    # Where production keeps artifacts and queues tasks is the deployer's to
    # say; a preview without a configured stack shows placeholders instead.
    config = obj.config
    placeholders = []
    root = config.production_datastore or (f"s3://{config.bucket}/data" if config.bucket else None)
    if root is None:
        root = "s3://BUCKET/data"
        placeholders.append(f"datastore {root}")
    queue_url = None
    if options.backend == "worker":
        queue_url = "https://sqs.REGION.amazonaws.com/ACCOUNT/flowdrop-tasks"
        placeholders.append(f"worker queue {queue_url}")
    compiled = compile_flow(obj.graph, CompileOptions(
        state_machine_name=state_machine_name,
        max_workers=options.max_workers,
        workflow_timeout=options.workflow_timeout,
        with_decorators=tuple(obj.with_decorators),
        backend=BackendSettings(kind=options.backend, worker_queue_url=queue_url),
        datastore_root=root,
        **({"inline_foreach_limit": 0} if options.distributed_map else {}),
    ))
    if placeholders:
        click.echo("Preview with placeholders (no deployer configured): " + "; ".join(placeholders), err=True)
    _echo_trigger_rules(obj.graph, state_machine_name, options)
    return readable_json(compiled)


def _echo_trigger_rules(graph: Graph, state_machine_name: str, options: Any) -> None:
    """With --only-json: the EventBridge rules and schedule the deployer would keep, as text on stderr
    (stdout stays the definition alone, for `| jq`); account, region and stage are placeholders."""
    if not any(graph.flow_decorator(name) for name in ("schedule", "trigger", "trigger_on_finish")):
        return  # nothing to show: the deployer's modules (~40 ms of imports) stay unloaded
    from flowdrop.deployer.candidate import flow_schedule, triggers_of
    from flowdrop.deployer.trigger_views import trigger_lines, trigger_views

    schedule = flow_schedule(graph)
    triggers = triggers_of(graph, state_machine_name)
    if schedule is None and not triggers:
        return
    views = trigger_views(state_machine_name, triggers, schedule.to_dict() if schedule else None,
                          options.schedule_overlap)
    click.echo("\n".join(trigger_lines(state_machine_name, views)), err=True)


class _BackgroundClient:
    """A boto3 client made on a thread while the caller works; get() waits for it (and raises what it raised)."""

    def __init__(self, aws: Any, service: str):
        import threading

        self._result: list[Any] = []
        self._thread = threading.Thread(target=self._make, args=(aws, service), daemon=True, name=f"{service}-client")
        self._thread.start()

    def _make(self, aws: Any, service: str) -> None:
        try:
            self._result.append((aws.client(service), None))
        except BaseException as err:  # noqa: BLE001 - handed to get()
            self._result.append((None, err))

    def get(self) -> Any:
        self._thread.join()
        client, error = self._result[0]
        if error is not None:
            raise error
        return client


def _create(obj: Any, options: Any, *, wait: bool, wait_timeout: float, attribute_file: str | None = None) -> int:
    """Package, upload and (unless told not to) wait; the exit code."""
    from rich.console import Console

    from flowdrop.cli.api_client import ApiClient
    from flowdrop.cli.uploader import deploy, prepare_deployment
    from flowdrop.config import user_name

    config = obj.config
    config.require("bucket")
    api = ApiClient.from_config(config) if wait else None  # fail before uploading, not after
    console = Console(stderr=True, highlight=False)
    now = datetime.now(timezone.utc)
    s3 = _BackgroundClient(config.aws, "s3")  # boto3's import and S3 model load (~0.4 s) overlap the packaging
    prepared = prepare_deployment(obj.flow_cls, obj.flow_file, obj.graph, options, user_name(), now,
                                  configs=obj.configs)
    manifest = prepared.manifest
    console.print(f"Deploying {manifest.state_machine_name} to AWS Step Functions: {len(prepared.files)} files "
                  f"(flowdrop {manifest.sdk_version} included), code sha256 {manifest.code_sha256[:12]}...")
    result = deploy(prepared, s3.get(), str(config.bucket), api, console, wait_timeout)
    if not wait:
        click.echo(f"Uploaded {result.url}; not waiting for the deployer (--no-wait).")
        return 0
    from flowdrop.cli.deploy_outcome import deployment_outcome

    outcome = deployment_outcome(result.record, prepared, obj.graph, obj.flow_file.name, config.api_url, now,
                                 result.waited)
    for line in outcome.lines:
        click.echo(line)
    if outcome.error:
        click.secho(outcome.error, fg="red", err=True)
    elif attribute_file:
        from flowdrop.cli.metaflow_create import write_attribute_file

        write_attribute_file(attribute_file, manifest.flow_name, {**result.record,
                                                                  "state_machine_name": manifest.state_machine_name})
    return outcome.exit_code


def trigger_parameters(graph: Graph, given: Mapping[str, str]) -> dict[str, Any]:
    """The trigger body's parameters: the given CLI strings, converted and checked like `run` does."""
    from flowdrop.model.parameters import resolve_parameters

    clashing = [spec.name for spec in graph.parameters if spec.name.replace("-", "_") in _TRIGGER_OWN]
    if clashing:
        raise ParameterError([f"parameter {n!r} has the name of a trigger option; trigger it through the API "
                              "(POST /flows/<flow>/runs) instead" for n in clashing])
    # Deploy-time and required values are the deployed flow's business: only
    # what was given is checked here (the API checks again, against the
    # deployed manifest).
    specs = [spec for spec in graph.parameters if spec.name in given]
    values = resolve_parameters(specs, given, label=lambda name: f"--{name}")
    for spec in specs:
        if spec.include is not None and values[spec.name] is not None:
            from pathlib import Path

            from flowdrop.includefile import inline_reference, read_included

            # As Metaflow's trigger: the file is read here, on this machine, and travels with the run's input.
            values[spec.name] = inline_reference(read_included(spec, Path(str(values[spec.name]))))
    return {name: values[name] for name in given}


def run_lines(runs: list[Mapping[str, Any]]) -> list[str]:
    """One line per run: run id, status, start and stop times."""
    lines = []
    for run in runs:
        started = run.get("start_date") or run.get("started") or ""
        stopped = run.get("stop_date") or run.get("stopped") or ""
        line = f"{run.get('run_id', '?'):<48} {str(run.get('status', '?')):<10} started {started}"
        lines.append(line + (f", stopped {stopped}" if stopped else ""))
    return lines


# -- what create prints about the deployment record ----------------------------------------------
