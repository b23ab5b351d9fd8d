"""What started a run: Metaflow's Trigger and MetaflowEvent, for `current.trigger` and `Run.trigger`.

Owns: the read side of a run's trigger record (datastore `trigger.json`,
written by the deployer's event handler before it starts the run): the
events, newest first, and for @trigger_on_finish the upstream runs as client
Runs. Does not own: publishing events (cli/publish.py, deployer/events.py).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

MetaflowEvent = namedtuple("MetaflowEvent", ["name", "id", "timestamp", "type"])
MetaflowEvent.__doc__ = "One event that started a run: its name, id, creation time and type ('event' or 'run')."


class Trigger:
    """The events (or upstream runs) that started a run, as in Metaflow."""

    def __init__(self, _meta: list[Mapping[str, Any]] | None = None, _run: Callable[[str], Any] | None = None):
        # `_run` makes a client Run from `Flow/run_id` (given by current and the client: no import cycle here).
        self._run = _run
        meta = sorted(_meta or [], key=lambda m: m.get("timestamp") or float("-inf"), reverse=True)
        self._events = [MetaflowEvent(
            name=m.get("name"), id=m.get("id"), type=m.get("type", "event"),
            timestamp=datetime.fromtimestamp(m["timestamp"]) if isinstance(m.get("timestamp"), int) else m.get("timestamp"),
        ) for m in meta]
        self._runs: list[Any] | None = None

    @property
    def event(self) -> MetaflowEvent | None:
        """The latest event that started the run."""
        return next(iter(self._events), None)

    @property
    def events(self) -> list[MetaflowEvent] | None:
        """Every event that started the run, newest first."""
        return list(self._events) or None

    @property
    def runs(self) -> list[Any] | None:
        """The upstream runs (client Runs) of a @trigger_on_finish run, else None."""
        if self._runs is None:
            make = self._run or (lambda pathspec: pathspec)
            self._runs = [make("/".join(str(e.id).split("/")[:2])) for e in self._events if e.type == "run"]
        return list(self._runs) or None

    @property
    def run(self) -> Any:
        """The latest upstream run, else None."""
        runs = self.runs
        return runs[0] if runs else None

    def __getitem__(self, key: str) -> Any:
        """An upstream run by flow name, else an event by name; KeyError if neither."""
        if any(e.type == "run" for e in self._events):
            for run in self.runs or []:
                if run.path_components[0] == key:
                    return run
        for event in self._events:
            if event.name == key:
                return event
        raise KeyError(key)

    def __contains__(self, key: str) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[MetaflowEvent]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"Trigger({[e.name for e in self._events]})"
