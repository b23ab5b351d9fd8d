"""`current`: what a running task knows about itself, as in Metaflow.

Owns: the process-wide Current object the task runner fills in before a step
runs. Outside a task its fields are None. `current.task` and `current.run`
are client objects (Task, Run) for the running task, read without a
namespace check, as Metaflow's are.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any



class Current:
    """Read-only view of the running task's identity."""

    _FIELDS = (
        "flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
        "username", "namespace", "is_production", "project_name", "branch_name",
        "project_flow_name", "parameter_names",
    )

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def _set(self, **values: Any) -> None:
        self._values.update(values)

    def _clear(self) -> None:
        self._values.clear()

    @property
    def is_running_flow(self) -> bool:
        """True inside a task."""
        return bool(self._values.get("run_id"))

    @property
    def pathspec(self) -> str | None:
        """`Flow/run_id/step/task_id` of the running task."""
        v = self._values
        if not v.get("task_id"):
            return None
        return f"{v['flow_name']}/{v['run_id']}/{v['step_name']}/{v['task_id']}"

    @property
    def tags(self) -> set[str] | None:
        """The run's user tags, as a new set (None outside a task)."""
        tags = self._values.get("tags")
        return None if tags is None else set(tags)

    @property
    def task(self) -> Any:
        """The running task as a client `Task` (None outside a task)."""
        if not self.pathspec:
            return None
        from flowdrop.client import Task  # the declared exception to the layers: Metaflow's current does this

        return Task(self.pathspec, _namespace_check=False)

    @property
    def run(self) -> Any:
        """The running task's run as a client `Run` (None outside a task)."""
        v = self._values
        if not v.get("run_id"):
            return None
        from flowdrop.client import Run

        return Run(f"{v['flow_name']}/{v['run_id']}", _namespace_check=False)

    @staticmethod
    def _run_in(storage: Any, pathspec: str) -> Any:
        """The client Run `pathspec` read from `storage`: what an @exit_hook function gets as `run`."""
        from flowdrop.client import run_in_storage

        return run_in_storage(storage, pathspec)

    @property
    def scheduled_time(self) -> Any:
        """The schedule tick a scheduled production run stands for (an aware UTC datetime), else None.

        A late or retried tick still gives its own time: process "the data of 09:00" with it.
        """
        run_id = self._values.get("run_id")
        if not run_id:
            return None
        from flowdrop.model.runs import scheduled_time

        return scheduled_time(run_id)

    @property
    def trigger(self) -> Any:
        """What started this production run (a flowdrop.events.Trigger): @trigger events or upstream runs; else None."""
        meta = self._values.get("trigger")
        if not meta:
            return None
        from flowdrop.client import run_in_storage
        from flowdrop.events import Trigger

        storage = self._values.get("trigger_storage")

        def upstream_run(pathspec: str) -> Any:
            # An upstream run lives in the same production datastore as this task: read it there.
            return run_in_storage(storage, pathspec)

        return Trigger(list(meta), upstream_run)

    @property
    def card(self) -> Any:
        """Metaflow's current.card: what the task appends is kept (cards.py) and not rendered."""
        if "card" not in self._values:
            from flowdrop.cards import CardCollector

            self._values["card"] = CardCollector()
        return self._values["card"]

    def get(self, key: str, default: Any = None) -> Any:
        """Like getattr(current, key, default)."""
        return getattr(self, key, default)

    def __getattr__(self, name: str) -> Any:
        if name in Current._FIELDS:
            return self._values.get(name)
        raise AttributeError(f"current has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"current({self.pathspec or 'not in a task'})"


current = Current()
