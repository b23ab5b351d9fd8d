"""`python flow.py step-functions ...`: compile, deploy, trigger and inspect production.

Owns: the step-functions subcommands of the flow CLI. `create --only-json`
compiles locally and prints the state machine; everything else talks to the
deployer (upload to S3, the HTTPS API).
"""

from __future__ import annotations

from typing import Any

import click


def add_step_functions_commands(cli: click.Group) -> None:
    """Attach the `step-functions` group to a flow's CLI."""

    @cli.group(name="step-functions", help="Deploy the flow to AWS Step Functions and run it there.")
    def step_functions() -> None:
        pass

    @step_functions.command(help="Deploy the flow: package it, drop it in S3, wait for production.")
    @click.option("--only-json", is_flag=True, help="Print the state machine definition and stop; no AWS access.")
    @click.option("--max-workers", default=100, show_default=True, help="Concurrent tasks per foreach.")
    @click.option("--workflow-timeout", type=int, default=None, help="Whole-run timeout in seconds.")
    @click.option("--name", default=None, help="State machine name (default: the flow name).")
    @click.option("--backend", type=click.Choice(["batch", "lambda", "worker"]), default=None)
    @click.pass_obj
    def create(obj: Any, only_json: bool, max_workers: int, workflow_timeout: int | None, name: str | None,
               backend: str | None) -> None:
        from .compiler import BackendSettings, CompileOptions, compile_flow, definition_json

        if not only_json:
            raise click.UsageError("deploying needs the deployer; only --only-json is available so far")
        options = CompileOptions(
            state_machine_name=name or obj.graph.flow_name,
            max_workers=max_workers,
            workflow_timeout=workflow_timeout,
            with_decorators=obj.with_decorators,
            backend=BackendSettings(kind=backend or "batch"),
        )
        import json

        click.echo(json.dumps(json.loads(definition_json(compile_flow(obj.graph, options))), indent=2, sort_keys=True))
