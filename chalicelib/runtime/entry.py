"""Running one task from a flow file, in this process: what `python flow.py step ...`
does, for launchers that fork instead of starting an interpreter (the
embedded stack's workers).

Owns: loading a flow file as `__main__` without starting its CLI, reading
the code package's manifest (deploy-time values, `--with` decorators, the
deployment's name), and calling the task runner.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdrop import flowspec
from flowdrop.errors import FlowdropError
from flowdrop.model.decorators import Decorator, parse_with_spec
from flowdrop.model.runs import is_production_run
from flowdrop.model.task import TaskPayload

if TYPE_CHECKING:
    from flowdrop.aws import AwsConfig


@dataclass(frozen=True)
class PackageContext:
    """What a code package's manifest tells a task; empty for a flow run from a plain folder."""

    deploy_values: dict[str, Any]
    with_specs: tuple[str, ...] = ()
    state_machine_name: str | None = None
    configs: dict[str, Any] | None = None  # the deployment's frozen Config values; None outside a package

    @property
    def with_decorators(self) -> tuple[Decorator, ...]:
        """The deployment's `--with` decorators."""
        return tuple(parse_with_spec(s) for s in self.with_specs)

    def tags_for(self, run_id: str) -> tuple[str, ...]:
        """Production runs carry their deployment's namespace tag, as in Metaflow."""
        if is_production_run(run_id) and self.state_machine_name:
            return (f"production:{self.state_machine_name}",)
        return ()


def load_package_context(flow_file: Path) -> PackageContext:
    """Read manifest.json beside the package's code/ folder, if the flow runs from a package."""
    for folder in (flow_file.parent, *flow_file.parents):
        manifest = folder / "manifest.json"
        if manifest.is_file():
            from flowdrop.codepackage.manifest import Manifest  # only tasks run from a package pay for it

            try:
                found = Manifest.from_dict(json.loads(manifest.read_text()))
            except (OSError, json.JSONDecodeError, FlowdropError) as err:
                raise FlowdropError(f"{manifest}: unreadable manifest: {err}") from err
            return PackageContext(dict(found.deploy_time_values), tuple(found.options.get("with_decorators") or ()),
                                  found.state_machine_name, dict(found.configs))
        if (folder / "code").is_dir() or folder == folder.parent:
            break
    return PackageContext({})


@contextmanager
def _cli_deferred() -> Iterator[None]:
    previous = flowspec.CLI_DEFERRED
    flowspec.CLI_DEFERRED = True
    try:
        yield
    finally:
        flowspec.CLI_DEFERRED = previous


def load_flow_module(flow_file: Path) -> types.ModuleType:
    """Execute a flow file as `__main__` (so pickled classes match `python flow.py`), CLI not started."""
    module = types.ModuleType("__main__")
    module.__file__ = str(flow_file)
    sys.modules["__main__"] = module
    folder = str(flow_file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    code = compile(flow_file.read_bytes(), str(flow_file), "exec")
    with _cli_deferred():
        exec(code, module.__dict__)  # noqa: S102 - the user's own flow, run as `python flow.py` would
    return module


def preload_task_modules() -> None:
    """Import what run_task_from_file needs, so a launcher that forks pays it once, not in every child."""
    import flowdrop.config  # noqa: F401
    import flowdrop.datastore  # noqa: F401
    import flowdrop.graph  # noqa: F401
    import flowdrop.graph.configs  # noqa: F401
    import flowdrop.runtime.task  # noqa: F401


def run_task_from_file(flow_file: Path, payload: TaskPayload, datastore_root: str | None = None,
                       s3_client_for: Callable[[AwsConfig], Any] | None = None) -> dict[str, Any]:
    """Run one task of the flow in `flow_file` in this process; returns its task_output.

    `s3_client_for(aws)`: a ready S3 client for the datastore, or None to make one (a forking launcher
    hands its children a client made before the fork: about 8 ms of CPU less per task).
    """
    from flowdrop.config import load_config
    from flowdrop.datastore import FlowDatastore, open_storage
    from flowdrop.graph import parse_flow_file
    from flowdrop.runtime.task import TaskSetup, run_task

    from flowdrop.graph.configs import resolve_configs

    config = load_config()
    graph = parse_flow_file(flow_file)
    module = load_flow_module(flow_file)
    flow_cls = getattr(module, graph.flow_name, None)
    if not isinstance(flow_cls, type) or not issubclass(flow_cls, flowspec.FlowSpec):
        raise FlowdropError(f"{flow_file}: no FlowSpec class {graph.flow_name!r} after running the file")
    context = load_package_context(flow_file)
    configs = context.configs or {}
    graph = resolve_configs(graph, configs)  # the values frozen at deploy time, as every task of the run sees them
    root = datastore_root or payload.datastore_root or config.datastore
    s3_client = s3_client_for(config.aws) if s3_client_for is not None and root.startswith("s3://") else None
    datastore = FlowDatastore(open_storage(root, config.aws, s3_client), graph.flow_name)
    setup = TaskSetup(flow_cls, graph, datastore, context.with_decorators, context.tags_for(payload.run_id),
                      context.deploy_values, deployment_name=context.state_machine_name, configs=configs)
    return run_task(setup, payload)
