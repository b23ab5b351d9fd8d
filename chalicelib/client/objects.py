"""Flow and Run of the client API, and Metaflow(): Metaflow's names and semantics.

Owns: finding runs in the datastores read (reading.py), the namespace
guard, run tags (Metaflow's validation, system tags kept), and walking from
a flow to its steps. Does not own steps (step.py), tasks and artifacts
(task.py) or the storage layout (datastore/flow.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flowdrop.client.code import MetaflowCode, code_of
from flowdrop.client.reading import CLASSES, get_namespace, parse_time, rebuild, split_pathspec, storages, where
from flowdrop.client.step import Step
from flowdrop.client.task import Task, TaskData
from flowdrop.datastore import FlowDatastore
from flowdrop.errors import MissingChildError, MissingObjectError, NamespaceMismatchError, TaggingError
from flowdrop.model.tags import is_system_tag, tag_problems, tag_set_problems

END_STEP = "end"


def _as_list(tags: Any) -> list:
    """One tag or several (Metaflow's add_tag takes both); a non-iterable is one (invalid) tag."""
    if isinstance(tags, (str, bytes)) or not isinstance(tags, Iterable):
        return [tags]
    return list(tags)


class Metaflow:
    """Every flow with runs in the datastores read: Metaflow().flows, iteration, `in`, ['Name']."""

    @property
    def flows(self) -> list[Flow]:
        """Every flow, sorted by name."""
        return list(self)

    def _names(self) -> list[str]:
        names: set[str] = set()
        for storage in storages():
            names.update(n for n in storage.list_children("") if storage.list_children(f"{n}/runs"))
        return sorted(names)

    def __iter__(self) -> Iterator[Flow]:
        return (Flow(name) for name in self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __getitem__(self, name: str) -> Flow:
        return Flow(name)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow:
    """A flow: its runs, newest first, in the current namespace."""

    def __init__(self, pathspec: str, _namespace_check: bool = True):
        (name,) = split_pathspec("Flow", pathspec, 1)
        self._stores = [FlowDatastore(s, name) for s in storages()]
        if not any(ds.storage.list_children(f"{name}/runs") for ds in self._stores):
            raise MissingObjectError("Flow", name, where())
        self.id = self.pathspec = name

    def __repr__(self) -> str:
        return f"Flow('{self.pathspec}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Flow) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash(("Flow", self.pathspec))

    def __reduce__(self) -> tuple:
        return rebuild, ("flow", self.pathspec)

    @property
    def parent(self) -> None:
        """A flow has no parent."""
        return None

    @property
    def tags(self) -> frozenset[str]:
        """A flow has no tags (its runs do), as in Metaflow."""
        return frozenset()

    @property
    def path_components(self) -> list[str]:
        """[flow name]."""
        return [self.id]

    def _all_runs(self) -> Iterator[Run]:
        seen: dict[str, tuple[str, FlowDatastore, dict]] = {}
        for ds in self._stores:
            for run_id, meta in ds.read_runs():
                seen.setdefault(run_id, (str(meta.get("created") or ""), ds, meta))
        ordered = sorted(seen.items(), key=lambda item: (item[1][0], item[0]), reverse=True)
        for run_id, (_created, ds, meta) in ordered:
            yield Run._bind(ds, run_id, meta)

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace carrying every one of `tags`, newest first."""
        current = get_namespace()
        for run in self._all_runs():
            if (current is None or current in run.tags) and set(tags) <= run.tags:
                yield run

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        if run_id not in self:
            raise MissingChildError("Run", f"{self.id}/{run_id}", where())
        return Run(f"{self.id}/{run_id}")

    def __contains__(self, run_id: object) -> bool:
        return isinstance(run_id, str) and any(
            ds.read_run(run_id) is not None or ds.list_steps(run_id) for ds in self._stores)

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the current namespace, finished or not."""
        return next(self.runs(), None)

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest run in the current namespace whose end step succeeded."""
        return next((run for run in self.runs() if run.successful), None)


class Run:
    """One run of a flow: 'Flow/run_id'."""

    _ds: FlowDatastore
    _meta: dict

    def __init__(self, pathspec: str, _namespace_check: bool = True):
        flow_name, run_id = split_pathspec("Run", pathspec, 2)
        for storage in storages():
            ds = FlowDatastore(storage, flow_name)
            meta = ds.read_run(run_id)
            if meta is not None or ds.list_steps(run_id):
                self._setup(ds, run_id, meta or {})
                break
        else:
            raise MissingObjectError("Run", pathspec, where())
        current = get_namespace()
        if _namespace_check and current is not None and current not in self.tags:
            raise NamespaceMismatchError(pathspec, current, self.tags)

    @classmethod
    def _bind(cls, ds: FlowDatastore, run_id: str, meta: dict) -> Run:
        run = cls.__new__(cls)
        run._setup(ds, run_id, meta)
        return run

    def _setup(self, ds: FlowDatastore, run_id: str, meta: dict) -> None:
        self._ds, self._meta = ds, meta
        self.id = run_id
        self.pathspec = f"{ds.flow_name}/{run_id}"

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash(("Run", self.pathspec))

    def __reduce__(self) -> tuple:
        return rebuild, ("run", self.pathspec)

    @property
    def parent(self) -> Flow:
        """The run's Flow."""
        return Flow(self._ds.flow_name)

    @property
    def path_components(self) -> list[str]:
        """[flow name, run id]."""
        return self.pathspec.split("/")

    def is_in_namespace(self) -> bool:
        """True when the run is in the current namespace (always, in the global one)."""
        current = get_namespace()
        return current is None or current in self.tags

    # -- tags -------------------------------------------------------------------------

    @property
    def tags(self) -> frozenset[str]:
        """Every tag of the run: user tags and system tags (user:..., production:...)."""
        return frozenset(self._meta.get("tags") or ())

    @property
    def system_tags(self) -> frozenset[str]:
        """The tags flowdrop wrote: user:<name>, a deployment's production:<token>."""
        if "system_tags" in self._meta:
            return frozenset(self._meta["system_tags"])
        return frozenset(t for t in self.tags if is_system_tag(t))

    @property
    def user_tags(self) -> frozenset[str]:
        """The tags people gave (--tag, add_tag)."""
        if "user_tags" in self._meta:
            return frozenset(self._meta["user_tags"])
        return self.tags - self.system_tags

    def add_tag(self, tag: str | Iterable[str]) -> None:
        """Add a user tag (one equal to a system tag is not added, and no error is raised)."""
        self.replace_tags([], _as_list(tag))

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags."""
        self.replace_tags([], tags)

    def remove_tag(self, tag: str | Iterable[str]) -> None:
        """Remove a user tag; removing a system tag is an error, removing an absent one does nothing."""
        self.replace_tags(_as_list(tag), [])

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags."""
        self.replace_tags(tags, [])

    def replace_tag(self, tag_to_remove: str | Iterable[str], tag_to_add: str | Iterable[str]) -> None:
        """Remove a tag and add one in one change; removal first."""
        self.replace_tags(_as_list(tag_to_remove), _as_list(tag_to_add))

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove tags, then add tags, in one write of run.json; Metaflow's rules (TaggingError otherwise)."""
        if isinstance(tags_to_remove, (str, bytes)) or isinstance(tags_to_add, (str, bytes)):
            raise TaggingError("tags_to_add and tags_to_remove are lists of tags, not a string")
        remove, add = list(tags_to_remove or ()), list(tags_to_add or ())
        if not remove and not add:
            raise TaggingError("Must add or remove at least one tag")
        problems = [f"{tag!r}: {p}" for tag in (*add, *remove) for p in tag_problems(tag)]
        if problems:
            raise TaggingError(f"Run('{self.pathspec}'): " + "; ".join(problems))
        remove = [t.decode() if isinstance(t, bytes) else t for t in remove]
        add = [t.decode() if isinstance(t, bytes) else t for t in add]
        meta = self._ds.read_run(self.id) or dict(self._meta)
        self._meta = meta
        system, user = set(self.system_tags), set(self.user_tags)
        system_removed = sorted(set(remove) & system)
        if system_removed:
            raise TaggingError(f"Run('{self.pathspec}'): cannot remove system tag(s) {', '.join(system_removed)}")
        new_user = (user - set(remove)) | (set(add) - system)
        problems = tag_set_problems(new_user, existing=user)
        if problems:
            raise TaggingError(f"Run('{self.pathspec}'): " + "; ".join(problems))
        meta = {**meta, "system_tags": sorted(system), "user_tags": sorted(new_user), "tags": sorted(system | new_user)}
        self._ds.write_run(self.id, meta)
        self._meta = meta

    # -- what the run recorded ------------------------------------------------------

    @property
    def created_at(self) -> datetime | None:
        """When the run started."""
        return parse_time(self._meta.get("created"))

    @property
    def user(self) -> str | None:
        """Who started the run."""
        return self._meta.get("user")

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameter values."""
        return dict(self._meta.get("parameters") or {})

    @property
    def origin_run_id(self) -> str | None:
        """The run this one resumed, if any."""
        return self._meta.get("origin_run_id")

    @property
    def origin_pathspec(self) -> str | None:
        """'Flow/origin_run_id' when this run was resumed from another, else None."""
        return f"{self._ds.flow_name}/{self.origin_run_id}" if self.origin_run_id else None

    @property
    def status(self) -> dict | None:
        """status.json: written when a run ends locally; None otherwise."""
        return self._ds.read_run_status(self.id)

    @property
    def code(self) -> MetaflowCode | None:
        """The code package the run's tasks ran from (production runs); None for a local run, as in Metaflow."""
        found = code_of(self._meta.get("code_package"), f"Run('{self.pathspec}')")
        if found is not None:
            return found
        # A run.json written before its tasks (a production resume's) names none: ask its tasks, as Metaflow does.
        for step in self:
            task = step.task
            if task is not None and task.code is not None:
                return task.code
        return None

    @property
    def trigger(self) -> Any:
        """What started the run (flowdrop.events.Trigger, Metaflow's): @trigger events or upstream runs; else None."""
        meta = self._ds.read_trigger(self.id)
        if not meta:
            return None
        from flowdrop.events import Trigger

        return Trigger(meta, lambda pathspec: Run(pathspec, _namespace_check=False))

    @property
    def exit_hooks(self) -> dict | None:
        """What the run's @exit_hook functions did: {"successful", "finished", "hooks": [{"name", "ok", "output",
        "error"}]} (flowdrop's addition); None before they ran, or for a flow without @exit_hook."""
        return self._ds.read_exit_hooks(self.id)

    @property
    def end_task(self) -> Task | None:
        """The end step's task, or None before the end step ran."""
        if END_STEP not in self:
            return None
        return Step._bind(self, END_STEP).task

    @property
    def successful(self) -> bool:
        """True when the end step has a successful task."""
        task = self.end_task
        return task is not None and task.successful

    @property
    def finished(self) -> bool:
        """True when the run ended, successfully or not."""
        return self.status is not None or self.successful

    @property
    def finished_at(self) -> datetime | None:
        """When the run ended, if it did."""
        status = self.status
        if status is not None:
            return parse_time(status.get("finished"))
        task = self.end_task
        return task.finished_at if task is not None and task.successful else None

    @property
    def data(self) -> TaskData | None:
        """The end task's artifacts (None before the end step ran), as in Metaflow."""
        task = self.end_task
        return task.data if task is not None else None

    def steps(self, *tags: str) -> Iterator[Step]:
        """The run's steps, the most recently started first (Metaflow's order); none unless it has every tag."""
        if not set(tags) <= self.tags:
            return iter(())
        steps = [Step._bind(self, name) for name in self._ds.list_steps(self.id)]
        steps.sort(key=lambda s: (s._started(), s.id), reverse=True)
        return iter(steps)

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        if step not in self:
            raise MissingChildError("Step", f"{self.pathspec}/{step}", self._ds.storage.url)
        return Step._bind(self, step)

    def __contains__(self, step: object) -> bool:
        return step in self._ds.list_steps(self.id)


# What pickles made before reading.rebuild existed name.
_rebuild = rebuild

CLASSES.update(flow=Flow, run=Run)


def run_in_storage(storage: Any, pathspec: str) -> Run:
    """The run `Flow/run_id` read from `storage` when it is there (a task's own datastore), else looked up as usual."""
    if storage is not None:
        flow, _, run_id = pathspec.partition("/")
        ds = FlowDatastore(storage, flow)
        found = ds.read_run(run_id)
        if found is not None:
            return Run._bind(ds, run_id, found)
    return Run(pathspec, _namespace_check=False)
