"""`python flow.py step-functions resume --origin-run-id sfn-... [STEP]`: resume a production run in production.

Owns: the resume subcommand of the step-functions group and what it
prints. The deployer starts a new execution of the production version
that reuses the origin's successful tasks (deployer/resume.py); the local
`python flow.py resume --origin-run-id sfn-...` is the laptop's way.
Does not own: HTTP (api_client.py) or the deployment target (step_functions.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from flowdrop.cli.exits import messages_not_tracebacks


def add_resume_command(step_functions: click.Group, target_options: Callable[[Callable], Callable],
                       target: Callable[..., Any]) -> None:
    """Attach `resume` to the step-functions group; `target_options`/`target` name the state machine."""

    @step_functions.command(help="Resume a production run in production: a new run of the production version "
                                 "reuses the origin's successful tasks and reruns STEP and what follows (without "
                                 "STEP: what failed and what follows).")
    @click.argument("step", required=False)
    @click.option("--origin-run-id", required=True, help="The production run to resume (sfn-...).")
    @target_options
    @click.pass_context
    def resume(ctx: click.Context, step: str | None, origin_run_id: str, name: str | None, branch: str | None,
               production: bool) -> None:
        from flowdrop.cli.api_client import ApiClient
        from flowdrop.config import user_name

        with messages_not_tracebacks():
            deployment = target(ctx, name, branch, production)
            answer = ApiClient.from_config(ctx.obj.config).resume(deployment.state_machine_name, origin_run_id,
                                                                  step, user_name())
        where = f"from step {step}" if step else "from what failed"
        click.echo(f"Resuming {deployment.state_machine_name}/{origin_run_id} {where} on AWS Step Functions "
                   f"(run-id {answer.get('run_id')}).")
        if answer.get("status_url"):
            click.echo(f"Status: {answer['status_url']}")
