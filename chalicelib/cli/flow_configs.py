"""The flow CLI's configs and included files: fixing a run's Config values and reading its IncludeFiles.

Owns: Metaflow's top-level `--config NAME PATH` and `--config-value NAME
JSON` (and their environment forms), choosing where a command's config
values come from (a package's frozen ones, those the local scheduler hands
its task subprocesses, else computed now), the graph resolved over them, and
at run start reading each IncludeFile into the run's datastore. Does not own:
how values are computed (user_configs.py) or evaluated into decorators
(graph/configs.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click

from flowdrop.errors import FlowConfigError

FROZEN_OPTION = "--config-values-json"  # hidden: the run's values, from the scheduler to a task subprocess


def config_options() -> list[Callable]:
    """The top-level options that give configs, Metaflow's names."""
    return [
        click.option("--config", "config_files", type=(str, str), multiple=True, metavar="NAME PATH",
                     help="Read config NAME from the file at PATH (repeatable)."),
        click.option("--config-value", "config_texts", type=(str, str), multiple=True, metavar="NAME JSON",
                     help="Give config NAME's value as text, e.g. JSON (repeatable)."),
        click.option(FROZEN_OPTION, "config_frozen", default=None, hidden=True,
                     help="Every config's value, already fixed, as one JSON object."),
    ]


def apply_configs(obj: Any, files: tuple[tuple[str, str], ...], texts: tuple[tuple[str, str], ...],
                  frozen: str | None, command: str | None = None) -> None:
    """Fix obj.configs (values by name) and resolve obj.graph over them; FlowConfigError names every problem.

    For `resume` the values are the origin run's, as in Metaflow: they are set once the origin is known
    (apply_origin_configs), and --config there is a usage error.
    """
    from flowdrop.graph.configs import resolve_configs
    from flowdrop.runtime.entry import load_package_context

    graph = obj.source_graph = obj.graph
    if command == "resume" and graph.configs:
        if files or texts:
            raise click.UsageError("resume takes the origin run's config values: --config and --config-value "
                                   "cannot be given with resume")
        return
    if frozen is not None:
        try:
            values = json.loads(frozen)
        except json.JSONDecodeError as err:
            raise FlowConfigError([f"{FROZEN_OPTION}: not a JSON object: {err.msg}"]) from err
    elif not graph.configs:
        if files or texts:
            names = sorted({name for name, _ in (*files, *texts)})
            raise FlowConfigError([f"--config {', '.join(names)}: flow {graph.flow_name!r} declares no Config"])
        values = {}
    else:
        # In a deployed package, the values frozen at `step-functions create`; else fixed now.
        packaged = None if files or texts else load_package_context(obj.flow_file).configs
        values = packaged if packaged is not None else compute_now(obj, dict(files), dict(texts))
    obj.configs = values
    obj.graph = resolve_configs(graph, values)


def apply_origin_configs(obj: Any, origin: Any, origin_run_id: str) -> None:
    """`resume`: the config values of the run resumed (its start task's artifacts), resolved into obj.graph."""
    from flowdrop.graph.configs import resolve_configs
    from flowdrop.user_configs import ConfigValue

    graph = obj.source_graph
    if not graph.configs:
        return
    done = origin.read_done(origin_run_id, "start", "start")
    if done is None:  # the origin never finished its start: no values were stored, so fix them now
        values = compute_now(obj, {}, {})
    else:
        artifacts = done.get("artifacts") or {}
        values = {}
        for spec in graph.configs:
            value = origin.load_artifact(artifacts[spec.attribute]) if spec.attribute in artifacts else None
            values[spec.name] = value.to_dict() if isinstance(value, ConfigValue) else value
    obj.configs = values
    obj.graph = resolve_configs(graph, values)


def compute_now(obj: Any, files: Mapping[str, str], texts: Mapping[str, str]) -> dict[str, Any]:
    """The config values from the command line, the environment and the defaults (the user's code runs here)."""
    from flowdrop.config import user_name
    from flowdrop.parameters import DeployTimeContext
    from flowdrop.user_configs import compute_config_values, config_requests

    paths, given = config_requests(files, texts)
    context = DeployTimeContext(flow_name=obj.graph.flow_name, user_name=user_name(), parameter_name="")
    return compute_config_values(obj.flow_cls, obj.graph, paths, given, context)


def frozen_values(obj: Any) -> str | None:
    """The run's config values as the hidden option carries them to task subprocesses (None without configs)."""
    configs = getattr(obj, "configs", None)
    return json.dumps(configs, sort_keys=True) if configs else None


def store_included_files(obj: Any, values: dict[str, Any]) -> None:
    """Read each IncludeFile's file now (run start) into the run's datastore; its value becomes the reference."""
    from flowdrop.includefile import read_included, reference_of, stored_reference

    datastore = None
    for spec in obj.graph.parameters:
        if spec.include is None:
            continue
        path = values.get(spec.name, spec.default if spec.has_default else None)
        if path is None or reference_of(path) is not None:
            continue
        content = read_included(spec, Path(str(path)))
        datastore = datastore or obj.datastore()
        values[spec.name] = stored_reference(datastore.save_artifacts({"_included": content})["_included"])
