"""Step of the client API ('Flow/run_id/step'): Metaflow's names and semantics.

Owns: a step's tasks in foreach index order, its times, tags (its run's),
and the steps that fed it and that it fed. Does not own runs (objects.py;
a Step built from its pathspec finds its Run through reading.CLASSES, so
this module does not import objects.py), tasks (task.py) or the storage
layout (datastore/flow.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowdrop.client.reading import CLASSES, parse_time, rebuild, split_pathspec
from flowdrop.client.task import Task
from flowdrop.errors import MissingChildError
from flowdrop.model.task import indices_of

if TYPE_CHECKING:
    from flowdrop.client.objects import Run


class Step:
    """One step of a run: 'Flow/run_id/step'."""

    def __init__(self, pathspec: str, _namespace_check: bool = True):
        flow_name, run_id, step = split_pathspec("Step", pathspec, 3)
        run = CLASSES["run"](f"{flow_name}/{run_id}", _namespace_check=_namespace_check)
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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Step) and other.pathspec == self.pathspec

    def __hash__(self) -> int:
        return hash(("Step", self.pathspec))

    def __reduce__(self) -> tuple:
        return rebuild, ("step", self.pathspec)

    @property
    def parent(self) -> Run:
        """The step's Run."""
        return self._run

    @property
    def path_components(self) -> list[str]:
        """[flow name, run id, step name]."""
        return self.pathspec.split("/")

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags (Metaflow gives a step its run's)."""
        return self._run.tags

    @property
    def user_tags(self) -> frozenset[str]:
        """The run's user tags."""
        return self._run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The run's system tags."""
        return self._run.system_tags

    def _task_ids(self) -> list[str]:
        # Foreach tasks in index order: fit-2 before fit-10.
        return sorted(self._ds.list_tasks(self._run.id, self.id), key=lambda t: (indices_of(t), t))

    def _started(self) -> str:
        ids = self._task_ids()
        meta = self._ds.read_attempt(self._run.id, self.id, ids[0], 0) if ids else None
        return str((meta or {}).get("started") or "")

    @property
    def created_at(self) -> datetime | None:
        """When the step's first task started."""
        return parse_time(self._started())

    @property
    def origin_pathspec(self) -> str | None:
        """The same step of the run this one was resumed from, if any."""
        origin = self._run.origin_pathspec
        return f"{origin}/{self.id}" if origin else None

    @property
    def task(self) -> Task | None:
        """The step's task (the first one, for a foreach body)."""
        ids = self._task_ids()
        return Task._bind(self, ids[0]) if ids else None

    def tasks(self, *tags: str) -> Iterator[Task]:
        """Every task of the step, in foreach index order; none unless the run has every tag."""
        if not set(tags) <= self.tags:
            return iter(())
        return (Task._bind(self, task_id) for task_id in self._task_ids())

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task finished (None while one has not)."""
        times = [task.finished_at for task in self.tasks()]
        return max(times) if times and all(times) else None

    @property
    def environment_info(self) -> dict[str, Any] | None:
        """The first task's environment_info."""
        task = self.task
        return task.environment_info if task is not None else None

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps whose tasks fed this one's."""
        names = sorted({path.split("/")[-2] for task in self.tasks() for path in task._input_paths()})
        return (self._run[name] for name in names if name in self._run)

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps whose tasks this one's fed."""
        return (step for step in self._run if self.id in {p.id for p in step.parent_steps})

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        if task_id not in self:
            raise MissingChildError("Task", f"{self.pathspec}/{task_id}", self._ds.storage.url)
        return Task._bind(self, task_id)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._ds.list_tasks(self._run.id, self.id)


CLASSES.update(step=Step)
