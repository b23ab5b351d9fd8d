"""`flowdrop ...`: the operator's command line, against any deployer (embedded or on AWS).

Owns: `up` (the embedded stack, local/stack.py), `demo` (demo.py) and
the operator commands, which read the client config once and call the
deployer's HTTPS API (api_client.py) or the client API for task logs:
`flows`, `runs FLOW`, `status RUN`, `logs RUN [STEP]`, `trigger FLOW
--param k=v`, `cancel RUN`, `rollback FLOW --to VERSION`, `schedule fire FLOW`,
`backfill FLOW --from T --to T`, `event publish NAME --payload k=v`. Errors are
messages and a non-zero exit code, never tracebacks.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from flowdrop.cli.exits import fail, messages_not_tracebacks
from flowdrop.config import ClientConfig, default_config_path, load_config
from flowdrop.errors import FlowdropError, ParameterError
from flowdrop.exception import MetaflowNotFound
from flowdrop.model.runs import RUN_STATUSES

STATUS_STYLE = {"SUCCEEDED": "green", "RUNNING": "yellow", "FAILED": "red", "TIMED_OUT": "red", "ABORTED": "red"}


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _api(config: ClientConfig) -> Any:
    from flowdrop.cli.api_client import ApiClient

    return ApiClient.from_config(config)


def split_run(run: str, flow: str | None) -> tuple[str, str]:
    """(flow, run id) of `FLOW/sfn-...`, or of `sfn-...` with --flow."""
    if "/" in run:
        named, _, run_id = run.partition("/")
        if flow and flow != named:
            raise FlowdropError(f"run {run!r} names flow {named!r} but --flow says {flow!r}")
        flow = named
    else:
        run_id = run
    if not flow or not run_id:
        raise FlowdropError(f"which flow is run {run!r} of? Write FLOW/{run_id or 'sfn-...'} or add --flow FLOW")
    return flow, run_id


@click.group(help="flowdrop: flows in production on AWS Step Functions with an S3 upload.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    ctx.ensure_object(dict)


def _config(ctx: click.Context) -> ClientConfig:
    """The client config, read once per command."""
    if "config" not in ctx.obj:
        with messages_not_tracebacks():
            ctx.obj["config"] = load_config()
    return ctx.obj["config"]


# -- the embedded stack --------------------------------------------------------------------------


def _up_config_path(state_dir: Path, state_dir_given: bool) -> tuple[Path, bool]:
    """Where `up` writes the client config, and whether the user must export FLOWDROP_CONFIG to find it."""
    if os.environ.get("FLOWDROP_CONFIG"):
        return Path(os.environ["FLOWDROP_CONFIG"]), False
    default = default_config_path()
    if not state_dir_given:
        try:
            existing = json.loads(default.read_text()) if default.is_file() else {}
        except (OSError, json.JSONDecodeError):
            existing = {}
        # Never overwrite a config that points at a real deployment on AWS.
        if not (isinstance(existing, dict) and existing.get("api_url") and not existing.get("aws_endpoint")):
            return default, False
    return state_dir / "config.json", True


@cli.command(help="Start the embedded stack on 127.0.0.1 (moto as AWS, the deployer, a clock and workers).")
@click.option("--port", type=int, default=None, help="Port of the deployer's API (default: a free one).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Logs, extracted packages and config (default: ~/.flowdrop/embedded).")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Tasks run at once.")
@click.option("--heartbeat-seconds", type=click.IntRange(2, 3600), default=300, show_default=True,
              help="A task whose worker stops heartbeating fails after this long (and is retried per @retry); "
                   "it also bounds a task's wait in the queue.")
def up(port: int | None, state_dir: Path | None, workers: int, heartbeat_seconds: int) -> None:
    from flowdrop.local.stack import EmbeddedStack, StackOptions

    given = state_dir is not None
    state_dir = (state_dir or Path.home() / ".flowdrop" / "embedded").expanduser().resolve()
    config_path, needs_export = _up_config_path(state_dir, given)
    console = _console()
    stack = EmbeddedStack(StackOptions(state_dir=state_dir, port=port, config_path=config_path, max_tasks=workers,
                                       heartbeat_seconds=heartbeat_seconds))
    with messages_not_tracebacks():
        with console.status("Starting the embedded stack..."):
            stack.start()
    # SIGTERM (a service manager, `kill`) stops as cleanly as Ctrl-C: moto must not outlive us.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        _print_stack(console, stack, needs_export)
        while not stack.failed.wait(1):
            pass
    except KeyboardInterrupt:
        console.print("Stopping...")
    finally:
        stack.stop()
    if stack.failure:
        console.print(f"[red]Stopped[/red]: {stack.failure}")
        raise SystemExit(1)
    console.print("[green]Stopped[/green]: workers, clock, event source, API and moto.")


def _print_stack(console: Any, stack: Any, needs_export: bool) -> None:
    info = stack.describe()
    console.print(f"[bold green]flowdrop embedded stack up[/bold green] in {stack.started_in:.1f}s (Ctrl-C stops it)")
    rows = [("API (Chalice routes)", info["api_url"]), ("AWS endpoint (moto)", info["aws_endpoint"]),
            ("packages bucket", f"s3://{info['bucket']}/packages/ -> {info['deploy_queue']}"),
            ("deploy dead letters", info["dead_letter_queue"]), ("worker queue", info["task_queue"]),
            ("workers", str(info["workers"])), ("schedule clock", "EventBridge Scheduler schedules and rules flowdrop-*"),
            ("client config", info["config"]), ("logs", info["logs"])]
    if info["api_url"]:  # the page asks for the token once per browser tab
        rows.insert(1, ("operator page", f"{info['api_url']}/  (token: {stack.api_token})"))
    for label, value in rows:
        console.print(f"  {label:<22} {value}", soft_wrap=True)
    if needs_export:
        console.print(f"\nUse it from another shell:\n  export FLOWDROP_CONFIG={info['config']}")
    console.print("\nThen: python flow.py step-functions create; python flow.py step-functions trigger; flowdrop flows")


@cli.command(help="Start the embedded stack and walk through the seed's story; exit 0 if it all worked.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo's stack keeps logs (default: a fresh temporary folder).")
def demo(state_dir: Path | None) -> None:
    from flowdrop.cli.demo import run_demo

    raise SystemExit(run_demo(state_dir, _console()))


# -- operator commands ---------------------------------------------------------------------------


@cli.command(help="List the flows in production; with FLOW, that flow's production version and triggers.")
@click.argument("flow", required=False)
@click.pass_context
def flows(ctx: click.Context, flow: str | None) -> None:
    if flow is not None:
        _show_flow(ctx, flow)
        return
    with messages_not_tracebacks():
        answer = _api(_config(ctx)).list_flows().get("flows") or []
    if not answer:
        click.echo("No flows deployed.")
    for flow in answer:
        alerts = flow.get("alerts") or {}
        notify = "".join(f" {kind.replace('on_', 'alerts-on-')}:{len(alerts[kind])}"
                         for kind in ("on_error", "on_success") if alerts.get(kind))
        click.echo(f"{flow.get('flow', '?'):<40} version {flow.get('version', '?'):<4} schedule {_schedule_text(flow):<22} "
                   f"deployed {flow.get('deployed_at') or '?'} by {flow.get('user') or '?'}{notify}")


def _show_flow(ctx: click.Context, flow: str) -> None:
    """One flow: its production version, then every rule and schedule that starts it (trigger_views.py)."""
    from flowdrop.deployer.trigger_views import trigger_lines

    with messages_not_tracebacks():
        answer = _api(_config(ctx)).get_flow(flow)
    production = answer.get("production") or {}
    click.echo(f"{answer.get('flow', flow)}: production version {answer.get('production_version', '?')} of "
               f"{len(answer.get('versions') or [])}, deployed {production.get('deployed_at') or '?'} by "
               f"{production.get('user') or '?'}")
    for line in trigger_lines(str(answer.get("flow", flow)), list(answer.get("trigger_rules") or [])):
        click.echo(line)


def _schedule_text(flow: Mapping[str, Any]) -> str:
    """`0 9 * * ? * Europe/Berlin overlap=queue`, `-` when unscheduled; UTC and the default policy unsaid."""
    if not flow.get("schedule"):
        return "-"
    parts = [str(flow["schedule"])]
    if flow.get("timezone") and flow["timezone"] != "UTC":
        parts.append(str(flow["timezone"]))
    if flow.get("overlap") and flow["overlap"] != "skip":
        parts.append(f"overlap={flow['overlap']}")
    return " ".join(parts)


@cli.command(help="List a flow's production runs, newest first (the newest 100 unless --all).")
@click.argument("flow")
@click.option("--status", type=click.Choice(RUN_STATUSES,
                                            case_sensitive=False), default=None)
@click.option("--all", "every", is_flag=True, help="Every run, page after page.")
@click.pass_context
def runs(ctx: click.Context, flow: str, status: str | None, every: bool) -> None:
    from flowdrop.cli.step_functions import run_lines

    with messages_not_tracebacks():
        api, wanted = _api(_config(ctx)), status.upper() if status else None
        page = {} if every else api.list_runs(flow, wanted)
        answer = list(api.iter_runs(flow, wanted)) if every else page.get("runs") or []
        if page.get("next_token"):
            click.echo(f"(the newest {len(answer)}; --all lists every run)", err=True)
    if not answer:
        click.echo(f"No {status.lower() + ' ' if status else ''}runs of {flow}.")
    for line in run_lines(answer):
        click.echo(line)


@cli.command(help="A run's status and each step's state: RUN is FLOW/sfn-... (or sfn-... with --flow).")
@click.argument("run")
@click.option("--flow", default=None, help="The flow, when RUN is a bare run id.")
@click.pass_context
def status(ctx: click.Context, run: str, flow: str | None) -> None:
    with messages_not_tracebacks():
        flow, run_id = split_run(run, flow)
        answer = _api(_config(ctx)).get_run(flow, run_id)
    console = _console()
    state = str(answer.get("status"))
    console.print(f"{flow}/{answer.get('run_id', run_id)}  [{STATUS_STYLE.get(state, 'white')}]{state}[/]  "
                  f"started {answer.get('start_date') or '?'}"
                  + (f", stopped {answer['stop_date']}" if answer.get("stop_date") else ""))
    for step, step_state in (answer.get("steps") or {}).items():
        console.print(f"  {step:<24} [{STATUS_STYLE.get(step_state, 'white')}]{step_state}[/]")
    if answer.get("partial"):
        reasons = "; ".join(str(r) for r in answer.get("partial_reasons") or []) or "not every foreach item was read"
        console.print(f"  (steps inside distributed foreach maps are partly inferred: {reasons})", markup=False)
    for key in ("error", "cause"):
        if answer.get(key):
            console.print(f"  {key}: {str(answer[key])[:2000]}", markup=False)


@cli.command(help="Task stdout and stderr of a production run, from its datastore (all steps, or STEP). "
                  "RUN may also be a pathspec FLOW/RUN/STEP[/TASK], as Metaflow's logs takes.")
@click.argument("run")
@click.argument("step", required=False)
@click.option("--flow", default=None, help="The flow, when RUN is a bare run id.")
@click.option("--batch", "from_batch", is_flag=True,
              help="The Batch jobs' CloudWatch log streams instead: everything each container printed, "
                   "including a bootstrap that failed before the task could save its logs.")
@click.pass_context
def logs(ctx: click.Context, run: str, step: str | None, flow: str | None, from_batch: bool) -> None:
    from flowdrop.cli.operations import task_logs

    with messages_not_tracebacks():
        run, step, task = _split_task_pathspec(run, step, flow)
        flow, run_id = split_run(run, flow)
        if from_batch:
            from flowdrop.cli.batch_logs import report

            click.echo("\n".join(report(_config(ctx), flow, run_id, step, task)))
            return
        try:
            found = task_logs(_config(ctx), flow, run_id, step)
        except MetaflowNotFound as err:  # its tasks saved nothing (a container that failed at start, say)
            raise FlowdropError(f"{err} (what its Batch jobs printed: flowdrop logs {flow}/{run_id} --batch)") from err
        if task is not None:
            found = [entry for entry in found if entry[0].rsplit("/", 1)[-1] == task]
    if not found:
        where = f"{flow}/{run_id}" + (f"/{step}" if step else "") + (f"/{task}" if task else "")
        click.echo(f"No {'such task' if task else 'tasks'} of {where} in the datastore yet "
                   f"(what its Batch jobs printed: flowdrop logs {where} --batch).")
    for pathspec, stdout, stderr in found:
        click.secho(f"== {pathspec}", bold=True)
        for name, text in (("stdout", stdout), ("stderr", stderr)):
            if text:
                click.echo(f"-- {name}")
                click.echo(text.rstrip("\n"))


def _split_task_pathspec(run: str, step: str | None, flow: str | None) -> tuple[str, str | None, str | None]:
    """(run, step, task) of `FLOW/RUN/STEP[/TASK]` (or `RUN/STEP[/TASK]` with --flow); RUN and STEP as given."""
    parts = run.split("/")
    first = 1 if flow else 2  # how many components name the run
    if len(parts) <= first:
        return run, step, None
    if len(parts) > first + 2 or not all(parts):
        raise FlowdropError(f"{run!r} is not a pathspec: write FLOW/RUN, FLOW/RUN/STEP or FLOW/RUN/STEP/TASK")
    named_step = parts[first]
    if step is not None and step != named_step:
        raise FlowdropError(f"{run!r} names step {named_step!r} but STEP says {step!r}")
    return "/".join(parts[:first]), named_step, parts[first + 1] if len(parts) > first + 1 else None


def _parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", param_hint="--param")
        given[name] = value
    return given


def typed_parameters(declared: list[Mapping[str, Any]], given: Mapping[str, str]) -> dict[str, Any]:
    """The given strings converted to the deployed parameters' types.

    A value that does not convert, or an unknown name, is sent as given: the
    API checks the whole request and lists every problem at once.
    """
    from flowdrop.model.parameters import ParameterSpec, resolve_parameters

    types = {p["name"]: p.get("type") or "str" for p in declared if isinstance(p, Mapping) and p.get("name")}
    values: dict[str, Any] = {}
    for name, raw in given.items():
        values[name] = raw
        if name in types:
            try:
                spec = ParameterSpec(name=name, attribute=name, type=types[name])
                values[name] = resolve_parameters([spec], {name: raw})[name]
            except ParameterError:
                pass
    return values


@cli.command(help="Start a production run: flowdrop trigger FLOW --param alpha=0.5 ...")
@click.argument("flow")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A flow parameter (repeatable).")
@click.option("--idempotency-key", default=None, help="The same key starts at most one run.")
@click.pass_context
def trigger(ctx: click.Context, flow: str, params: tuple[str, ...], idempotency_key: str | None) -> None:
    given = _parse_params(params)
    with messages_not_tracebacks():
        api = _api(_config(ctx))
        declared = api.get_flow(flow).get("parameters") or [] if given else []
        answer = api.trigger(flow, typed_parameters(declared, given), idempotency_key)
    click.echo(f"Started {flow}/{answer.get('run_id')}" + ("" if answer.get("started", True) else
                                                          " (already started with this idempotency key)"))
    click.echo(f"Follow it: flowdrop status {flow}/{answer.get('run_id')}")


@cli.command(help="Stop a running production run: RUN is FLOW/sfn-... (or sfn-... with --flow); it ends ABORTED.")
@click.argument("run")
@click.option("--flow", default=None, help="The flow, when RUN is a bare run id.")
@click.option("--reason", default=None, help="Why, kept with the run (its cause).")
@click.pass_context
def cancel(ctx: click.Context, run: str, flow: str | None, reason: str | None) -> None:
    from flowdrop.config import user_name

    with messages_not_tracebacks():
        flow, run_id = split_run(run, flow)
        answer = _api(_config(ctx)).cancel(flow, run_id, reason, user_name())
    click.echo(f"Cancelled {flow}/{answer.get('run_id', run_id)}: it ends {answer.get('status')} "
               f"({answer.get('cause')}).")


@cli.group(help="Events that start @trigger flows.")
def event() -> None:
    pass


@event.command(name="publish", help="Publish an event: flowdrop event publish NAME --payload alpha=0.5 ...")
@click.argument("name")
@click.option("--payload", "fields", multiple=True, metavar="FIELD=VALUE",
              help="A payload field (repeatable); values are strings, as Metaflow's events carry them.")
@click.option("--id", "event_id", default=None, help="The event's id (default: a fresh one); one id starts one run.")
@click.pass_context
def publish_event(ctx: click.Context, name: str, fields: tuple[str, ...], event_id: str | None) -> None:
    try:
        payload: dict[str, Any] = _parse_params(fields)
    except click.BadParameter as err:
        raise click.BadParameter(err.message, param_hint="--payload") from None
    if event_id:
        payload["id"] = event_id
    with messages_not_tracebacks():
        answer = _api(_config(ctx)).publish_event(name, payload)
    click.echo(f"Published event {answer.get('name')} (id {answer.get('id')}) on bus {answer.get('bus')}")


@cli.command(help="Point a flow's production alias back at an earlier version.")
@click.argument("flow")
@click.option("--to", "version", type=click.IntRange(1), required=True, help="The version to make production.")
@click.pass_context
def rollback(ctx: click.Context, flow: str, version: int) -> None:
    with messages_not_tracebacks():
        answer = _api(_config(ctx)).rollback(flow, version)
    click.echo(answer.get("message") or f"{flow}: production is version {answer.get('version', version)}")


@cli.group(help="Schedules of deployed flows.")
def schedule() -> None:
    pass


_TICK_OUTCOMES = {"started": "started", "existing": "already started for this tick",
                  "skipped": "skipped: {blocked_by} is still running (overlap skip)",
                  "queued": "queued until {blocked_by} ends (overlap queue)"}


@schedule.command(name="fire", help="Fire a flow's schedule rule now: one scheduled run for this minute.")
@click.argument("flow")
@click.pass_context
def schedule_fire(ctx: click.Context, flow: str) -> None:
    from flowdrop.cli.operations import fire_schedule

    with messages_not_tracebacks():
        firings = fire_schedule(_config(ctx), flow)
    for firing in firings:
        if firing.get("error"):
            fail(f"{flow}: the scheduled handler failed: {firing['error']}")
        result = firing.get("result") or {}
        how = _TICK_OUTCOMES.get(result.get("outcome") or ("started" if result.get("started", True) else "existing"),
                                 "{outcome}").format(**{"blocked_by": "?", "outcome": "?", **result})
        click.echo(f"Fired {firing.get('rule')} for {firing.get('time')}: {flow}/{result.get('run_id')} ({how})")


@cli.command(name="backfill", help="Start one run per missed schedule tick from --from to --to (both included).")
@click.argument("flow")
@click.option("--from", "start", required=True, metavar="TIME", help="First tick (ISO 8601, e.g. 2026-11-25T09:00Z).")
@click.option("--to", "end", required=True, metavar="TIME", help="Last tick, included (not in the future).")
@click.pass_context
def backfill(ctx: click.Context, flow: str, start: str, end: str) -> None:
    with messages_not_tracebacks():
        answer = _api(_config(ctx)).backfill(flow, start, end)
    ticks, started = answer.get("ticks") or [], answer.get("started") or []
    click.echo(f"{flow}: {len(ticks)} tick(s) from {answer.get('from')} to {answer.get('to')}; "
               f"{len(started)} run(s) started, {len(answer.get('existing') or [])} already had one")
    for run_id in started:
        click.echo(f"  started {flow}/{run_id}")


@cli.group(help="The deployer installed on AWS (see the README: Installing the deployer on AWS).")
def aws() -> None:
    pass


@aws.command(name="config", help="Write the client config of the deployer stack STACK from its outputs.")
@click.option("--stack", required=True, help="The CloudFormation stack (e.g. flowdrop-dev).")
@click.option("--region", default=None, help="Its region (default: AWS_REGION, else us-east-1).")
@click.option("--api-token", envvar="FLOWDROP_API_TOKEN", default=None,
              help="The dev stage's API token (default: $FLOWDROP_API_TOKEN; the prod stage signs requests).")
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write it (default: $FLOWDROP_CONFIG, else ~/.flowdrop/config.json).")
def aws_config(stack: str, region: str | None, api_token: str | None, output: Path | None) -> None:
    from flowdrop.aws import AwsConfig
    from flowdrop.cli.aws_install import config_from_outputs, stack_outputs
    from flowdrop.config import write_config

    aws_config_ = AwsConfig.from_env()
    if region:
        aws_config_ = AwsConfig(region=region, endpoint_url=aws_config_.endpoint_url)
    with messages_not_tracebacks():
        outputs = stack_outputs(aws_config_.client("cloudformation"), stack)
        config = config_from_outputs(stack, outputs, aws_config_.region, api_token)
    path = output or default_config_path()
    write_config(path, config)
    click.echo(f"Wrote {path}: API {config.api_url}, bucket {config.bucket}, "
               f"production datastore {config.production_datastore}")


def main() -> None:
    """The `flowdrop` console script."""
    cli(prog_name="flowdrop")


if __name__ == "__main__":
    main()
