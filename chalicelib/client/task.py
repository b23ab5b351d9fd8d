"""Task and DataArtifact of the client API: one task's attempts, artifacts, logs and metadata.

Owns: which attempt a task answers for (the done one, else the latest),
its artifacts (`task['x']` -> DataArtifact, `task.data.x`, iteration, `in`),
logs, the exception as @catch would record it, Metaflow-style metadata
(origin-run-id, origin-task-id, foreach-execution-path, ...) and the
links to parent and child tasks through the input paths each task records.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from flowdrop.client.code import MetaflowCode, code_of, code_package_entry
from flowdrop.client.reading import CLASSES, parse_time, rebuild, split_pathspec
from flowdrop.exception import MetaflowExceptionWrapper
from flowdrop.model.task import indices_of

if TYPE_CHECKING:
    from flowdrop.client.step import Step


class Metadata(NamedTuple):
    """One metadata entry of a task, as Metaflow's: name, value, when, type, and the task's pathspec."""

    name: str
    value: str
    created_at: int  # milliseconds since the epoch, as Metaflow's
    type: str
    task: str


class Task:
    """One task of a step: 'Flow/run_id/step/task_id'."""

    def __init__(self, pathspec: str, _namespace_check: bool = True):
        flow_name, run_id, step, task_id = split_pathspec("Task", pathspec, 4)
        parent = CLASSES["step"](f"{flow_name}/{run_id}/{step}", _namespace_check=_namespace_check)
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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Task) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash(("Task", self.pathspec))

    def __reduce__(self) -> tuple:
        return rebuild, ("task", self.pathspec)

    # -- where it sits ----------------------------------------------------------

    @property
    def parent(self) -> Step:
        """The task's Step."""
        return self._step

    @property
    def path_components(self) -> list[str]:
        """[flow name, run id, step name, task id]."""
        return self.pathspec.split("/")

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags."""
        return self._step._run.tags

    @property
    def user_tags(self) -> frozenset[str]:
        """The run's user tags."""
        return self._step._run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The run's system tags."""
        return self._step._run.system_tags

    # -- attempts -----------------------------------------------------------------

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
        return parse_time((self._ds.read_attempt(*self._where, 0) or {}).get("started"))

    @property
    def finished_at(self) -> datetime | None:
        """When the done (else latest) attempt ended."""
        return parse_time(self._outcome().get("finished"))

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
    def exception(self) -> MetaflowExceptionWrapper | None:
        """The failed attempt's exception as @catch records it (`.type`, `.exception`, str() the traceback)."""
        meta = self._outcome()
        if not meta.get("exception") or meta.get("status") == "caught":
            return None  # @catch handled it: Metaflow's task.exception is None then
        kind = meta.get("exception_class") or f"builtins.{meta.get('exception_type') or 'Exception'}"
        return MetaflowExceptionWrapper(type=kind, exception=meta.get("exception_message") or "",
                                        stacktrace=meta["exception"], step=self._step.id)

    @property
    def code(self) -> MetaflowCode | None:
        """The code package the task ran from (a production task's); None for a local run's task."""
        return code_of(self._outcome().get("code_package"), f"Task('{self.pathspec}')")

    @property
    def environment_info(self) -> dict[str, Any]:
        """Where the task ran: `type` the compute backend (batch, lambda, worker; local), Python version, platform."""
        meta = self._outcome()
        return {"type": meta.get("backend") or "local", "python_version": meta.get("python_version"),
                "platform": meta.get("platform"), "executable": meta.get("executable")}

    @property
    def runtime_name(self) -> str:
        """'step-functions' for a production run's task, 'dev' otherwise (Metaflow's runtime tag)."""
        return "step-functions" if self._where[0].startswith("sfn-") else "dev"

    # -- metadata and lineage ---------------------------------------------------------

    def _input_paths(self) -> list[str]:
        return [str(p) for p in (self._outcome().get("input_paths") or [])]

    @property
    def origin_pathspec(self) -> str | None:
        """The task this one was cloned from by resume ('Flow/origin_run/step/task'), else None."""
        cloned = self._outcome().get("cloned_from")
        return f"{self._ds.flow_name}/{cloned}" if cloned else None

    @property
    def metadata(self) -> list[Metadata]:
        """The task's metadata entries, Metaflow's names: attempt, origin-run-id, foreach-execution-path, ..."""
        meta = self._outcome()
        stamp = int(self.finished_at.timestamp() * 1000) if self.finished_at else 0
        entries: dict[str, str] = {"runtime": self.runtime_name}
        if meta.get("user"):
            entries["user"] = str(meta["user"])
        origin_run = meta.get("origin_run_id") or self._step._run.origin_run_id
        if meta.get("cloned_from"):
            origin_run, _step, origin_task = str(meta["cloned_from"]).split("/")[-3:]
            entries["origin-task-id"] = origin_task
        if origin_run:
            entries["origin-run-id"] = str(origin_run)
        stack = meta.get("foreach_stack") or []
        if stack:
            entries["foreach-execution-path"] = ",".join(f"{f['step']}:{f['index']}" for f in stack)
        if meta.get("finished"):
            entries["attempt_ok"] = str(meta.get("status") in ("succeeded", "caught"))
        if meta.get("python_version"):
            entries["python_version"] = str(meta["python_version"])
        if meta.get("code_package"):
            entries["code-package"] = code_package_entry(str(meta["code_package"]))
        # One "attempt" entry per attempt, as Metaflow registers them; the answering attempt's last.
        attempts = [str(a) for a in self._ds.list_attempts(*self._where) if a != self.current_attempt]
        attempts.append(str(self.current_attempt))
        return [*(Metadata("attempt", a, stamp, "attempt", self.pathspec) for a in attempts),
                *(Metadata(name, value, stamp, name, self.pathspec) for name, value in entries.items())]

    @property
    def metadata_dict(self) -> dict[str, str]:
        """The metadata as name -> value."""
        return {m.name: m.value for m in self.metadata}

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        """Pathspecs of the tasks whose outputs this task took as inputs."""
        run_path = self._step._run.pathspec
        return (f"{run_path}/{'/'.join(path.split('/')[-2:])}" for path in self._input_paths())

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks whose outputs this task took as inputs."""
        run = self._step._run
        for pathspec in self.parent_task_pathspecs:
            step, task_id = pathspec.split("/")[-2:]
            yield run[step][task_id]

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        """Pathspecs of the tasks that took this task's outputs as inputs."""
        return (task.pathspec for task in self.child_tasks)

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks that took this task's outputs as inputs."""
        me = f"{self._step.id}/{self.id}"
        for step in self._step._run:
            for task in step:
                if any(path.endswith(me) and path.split("/")[-2:] == me.split("/") for path in task._input_paths()):
                    yield task

    # -- logs -----------------------------------------------------------------------

    def _logs(self, attempt: int | None = None) -> tuple[str, str]:
        if attempt is None:
            attempt = self._outcome().get("attempt")
        out, err = self._ds.load_logs(*self._where, None if attempt is None else int(attempt))
        return out.decode(errors="replace"), err.decode(errors="replace")

    def _log_text(self, stream: str, attempt: int | None = None) -> str:
        """One stream ("stdout" or "stderr") of `attempt` (default: the done, else latest, attempt)."""
        out, err = self._logs(attempt)
        return out if stream == "stdout" else err

    @property
    def stdout(self) -> str:
        """Captured stdout of the done (else latest) attempt."""
        return self._logs()[0]

    @property
    def stderr(self) -> str:
        """Captured stderr of the done (else latest) attempt."""
        return self._logs()[1]

    @property
    def stdout_size(self) -> int:
        """Bytes of stdout captured."""
        return len(self.stdout.encode())

    @property
    def stderr_size(self) -> int:
        """Bytes of stderr captured."""
        return len(self.stderr.encode())

    def loglines(self, stream: str, as_unicode: bool = True) -> Iterator[tuple[datetime | None, str]]:
        """(timestamp, line) pairs of `stream` ("stdout" or "stderr"); lines are not timed here, so None."""
        if stream not in ("stdout", "stderr"):
            raise ValueError(f"stream must be 'stdout' or 'stderr', got {stream!r}")
        for line in self._log_text(stream).splitlines():
            yield None, line if as_unicode else line.encode()

    # -- artifacts ------------------------------------------------------------------

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

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    def __getitem__(self, name: str) -> DataArtifact:
        shas = self.data._shas
        if name not in shas:
            raise KeyError(name)
        return DataArtifact._bind(self, name, shas[name])

    def __contains__(self, name: object) -> bool:
        return name in self.data._shas


class DataArtifact:
    """One artifact of a task ('Flow/run/step/task/name'): .data loads its value on first access."""

    def __init__(self, pathspec: str, _namespace_check: bool = True):
        *task_parts, name = split_pathspec("DataArtifact", pathspec, 5)
        task = Task("/".join(task_parts), _namespace_check=_namespace_check)
        self._setup(task, name, task[name].sha)

    @classmethod
    def _bind(cls, task: Task, name: str, sha: str) -> DataArtifact:
        artifact = cls.__new__(cls)
        artifact._setup(task, name, sha)
        return artifact

    def _setup(self, task: Task, name: str, sha: str) -> None:
        self._task, self.id, self.sha = task, name, sha
        self.pathspec = f"{task.pathspec}/{name}"

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"

    def __reduce__(self) -> tuple:
        return rebuild, ("artifact", self.pathspec)

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags."""
        return self._task.tags

    @property
    def data(self) -> Any:
        """The artifact's value."""
        return self._task.data._load(self.id)

    @property
    def parent(self) -> Task:
        """The artifact's Task."""
        return self._task

    @property
    def path_components(self) -> list[str]:
        """[flow, run id, step, task id, artifact name]."""
        return self.pathspec.split("/")

    @property
    def finished_at(self) -> datetime | None:
        """When the task that wrote it finished (artifacts are persisted then)."""
        return self._task.finished_at

    @property
    def created_at(self) -> datetime | None:
        """Same as finished_at."""
        return self._task.finished_at

    @property
    def size(self) -> int:
        """Bytes of the stored (pickled) value."""
        return len(self._task._ds.storage.get(self._task._ds._blob_key(self.sha)))


class TaskData:
    """Attribute access to a task's artifact values (Metaflow's MetaflowData), unpickled on first use and kept."""

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

    def __dir__(self) -> list[str]:
        return sorted(self._shas)

    def __repr__(self) -> str:
        return f"<TaskData {self._task.pathspec}: {', '.join(sorted(self._shas))}>"


MetaflowData = TaskData


class TaskArtifacts:
    """A task's artifacts by name: task.artifacts.x.data, iteration, `in`."""

    def __init__(self, task: Task, shas: dict[str, str]):
        self._items = {name: DataArtifact._bind(task, name, sha) for name, sha in shas.items()}
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


# What pickles made before reading.rebuild existed name.
_rebuild = rebuild

CLASSES.update(task=Task, artifact=DataArtifact)
