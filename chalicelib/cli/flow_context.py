"""What every command of the flow CLI shares: the flow, its graph, the settings and the top-level options.

Owns: FlowContext, and reading Metaflow's top-level options into it:
`--datastore local|s3` with `--datastore-root` (or a folder or s3:// URL
given to --datastore, as before), and `--with` specs checked against the
known step decorators (a mistyped name is refused, naming the close ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from flowdrop.cli.exits import fail
from flowdrop.config import ClientConfig
from flowdrop.model.decorators import Decorator, parse_with_spec
from flowdrop.model.graph import Graph

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
        self.configs: dict[str, Any] = {}  # the command's Config values by name (cli/flow_configs.py)
        self.source_graph = graph  # the graph as read from source, before config values are put in

    def project_flow_name(self) -> str | None:
        """`<project>.<branch>.<Flow>` for a local run of a @project flow (--branch / --production), else None."""
        from flowdrop.config import user_name
        from flowdrop.decorators import project_info

        project = self.graph.flow_decorator("project")
        if project is None or not project.attributes.get("name"):
            return None
        return project_info(str(project.attributes["name"]), self.graph.flow_name, user_name(), self.branch,
                            self.production).project_flow_name

    def top_options(self) -> tuple[str, ...]:
        """The top-level options a task subprocess of a local run needs to see what the run's scheduler saw."""
        from flowdrop.cli.flow_configs import FROZEN_OPTION, frozen_values

        out: tuple[str, ...] = ()
        if (frozen := frozen_values(self)) is not None:
            out += (FROZEN_OPTION, frozen)
        if self.branch:
            out += ("--branch", self.branch)
        if self.production:
            out += ("--production",)
        return out

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


def resolve_datastore_root(config: ClientConfig, kind: str | None, root: str | None) -> str | None:
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


def with_decorators(graph: Graph, with_specs: Sequence[str]) -> tuple[Decorator, ...]:
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
