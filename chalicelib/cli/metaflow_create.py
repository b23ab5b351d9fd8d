"""Metaflow's other `step-functions create` flags: accepted, carried out where flowdrop has the thing, said otherwise.

Owns: the click options a Metaflow user's deploy script passes that flowdrop's
own create (and terminate, delete: `--authorize`) does not define (`--use-distributed-map`, `--authorize`,
`--generate-new-token`, `--new-token`, `--namespace`, `--log-execution-history`,
`--compress-state-machine`, `--aws-batch-tag`, `--deployer-attribute-file`),
what each becomes, and the one line per flag flowdrop leaves out, printed on
stderr as the ignored decorators are (cli/lint.py). Does not own: the create
command (step_functions.py) or the deployment (uploader.py).

`--use-distributed-map` is carried out: every foreach runs in a Distributed
Map (without it flowdrop picks per run, inline up to a width and distributed
past it, so `--no-use-distributed-map` is that default). `--deployer-attribute-file`
is written after a deploy, as Metaflow's Deployer reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

_TOKEN = ("production runs are in namespace production:<state machine name>, and who may deploy is decided by "
          "the deployer's API token (or IAM), not a production token")
IGNORED: dict[str, str] = {
    "authorize": _TOKEN,
    "generate_new_token": _TOKEN,
    "new_token": _TOKEN,
    "namespace": "production runs are in namespace production:<state machine name>",
    "log_execution_history": "execution history is kept by Step Functions and read by flowdrop status and logs; "
                             "it is not sent to CloudWatch Logs",
    "compress_state_machine": "the definition is always uploaded inside the code package; the deployer checks its "
                              "size against Step Functions' limit and says so",
    "aws_batch_tags": "Batch jobs are not tagged; tag production runs with --tag",
}
FLAG_NAMES = {"authorize": "--authorize", "generate_new_token": "--generate-new-token", "new_token": "--new-token",
              "namespace": "--namespace", "log_execution_history": "--log-execution-history",
              "compress_state_machine": "--compress-state-machine", "aws_batch_tags": "--aws-batch-tag"}


def metaflow_create_options(func: Callable) -> Callable:
    """`func` with Metaflow's other create flags as click options (all default to 'not given')."""
    options = [
        click.option("--use-distributed-map/--no-use-distributed-map", "use_distributed_map", default=None,
                     help="Run every foreach in a Distributed Map (default: inline up to a width, distributed "
                          "past it, per run)."),
        click.option("--authorize", default=None, metavar="TOKEN", help="Metaflow's production token: not needed."),
        click.option("--generate-new-token", is_flag=True, default=None, help="Metaflow's: not needed."),
        click.option("--new-token", default=None, metavar="TOKEN", help="Metaflow's: not needed."),
        click.option("--namespace", default=None, help="Metaflow's: production runs are in production:<name>."),
        click.option("--log-execution-history", is_flag=True, default=None, help="Metaflow's: not carried out."),
        click.option("--compress-state-machine/--no-compress-state-machine", "compress_state_machine",
                     default=None, help="Metaflow's: not needed."),
        click.option("--aws-batch-tag", "aws_batch_tags", multiple=True, metavar="KEY=VALUE",
                     help="Metaflow's: not carried out."),
        click.option("--deployer-attribute-file", default=None, type=click.Path(dir_okay=False),
                     help="Write the deployment's name and ARNs here as JSON (Metaflow's Deployer reads it)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def authorize_option(func: Callable) -> Callable:
    """Metaflow's `--authorize TOKEN` on terminate and delete: accepted and said to be left out."""
    def say(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            say_ignored({"authorize": value})

    return click.option("--authorize", default=None, metavar="TOKEN", expose_value=False, callback=say,
                        help="Metaflow's production token: not needed.")(func)


def ignored_notes(given: Mapping[str, Any]) -> list[str]:
    """`--authorize: production runs are ...` for each given flag flowdrop leaves out."""
    return [f"{FLAG_NAMES[key]}: {reason}" for key, reason in IGNORED.items()
            if given.get(key) not in (None, (), False)]


def say_ignored(given: Mapping[str, Any]) -> None:
    """Print ignored_notes on stderr, one line each."""
    for note in ignored_notes(given):
        click.echo(f"flowdrop leaves out Metaflow's {note}", err=True)


def write_attribute_file(path: str | Path, flow_name: str, record: Mapping[str, Any]) -> None:
    """The deployment as Metaflow's Deployer reads it back: name, flow name and the state machine's ARNs."""
    data = {
        "name": record.get("state_machine_name"),
        "flow_name": flow_name,
        "state_machine_arn": record.get("state_machine_arn") or str(record.get("alias_arn") or "").rpartition(":")[0]
        or None,
        "version": record.get("version"),
        "version_arn": record.get("version_arn"),
        "alias_arn": record.get("alias_arn"),
        "metadata": "datastore",
    }
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
