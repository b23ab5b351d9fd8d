"""An untrusted package -> a validated deployment candidate (pure: bytes in, data out).

Owns: every check a dropped package must pass before anything live changes:
the key names the state machine and the code hash, the tarball is safe
(package.read_package), the manifest is well formed and agrees with the key,
the files and the source, and its `created` is not from the future; the
flow graph is re-read from the source inside the package with
graph.parse_flow (user code is never imported or run), the schedule is a
valid EventBridge expression, and the flow compiles within Step Functions'
limits. Does not own: fetching the package, AWS calls, or
recording the outcome (deploy.py).

Failures raise FlowdropError subclasses whose messages name the file, line
and step (FlowError), the package entry or manifest field (PackageError),
the expression (DecoratorError) or the state (CompileError).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from flowdrop.codepackage.archive import CODE_PREFIX, read_package
from flowdrop.codepackage.manifest import Manifest
from flowdrop.codepackage.snapshot import code_sha256
from flowdrop.compiler import CompileOptions, compile_flow, definition_json
from flowdrop.deployer.settings import DeployerSettings
from flowdrop.errors import DecoratorError, FlowError, PackageError
from flowdrop.graph import parse_flow
from flowdrop.graph.configs import resolve_configs
from flowdrop.model import names
from flowdrop.model.decorators import Decorator, parse_with_spec
from flowdrop.model.graph import FOREACH, Graph
from flowdrop.model.schedule import DEFAULT_OVERLAP, Schedule, schedule_from_attributes
from flowdrop.model.triggers import FlowTriggers, flow_triggers, split_deployed_name, unmapped_parameters

# Fields that do not change what runs: the path the uploader parsed from and docstrings.
_IGNORED_GRAPH_FIELDS = ("file", "doc")


@dataclass(frozen=True)
class Candidate:
    """A package that passed every check: what to publish and what to record."""

    bucket: str
    key: str
    manifest: Manifest
    graph: Graph
    schedule: Schedule | None
    definition: str  # the ASL as uploaded (compiler.definition_json)
    backend: str
    fingerprint: str  # same code and same options -> same fingerprint (DUPLICATE)
    notes: tuple[str, ...] = ()
    triggers: FlowTriggers = FlowTriggers()  # @trigger / @trigger_on_finish

    @property
    def flow(self) -> str:
        """The state machine name."""
        return self.manifest.state_machine_name

    @property
    def code_package(self) -> str:
        """The package's S3 URL, handed to every task."""
        return f"s3://{self.bucket}/{self.key}"


# How far a manifest's `created` may be ahead of the time S3 received the
# package: clocks drift a little, a manifest from the future is a broken
# clock (or a forgery) and would confuse whoever reads the records.
MAX_CLOCK_SKEW = timedelta(minutes=10)


def check_package(bucket: str, key: str, data: bytes, settings: DeployerSettings, *,
                  uploaded: datetime) -> Candidate:
    """Validate a dropped package that reached S3 at `uploaded`; raises a FlowdropError naming what is wrong."""
    machine, sha = names.parse_package_key(settings.package_prefix, key)
    package = read_package(data, settings.package_limits)
    manifest = Manifest.from_dict(package.manifest)
    _check_identity(manifest, package.files, machine, sha)
    _check_created(manifest, uploaded)
    return check_candidate(bucket, key, manifest, _flow_source(manifest, package.files), settings)


def check_candidate(bucket: str, key: str, manifest: Manifest, source: str, settings: DeployerSettings) -> Candidate:
    """A manifest and its flow's source -> the candidate the deployer would publish (what `create --plan` previews:
    same parse, same compile, same fingerprint); raises a FlowdropError naming what is wrong."""
    machine = manifest.state_machine_name
    try:
        graph = parse_flow(source, manifest.flow_file, manifest.flow_class)
    except (RecursionError, MemoryError, ValueError) as err:
        # graph.parse_flow turns these into FlowErrors; this keeps any it
        # misses from escaping as a retried "AWS" failure with no record.
        raise FlowError([f"{manifest.flow_file}:1: cannot read the flow: {type(err).__name__}: {err}; "
                         "simplify the file (deeply nested expressions, huge literals)."]) from err
    # Decorator arguments over the flow's Configs, with the values frozen in the manifest (no user code runs).
    graph = resolve_configs(graph, manifest.configs)
    schedule = flow_schedule(graph)  # the source's own faults first, then the manifest's disagreements
    differences = graph_differences(manifest.graph, graph)
    if differences:
        raise PackageError("manifest.json: its graph disagrees with the flow's source (rebuild the package "
                           "with the uploader):\n" + "\n".join(differences))
    if manifest.schedule != (schedule.to_dict() if schedule else None):
        raise PackageError(f"manifest.json: schedule {manifest.schedule!r} disagrees with the source, which gives "
                           f"{schedule.to_dict() if schedule else None!r} ({_schedule_where(graph)})")
    backend, notes = _backend(manifest, settings)
    with_decorators = tuple(parse_with_spec(spec) for spec in manifest.options["with_decorators"])
    _check_with_catch(graph, with_decorators)
    options = CompileOptions(
        state_machine_name=machine,
        max_workers=manifest.options["max_workers"],
        workflow_timeout=manifest.options["workflow_timeout"],
        with_decorators=with_decorators,
        backend=replace(settings.backend, kind=backend),
        code_package=f"s3://{bucket}/{key}",
        datastore_root=settings.datastore_root,
        # --use-distributed-map: every foreach in a Distributed Map; else inline up to the limit.
        inline_foreach_limit=0 if manifest.options.get("distributed_map") else settings.inline_foreach_limit,
    )
    definition = definition_json(compile_flow(graph, options))
    triggers = triggers_of(graph, machine)
    return Candidate(bucket, key, manifest, graph, schedule, definition, backend,
                     fingerprint(definition, schedule, manifest, triggers), notes, triggers)


def fingerprint(definition: str, schedule: Schedule | None, manifest: Manifest,
                triggers: FlowTriggers = FlowTriggers()) -> str:
    """What makes two deployments the same: the definition (code package included), schedule, parameters, triggers."""
    parts = {"definition": definition, "schedule": schedule.to_dict() if schedule else None,
             "parameters": manifest.parameters, "deploy_time_values": manifest.deploy_time_values}
    if triggers:  # only when set, so fingerprints of flows without triggers stay the same
        parts["triggers"] = triggers.to_dict()
    overlap = manifest.options.get("schedule_overlap", DEFAULT_OVERLAP)
    if overlap != DEFAULT_OVERLAP:  # only when set, so fingerprints from before the option stay the same
        parts["overlap"] = overlap
    alerts = manifest.options.get("alerts")
    if alerts and any(alerts.values()):  # likewise: a deployment without alerts keeps its fingerprint
        parts["alerts"] = alerts
    if manifest.configs:  # Config values frozen at deploy time; none: the fingerprint from before configs
        parts["configs"] = manifest.configs
    body = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def flow_schedule(graph: Graph) -> Schedule | None:
    """The flow's @schedule (expression and time zone); DecoratorError names file and line."""
    deco = graph.flow_decorator("schedule")
    if deco is None:
        return None
    where = f"{graph.file}:{deco.lineno or graph.lineno}: flow '{graph.flow_name}'"
    try:
        schedule = schedule_from_attributes(deco.attributes)
    except DecoratorError as err:
        raise DecoratorError(f"{where}: {err}") from err
    return schedule


def triggers_of(graph: Graph, machine: str) -> FlowTriggers:
    """The flow's @trigger / @trigger_on_finish, upstream flows resolved for the branch `machine` deploys to."""
    trigger, on_finish = graph.flow_decorator("trigger"), graph.flow_decorator("trigger_on_finish")
    if trigger is None and on_finish is None:
        return FlowTriggers()
    project, branch = split_deployed_name(machine) if graph.flow_decorator("project") else (None, None)
    where = f"{graph.file}:{(trigger or on_finish).lineno or graph.lineno}: flow '{graph.flow_name}'"
    try:
        triggers = flow_triggers(trigger.attributes if trigger else None,
                                 on_finish.attributes if on_finish else None, project, branch)
    except DecoratorError as err:
        raise DecoratorError(f"{where}: {err}") from err
    problems = unmapped_parameters(triggers, [p.name for p in graph.parameters])
    if problems:
        raise DecoratorError(f"{where}: " + "; ".join(problems))
    return triggers


def _schedule_where(graph: Graph) -> str:
    deco = graph.flow_decorator("schedule")
    return f"{graph.file}:{deco.lineno}" if deco else f"{graph.file}: no @schedule"


def _check_identity(manifest: Manifest, files: Mapping[str, bytes], machine: str, sha: str) -> None:
    problems = []
    if manifest.state_machine_name != machine:
        problems.append(f"manifest.json: state_machine_name {manifest.state_machine_name!r} disagrees with the "
                        f"package key's folder {machine!r}")
    actual = code_sha256(files)
    if actual != sha:
        problems.append(f"package: the files hash to {actual}, but the key names {sha}; "
                        "the key must be packages/<state machine>/<code sha256>.tar.gz")
    if manifest.code_sha256 != actual:
        problems.append(f"manifest.json: code_sha256 {manifest.code_sha256} disagrees with the files, "
                        f"which hash to {actual}")
    if problems:
        raise PackageError("\n".join(problems))


def _check_created(manifest: Manifest, uploaded: datetime) -> None:
    created = datetime.fromisoformat(manifest.created)
    if created > uploaded + MAX_CLOCK_SKEW:
        ahead = created - uploaded
        raise PackageError(f"manifest.json: created {manifest.created} is {_duration(ahead)} after the package "
                           f"reached S3 ({uploaded.astimezone(timezone.utc).isoformat(timespec='seconds')}); the "
                           "uploading machine's clock is wrong. Set it right and upload again (packages are ordered "
                           "by when S3 received them, not by this time).")


def _duration(delta: timedelta) -> str:
    if delta.days >= 2:
        return f"{delta.days} days"
    hours, seconds = divmod(int(delta.total_seconds()), 3600)
    return f"{hours} h {seconds // 60} min" if hours else f"{seconds // 60} min"


def _check_with_catch(graph: Graph, with_decorators: tuple[Decorator, ...]) -> None:
    foreach_steps = [node.name for node in graph if node.type == FOREACH]
    for i, deco in enumerate(with_decorators):
        if deco.name == "catch" and foreach_steps:
            raise PackageError(f"manifest.json: options.with_decorators[{i}] adds @catch to every step, but "
                               f"@catch is not supported in foreach split steps ({', '.join(foreach_steps)} in "
                               f"{graph.file}); put @catch on the steps that need it instead.")


def _flow_source(manifest: Manifest, files: Mapping[str, bytes]) -> str:
    raw = files.get(manifest.flow_file)
    if raw is None:
        raise PackageError(f"manifest.json: flow_file {manifest.flow_file!r} is not in the package "
                           f"(entry {CODE_PREFIX + manifest.flow_file!r} missing)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PackageError(f"{manifest.flow_file}:1: not UTF-8 text ({err.reason} at byte {err.start})") from err


def _backend(manifest: Manifest, settings: DeployerSettings) -> tuple[str, tuple[str, ...]]:
    asked = manifest.options["backend"]
    if asked in settings.allowed_backends:
        return asked, ()
    used = settings.backend.kind
    return used, (f"backend {asked!r} is not available on this deployer; tasks run on {used!r}",)


# -- manifest graph vs source graph --------------------------------------------------------


def graph_differences(claimed: Mapping[str, Any], graph: Graph) -> list[str]:
    """Every way the manifest's graph differs from the one read from source, each naming file, line, step."""
    actual = json.loads(json.dumps(graph.to_dict()))  # tuples in decorator arguments are lists in manifest.json
    file = graph.file
    out = []
    for key in sorted(set(claimed) | set(actual)):
        if key in _IGNORED_GRAPH_FIELDS or key in ("nodes", "parameters", "flow_decorators"):
            continue
        if claimed.get(key) != actual.get(key):
            out.append(f"{file}:{graph.lineno}: flow '{graph.flow_name}': manifest.json says {key}="
                       f"{claimed.get(key)!r}, the source says {actual.get(key)!r}")
    out += _named_differences(claimed.get("nodes"), actual["nodes"], file, "step")
    out += _named_differences(claimed.get("parameters"), actual["parameters"], file, "parameter")
    out += _named_differences(claimed.get("flow_decorators"), actual["flow_decorators"], file, "flow decorator")
    return out


def _named_differences(claimed: Any, actual: list[dict[str, Any]], file: str, what: str) -> list[str]:
    if not isinstance(claimed, list) or not all(isinstance(c, dict) for c in claimed):
        return [f"{file}: manifest.json's {what}s are not a list of objects"]
    by_name = {str(item.get("name")): item for item in claimed}
    real = {item["name"]: item for item in actual}
    out = []
    for name, item in real.items():
        line = f"{file}:{item.get('lineno', 0)}: {what} '{name}'"
        if name not in by_name:
            out.append(f"{line}: missing from manifest.json")
            continue
        other = by_name[name]
        for key in sorted(set(item) | set(other)):
            if key in _IGNORED_GRAPH_FIELDS:
                continue
            if other.get(key) != item.get(key):
                out.append(f"{line}: manifest.json says {key}={other.get(key)!r}, the source says {item.get(key)!r}")
    for name in by_name:
        if name not in real:
            out.append(f"{file}: {what} '{name}': in manifest.json but not in the source")
    if not out and [c.get("name") for c in claimed] != list(real):
        out.append(f"{file}: the {what}s are in a different order in manifest.json than in the source")
    return out
