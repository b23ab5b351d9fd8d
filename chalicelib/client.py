"""Read what flows produced, with Metaflow's client names and semantics.

Owns: Flow, Run, Step, Task, namespace(), get_namespace(),
default_namespace() and set_datastore(). Does not own: the storage layout
(datastore/flow.py) or writing anything.

    from flowdrop import Flow, Run, namespace
    Flow('TrainFlow').latest_run['end'].task.data.x
    Run('TrainFlow/sfn-1a2b').data.model

Where runs are read: the datastore given to set_datastore(), else the
config's `datastore` (default ".flowdrop" in the working directory). When a
run is not found there and the config names a `production_datastore`
(where Step Functions runs, `sfn-...`, keep their artifacts, on S3), it is
looked up there too; listing a flow's runs covers both.

Namespaces, as in Metaflow: a run belongs to namespace N when the "tags"
list of its run.json contains N. Whoever starts a run writes the system
tags: `user:<name>` for every run a person starts (locally or by
`step-functions trigger`) and `production:<token>` for runs of a deployed
flow. The default namespace is `user:<$USER>`. Listing a flow's runs
(iteration, latest_run, runs()) shows only runs in the current namespace;
naming a run outside it (Run('F/12'), flow['12']) raises
NamespaceMismatchError. namespace(None) sees every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flowdrop.datastore import FlowDatastore, Storage, open_storage
from flowdrop.errors import MissingObjectError, NamespaceMismatchError, TaggingError
from flowdrop.model.tags import is_system_tag, tag_problems, tag_set_problems
from flowdrop.model.task import indices_of

END_STEP = "end"


# --- where runs are read, and the namespace ------------------------------------

_UNSET: Any = object()
_state: dict[str, Any] = {"primary": None, "production": _UNSET, "namespace": _UNSET}


def set_datastore(url_or_storage: str | Storage | None, *, production: str | Storage | None = _UNSET) -> None:
    """Read runs from this datastore (a folder, s3://bucket/prefix or a Storage); None: back to the config's.

    `production` overrides the config's production_datastore (None: look nowhere else).
    """
    _state["primary"] = url_or_storage
    _state["production"] = production
    _state.pop("config", None)
    _state.pop("storages", None)


def _config() -> Any:
    if "config" not in _state:
        from flowdrop.config import load_config

        _state["config"] = load_config()
    return _state["config"]


def _as_storage(value: str | Storage) -> Storage:
    return value if isinstance(value, Storage) else open_storage(value, _config().aws)


def _storages() -> list[Storage]:
    """The datastores to read, in lookup order: the primary one, then production's (opened once)."""
    if "storages" not in _state:
        primary = _as_storage(_state["primary"] if _state["primary"] is not None else _config().datastore)
        production = _state["production"] if _state["production"] is not _UNSET else _config().production_datastore
        found = [primary]
        if production is not None:
            production = _as_storage(production)
            if production.url != primary.url:
                found.append(production)
        _state["storages"] = found
    return list(_state["storages"])


def _where() -> str:
    return " or ".join(s.url for s in _storages())


def default_namespace() -> str:
    """Switch back to the default namespace, user:<username>, and return it."""
    from flowdrop.config import user_name

    _state["namespace"] = f"user:{user_name()}"
    return _state["namespace"]


def namespace(ns: str | None) -> str | None:
    """Switch the current namespace (None: every namespace); returns it."""
    _state["namespace"] = ns
    return ns


def get_namespace() -> str | None:
    """The current namespace (None: every namespace)."""
    if _state["namespace"] is _UNSET:
        return default_namespace()
    return _state["namespace"]


def _split(kind: str, pathspec: str, parts: int) -> list[str]:
    pieces = pathspec.split("/")
    if len(pieces) != parts or not all(pieces):
        shape = "/".join(["Flow", "run_id", "step", "task_id"][:parts])
        raise MissingObjectError(kind, pathspec, f"'{shape}'", problem="is not a pathspec: expected one like")
    return pieces


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


# --- the objects -----------------------------------------------------------------


class Flow:
    """A flow: its runs, newest first, in the current namespace."""

    def __init__(self, name: str):
        _split("Flow", name, 1)
        self._stores = [FlowDatastore(s, name) for s in _storages()]
        if not any(ds.storage.list_children(f"{name}/runs") for ds in self._stores):
            raise MissingObjectError("Flow", name, _where())
        self.id = self.pathspec = name

    def __repr__(self) -> str:
        return f"Flow('{self.pathspec}')"

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
        return Run(f"{self.id}/{run_id}")

    def __contains__(self, run_id: str) -> bool:
        return any(ds.read_run(run_id) is not None or ds.list_steps(run_id) for ds in self._stores)

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

    def __init__(self, pathspec: str):
        flow_name, run_id = _split("Run", pathspec, 2)
        for storage in _storages():
            ds = FlowDatastore(storage, flow_name)
            meta = ds.read_run(run_id)
            if meta is not None or ds.list_steps(run_id):
                self._setup(ds, run_id, meta or {})
                break
        else:
            raise MissingObjectError("Run", pathspec, _where())
        current = get_namespace()
        if current is not None and current not in self.tags:
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

    @property
    def tags(self) -> frozenset[str]:
        """Every tag of the run, system tags (user:..., production:...) included."""
        return frozenset(self._meta.get("tags") or ())

    @property
    def system_tags(self) -> frozenset[str]:
        """The tags flowdrop wrote: user:<name>, production:<token>, runtime:dev."""
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
        """Add a user tag (a system tag of the same text is left as it is)."""
        self.replace_tags([], [tag] if isinstance(tag, (str, bytes)) else tag)

    def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags."""
        self.replace_tags([], tags)

    def remove_tag(self, tag: str | Iterable[str]) -> None:
        """Remove a user tag; removing a system tag is an error, an absent one a no-op."""
        self.replace_tags([tag] if isinstance(tag, (str, bytes)) else tag, [])

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags."""
        self.replace_tags(tags, [])

    def replace_tag(self, tag_to_remove: str | Iterable[str], tag_to_add: str | Iterable[str]) -> None:
        """Remove a tag and add one, in one change; removal first."""
        self.replace_tags([tag_to_remove] if isinstance(tag_to_remove, (str, bytes)) else tag_to_remove,
                          [tag_to_add] if isinstance(tag_to_add, (str, bytes)) else tag_to_add)

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        """Remove tags and add tags in one change of run.json, as Metaflow validates them."""
        if isinstance(tags_to_remove, (str, bytes)) or isinstance(tags_to_add, (str, bytes)):
            raise TaggingError("replace_tags takes lists of tags, not a string")
        remove, add = list(tags_to_remove), list(tags_to_add)
        if not remove and not add:
            raise TaggingError("Must add or remove at least one tag")
        problems = [f"{tag!r}: {p}" for tag in (*add, *remove) for p in tag_problems(tag)]
        if problems:
            raise TaggingError(f"Run('{self.pathspec}'): " + "; ".join(problems))
        remove = [t.decode() if isinstance(t, bytes) else t for t in remove]
        add = [t.decode() if isinstance(t, bytes) else t for t in add]
        meta = self._ds.read_run(self.id) or dict(self._meta)
        current = {**meta, "tags": meta.get("tags") or []}
        system = set(current.get("system_tags") or [t for t in current["tags"] if is_system_tag(t)])
        user = set(current.get("user_tags") or [t for t in current["tags"] if t not in system])
        system_removed = sorted(set(remove) & system)
        if system_removed:
            raise TaggingError(f"Run('{self.pathspec}'): cannot remove system tag(s) {', '.join(system_removed)}")
        new_user = (user - set(remove)) | (set(add) - system)
        problems = tag_set_problems(new_user, existing=user)
        if problems:
            raise TaggingError(f"Run('{self.pathspec}'): " + "; ".join(problems))
        current.update(system_tags=sorted(system), user_tags=sorted(new_user), tags=sorted(system | new_user))
        self._ds.write_run(self.id, current)
        self._meta = current

    @property
    def created_at(self) -> datetime | None:
        """When the run started."""
        return _parse_time(self._meta.get("created"))

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
    def status(self) -> dict | None:
        """status.json: written when a run ends locally; None otherwise."""
        return self._ds.read_run_status(self.id)

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
            return _parse_time(status.get("finished"))
        task = self.end_task
        return task.finished_at if task is not None and task.successful else None

    @property
    def data(self) -> TaskData | None:
        """The end task's artifacts (None before the end step ran), as in Metaflow."""
        task = self.end_task
        return task.data if task is not None else None

    def steps(self) -> Iterator[Step]:
        """The run's steps, the most recently started first (Metaflow's order)."""
        steps = [Step._bind(self, name) for name in self._ds.list_steps(self.id)]
        steps.sort(key=lambda s: (s._started(), s.id), reverse=True)
        return iter(steps)

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        if step not in self._ds.list_steps(self.id):
            raise MissingObjectError("Step", f"{self.pathspec}/{step}", self._ds.storage.url)
        return Step._bind(self, step)

    def __contains__(self, step: str) -> bool:
        return step in self._ds.list_steps(self.id)


class Step:
    """One step of a run: 'Flow/run_id/step'."""

    def __init__(self, pathspec: str):
        flow_name, run_id, step = _split("Step", pathspec, 3)
        run = Run(f"{flow_name}/{run_id}")
        self._setup(run[step]._run, step)

    @classmethod
    def _bind(cls, run: Run, name: str) -> Step:
        step = cls.__new__(cls)
        step._setup(run, name)
        return step

    def _setup(self, run: Run, name: str) -> None:
        self._run = run
        self._ds = run._ds
        self.id = name
        self.pathspec = f"{run.pathspec}/{name}"

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"

    def _task_ids(self) -> list[str]:
        # Foreach tasks in index order: fit-2 before fit-10.
        return sorted(self._ds.list_tasks(self._run.id, self.id), key=lambda t: (indices_of(t), t))

    def _started(self) -> str:
        ids = self._task_ids()
        meta = self._ds.read_attempt(self._run.id, self.id, ids[0], 0) if ids else None
        return str((meta or {}).get("started") or "")

    @property
    def task(self) -> Task | None:
        """The step's task (the first one, for a foreach body)."""
        ids = self._task_ids()
        return Task._bind(self, ids[0]) if ids else None

    def tasks(self) -> Iterator[Task]:
        """Every task of the step, in foreach index order."""
        return (Task._bind(self, task_id) for task_id in self._task_ids())

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        if task_id not in self._ds.list_tasks(self._run.id, self.id):
            raise MissingObjectError("Task", f"{self.pathspec}/{task_id}", self._ds.storage.url)
        return Task._bind(self, task_id)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._ds.list_tasks(self._run.id, self.id)


class Task:
    """One task of a step: 'Flow/run_id/step/task_id'."""

    def __init__(self, pathspec: str):
        flow_name, run_id, step, task_id = _split("Task", pathspec, 4)
        parent = Step(f"{flow_name}/{run_id}/{step}")
        self._setup(parent[task_id]._step, task_id)

    @classmethod
    def _bind(cls, step: Step, task_id: str) -> Task:
        task = cls.__new__(cls)
        task._setup(step, task_id)
        return task

    def _setup(self, step: Step, task_id: str) -> None:
        self._step = step
        self._ds = step._ds
        self._where = (step._run.id, step.id, task_id)
        self.id = task_id
        self.pathspec = f"{step.pathspec}/{task_id}"
        self._data: TaskData | None = None

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"

    def _done(self) -> dict | None:
        return self._ds.read_done(*self._where)

    def _latest_attempt(self) -> dict:
        attempts = self._ds.list_attempts(*self._where)
        return (self._ds.read_attempt(*self._where, attempts[-1]) or {}) if attempts else {}

    def _outcome(self) -> dict:
        """The done attempt's metadata, else the latest attempt's."""
        return self._done() or self._latest_attempt()

    @property
    def successful(self) -> bool:
        """True when an attempt succeeded (or @catch recorded its failure and the flow went on)."""
        return self._done() is not None

    @property
    def finished(self) -> bool:
        """True when the task succeeded or its latest attempt ended (it may still be retried)."""
        return self.successful or bool(self._latest_attempt().get("finished"))

    @property
    def created_at(self) -> datetime | None:
        """When the first attempt started."""
        return _parse_time((self._ds.read_attempt(*self._where, 0) or {}).get("started"))

    @property
    def finished_at(self) -> datetime | None:
        """When the done (else latest) attempt ended."""
        return _parse_time(self._outcome().get("finished"))

    @property
    def current_attempt(self) -> int:
        """The attempt number of the done (else latest) attempt: 0 for the first try."""
        return int(self._outcome().get("attempt") or 0)

    @property
    def retry_count(self) -> int:
        """Same as current_attempt, under the name `current.retry_count` uses."""
        return self.current_attempt

    @property
    def index(self) -> int | None:
        """The index of this task in its innermost foreach, or None outside a foreach."""
        indices = indices_of(self.id)
        return indices[-1] if indices else None

    @property
    def exception(self) -> str | None:
        """The exception text of a failed (or @catch-recorded) attempt, else None."""
        return self._outcome().get("exception")

    @property
    def stdout(self) -> str:
        """Captured stdout of the done (else latest) attempt."""
        return self._logs()[0]

    @property
    def stderr(self) -> str:
        """Captured stderr of the done (else latest) attempt."""
        return self._logs()[1]

    def _logs(self, attempt: int | None = None) -> tuple[str, str]:
        if attempt is None:
            attempt = self._outcome().get("attempt")
        out, err = self._ds.load_logs(*self._where, None if attempt is None else int(attempt))
        return out.decode(errors="replace"), err.decode(errors="replace")

    def _log_text(self, stream: str, attempt: int | None = None) -> str:
        """One stream ("stdout" or "stderr") of `attempt` (default: the done, else latest, attempt)."""
        out, err = self._logs(attempt)
        return out if stream == "stdout" else err

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self.data._shas:
            raise KeyError(f"Task('{self.pathspec}') has no artifact '{name}'")
        return DataArtifact(self, name, self.data._shas[name])

    def __contains__(self, name: object) -> bool:
        return name in self.data._shas

    @property
    def artifacts(self) -> TaskArtifacts:
        """The task's artifacts as objects with .data, .sha and .pathspec."""
        return TaskArtifacts(self, self.data._shas)

    @property
    def data(self) -> TaskData:
        """The task's artifact values: task.data.x, 'x' in task.data. Loaded lazily."""
        if self._data is None:
            self._data = TaskData(self, dict(self._outcome().get("artifacts") or {}))
        return self._data


class DataArtifact:
    """One artifact of a task: its value is loaded on first access of .data."""

    def __init__(self, task: Task, name: str, sha: str):
        self._task, self.id, self.sha = task, name, sha
        self.pathspec = f"{task.pathspec}/{name}"

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"

    @property
    def data(self) -> Any:
        """The artifact's value."""
        return self._task.data._load(self.id)


class TaskData:
    """Attribute access to a task's artifact values, unpickled on first use and kept."""

    def __init__(self, task: Task, shas: dict[str, str]):
        self._task, self._shas, self._values = task, shas, {}

    def _load(self, name: str) -> Any:
        if name not in self._values:
            self._values[name] = self._task._ds.load_artifact(self._shas[name])
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name not in self.__dict__.get("_shas", {}):
            raise AttributeError(name)
        if name not in self._shas:
            known = ", ".join(sorted(self._shas)) or "none"
            raise AttributeError(f"Task('{self._task.pathspec}') has no artifact '{name}' (it has: {known})")
        return self._load(name)

    def __contains__(self, name: object) -> bool:
        return name in self._shas

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._shas))

    def __repr__(self) -> str:
        return f"<TaskData {self._task.pathspec}: {', '.join(sorted(self._shas))}>"


class TaskArtifacts:
    """A task's artifacts by name: task.artifacts.x.data, iteration, `in`."""

    def __init__(self, task: Task, shas: dict[str, str]):
        self._items = {name: DataArtifact(task, name, sha) for name, sha in shas.items()}
        self._task = task

    def __getattr__(self, name: str) -> DataArtifact:
        items = self.__dict__.get("_items", {})
        if name not in items:
            raise AttributeError(f"Task('{self._task.pathspec}') has no artifact '{name}'")
        return items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._items[name] for name in sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)


class Metaflow:
    """Every flow with runs in the datastores read: Metaflow().flows, iteration, `in`."""

    @property
    def flows(self) -> list[Flow]:
        """Every flow, sorted by name."""
        return list(self)

    def _names(self) -> list[str]:
        names: set[str] = set()
        for storage in _storages():
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
