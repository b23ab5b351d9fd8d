"""FlowSpec: the base class of every flow, with Metaflow's names and semantics.

Owns: what a step sees while it runs: artifacts as attributes (loaded
lazily from the datastore, persisted after the step), `self.next(...)`,
`self.input` and `self.index` in foreach bodies, join `inputs`, and
`merge_artifacts`. Instantiating a flow under `__main__` hands over to the
flow CLI (`python flow.py run`). Does not own: scheduling, persistence
(runtime/), or the graph (graph.py, read from source).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence

from flowdrop.errors import (
    FlowdropError,
    MergeArtifactsError,
    MissingInMergeArtifactsError,
    UnhandledInMergeArtifactsError,
)
from flowdrop.exception import MetaflowExceptionWrapper
from flowdrop.model.frozen import FrozenRecord
from flowdrop.model.reserved import FLOWSPEC_ATTRIBUTES

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any
    from flowdrop.datastore import FlowDatastore
    from flowdrop.model.graph import Graph

# Set while a launcher loads a flow file to run one task in-process
# (runtime/entry.py): the file's `MyFlow()` under __main__ must not start the CLI.
CLI_DEFERRED = False


# What @catch stores in its `var` artifact (Metaflow's MetaflowExceptionWrapper).
StepFailure = MetaflowExceptionWrapper


class ForeachFrame(FrozenRecord):
    """One enclosing foreach of a task, with Metaflow's fields.

    `step` is the foreach step, `var` the artifact it iterates, `index`
    this item's position, `num_splits` the item count, `value` a short
    text of the item (as Metaflow's frame has) and `value_sha` where the
    item itself is stored (what `self.input` and `foreach_stack()` load).
    Its JSON form (a task's metadata) is `to_dict()`.
    """

    _fields = ("step", "index", "num_splits", "value_sha", "var", "value")
    step: str
    index: int
    num_splits: int
    value_sha: str | None
    var: str | None
    value: str | None

    def __init__(self, step: str, index: int, num_splits: int, value_sha: str | None, var: str | None = None,
                 value: str | None = None):
        self._set(step=step, index=index, num_splits=num_splits, value_sha=value_sha, var=var, value=value)


class ArtifactView:
    """Artifacts of one finished task, loaded on attribute access (a join's `inputs[i]`)."""

    def __init__(self, datastore: FlowDatastore, step: str, task_id: str, shas: Mapping[str, str]):
        self._datastore = datastore
        self._step = step
        self._task_id = task_id
        self._shas = dict(shas)
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._shas:
            raise AttributeError(f"step '{self._step}' (task {self._task_id}) has no artifact {name!r}")
        if name not in self._cache:
            self._cache[name] = self._datastore.load_artifact(self._shas[name])
        return self._cache[name]

    def __contains__(self, name: str) -> bool:
        return name in self._shas

    def __repr__(self) -> str:
        return f"<input {self._step}/{self._task_id}>"


class Inputs(Sequence[ArtifactView]):
    """A join step's inputs: indexable, iterable, and by step name for branch joins (`inputs.a.x`)."""

    def __init__(self, views: Sequence[ArtifactView]):
        self._views = list(views)

    def __getitem__(self, index: Any) -> Any:
        return self._views[index]

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[ArtifactView]:
        return iter(self._views)

    def __getattr__(self, name: str) -> ArtifactView:
        if name.startswith("_"):
            raise AttributeError(name)
        for view in self._views:
            if view._step == name:
                return view
        raise AttributeError(f"no input from step {name!r}; inputs come from {sorted({v._step for v in self._views})}")


def _constants(flow_cls: type) -> dict[str, Any]:
    """The flow's constants: its plain class attributes (not steps, methods, Parameters, properties)."""
    cached = flow_cls.__dict__.get("_flowdrop_constants")
    if cached is not None:
        return cached
    found: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        if klass in (FlowSpec, object):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_") or attr in FLOWSPEC_ATTRIBUTES:
                continue
            if callable(value) or isinstance(value, (property, staticmethod, classmethod)) or hasattr(value, "__get__"):
                found.pop(attr, None)
                continue
            found[attr] = value
    type.__setattr__(flow_cls, "_flowdrop_constants", found)
    return found


class FlowSpec:
    """Base class of a flow. Subclass it, write @step methods, end with `MyFlow()` under __main__."""

    def __init__(self, use_cli: bool = True):
        self._datastore: FlowDatastore | None = None
        self._inherited: dict[str, str] = {}
        self._transition: tuple[tuple[str, ...], str | None] | None = None
        self._switch_cases: tuple[tuple[Any, str], ...] | None = None  # set by a switch's self.next
        self._switch_value: Any = None  # the case (as declared) the switch's condition matched
        self._foreach_stack: list[ForeachFrame] = []
        self._step_name: str | None = None
        if use_cli and not CLI_DEFERRED:
            from flowdrop.cli.flow import main

            sys.exit(main(type(self)))

    @property
    def name(self) -> str:
        """The flow's name (its class name)."""
        return type(self).__name__

    @property
    def _current_step(self) -> str | None:
        """The step this task runs (Metaflow's private name, which its own tests read)."""
        return self._step_name

    def __iter__(self) -> Iterator[Any]:
        """The flow's step methods, each with `.name`, in source order (Metaflow's legacy iteration)."""
        found: dict[str, Any] = {}
        for klass in reversed(type(self).__mro__):
            for attr, value in vars(klass).items():
                if getattr(value, "_flowdrop_step", False):
                    found[attr] = value
        ordered = sorted(found.values(), key=lambda f: (f.__name__ != "start", f.__name__ == "end",
                                                         f.__code__.co_firstlineno))
        return iter([getattr(self, f.__name__) for f in ordered])

    @property
    def _graph(self) -> Graph:
        """The flow's graph, read from its file (Metaflow's private name; its own tests read `flow._graph[step]`)."""
        cls = type(self)
        graph = cls.__dict__.get("_flowdrop_graph")
        if graph is None:
            from flowdrop.graph import parse_flow_file

            graph = parse_flow_file(self.script_name, class_name=cls.__name__)
            type.__setattr__(cls, "_flowdrop_graph", graph)
        return graph

    @property
    def script_name(self) -> str:
        """The file the flow is defined in."""
        module = sys.modules.get(type(self).__module__)
        return getattr(module, "__file__", "") or ""

    # -- artifacts -----------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: a lazily loaded artifact.
        if name.startswith("_"):
            raise AttributeError(name)
        inherited = self.__dict__.get("_inherited", {})
        if name in inherited and self.__dict__.get("_datastore") is not None:
            value = self._datastore.load_artifact(inherited[name])
            self.__dict__[name] = value
            return value
        raise AttributeError(f"flow {type(self).__name__!r} has no artifact or attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and name in _constants(type(self)):
            # As Metaflow: a class attribute of the flow is a constant of every run.
            raise AttributeError(f"flow {type(self).__name__!r}: {name!r} is a class attribute, a constant of the "
                                 "flow; it cannot be set in a step (use another artifact name)")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._inherited.pop(name, None)
        self.__dict__.pop(name, None)

    def _artifact_state(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(values set or loaded in this task, shas of inherited artifacts never touched)."""
        values = {k: v for k, v in self.__dict__.items() if not k.startswith("_") and k not in FLOWSPEC_ATTRIBUTES}
        untouched = {k: sha for k, sha in self._inherited.items() if k not in values}
        return values, untouched

    # -- transitions ---------------------------------------------------------------

    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None) -> None:
        """Say which step(s) run after this one; `foreach='items'` fans out over self.items.

        A switch, `self.next({'a': self.a, 'b': self.b}, condition='mode')`,
        goes to the one step whose case equals self.mode.
        """
        if self._transition is not None:
            raise FlowdropError(f"step '{self._step_name}': self.next called twice")
        if condition is not None or (len(targets) == 1 and isinstance(targets[0], Mapping)):
            self._switch_to(targets, foreach, condition)
            return
        names = [self._step_target(target) for target in targets]
        if foreach is not None:
            if len(names) != 1:
                raise FlowdropError(f"step '{self._step_name}': a foreach goes to exactly one step")
            try:
                items = getattr(self, foreach)
            except AttributeError:
                raise FlowdropError(f"step '{self._step_name}': foreach={foreach!r} but there is no artifact {foreach!r}") from None
            try:
                len(items)
            except TypeError:
                raise FlowdropError(
                    f"step '{self._step_name}': foreach={foreach!r} must be a list or other sized collection, "
                    f"got {type(items).__name__}"
                ) from None
        self._transition = (tuple(names), foreach)

    def _step_target(self, target: Any) -> str:
        func = getattr(target, "__func__", None)
        if func is None or not getattr(func, "_flowdrop_step", False):
            raise FlowdropError(f"step '{self._step_name}': self.next takes steps like self.end, got {target!r}")
        return func.__name__

    def _switch_to(self, targets: tuple[Any, ...], foreach: str | None, condition: str | None) -> None:
        step = self._step_name
        if len(targets) != 1 or not isinstance(targets[0], Mapping) or not targets[0]:
            raise FlowdropError(f"step '{step}': a switch takes one non-empty dict of cases, "
                                "self.next({'a': self.a, 'b': self.b}, condition='attr')")
        if condition is None or not isinstance(condition, str):
            raise FlowdropError(f"step '{step}': a switch needs condition='<artifact>' (a string), got {condition!r}")
        if foreach is not None:
            raise FlowdropError(f"step '{step}': a switch cannot be combined with foreach")
        cases = {value: self._step_target(target) for value, target in targets[0].items()}
        try:
            value = getattr(self, condition)
        except AttributeError:
            raise FlowdropError(f"step '{step}': the switch's condition artifact self.{condition} does not exist; "
                                f"set self.{condition} in this step before self.next") from None
        if value not in cases:
            raise FlowdropError(f"step '{step}': switch condition self.{condition} is {value!r}, which is none "
                                f"of the cases {list(cases)}")
        self._transition = ((cases[value],), None)
        self._switch_cases = tuple(cases.items())
        # The declared key, not the artifact: Step Functions' Choice compares it by type, as JSON.
        self._switch_value = next(key for key in cases if key == value)

    # -- foreach -------------------------------------------------------------------

    @property
    def index(self) -> int | None:
        """Index of this task's item in the innermost enclosing foreach."""
        return self._foreach_stack[-1].index if self._foreach_stack else None

    @property
    def input(self) -> Any:
        """This task's item of the innermost enclosing foreach."""
        if not self._foreach_stack:
            return None
        frame = self._foreach_stack[-1]
        if frame.value_sha is None or self._datastore is None:
            return None
        return self._datastore.load_artifact(frame.value_sha)

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """(index, number of items, item) for each enclosing foreach, outermost first."""
        out = []
        for frame in self._foreach_stack:
            value = self._datastore.load_artifact(frame.value_sha) if frame.value_sha and self._datastore else None
            out.append((frame.index, frame.num_splits, value))
        return out

    # -- joins ---------------------------------------------------------------------

    def merge_artifacts(
        self, inputs: Inputs, include: Sequence[str] | None = None, exclude: Sequence[str] | None = None
    ) -> None:
        """Copy artifacts that all inputs agree on into this join; conflicts must be resolved or excluded."""
        step = self._step_name
        if include and exclude:
            raise MergeArtifactsError(f"step '{step}': merge_artifacts takes include or exclude, not both")
        if not isinstance(inputs, Inputs):
            raise MergeArtifactsError(f"step '{step}': merge_artifacts only works in a join step, on its inputs")
        exclude_set = set(exclude or ())
        present = set(self.__dict__) | set(self._inherited)
        candidates: dict[str, set[str]] = {}
        for view in inputs:
            for name, sha in view._shas.items():
                if name.startswith("_"):
                    continue
                candidates.setdefault(name, set()).add(sha)
        if include:
            missing = sorted(set(include) - set(candidates))
            if missing:
                raise MissingInMergeArtifactsError(
                    f"step '{step}': merge_artifacts include names artifacts no input has: {', '.join(missing)}", missing)
            names = set(include)
        else:
            names = set(candidates) - exclude_set
        conflicts, merged = [], {}
        for name in sorted(names):
            if name in present:
                continue
            shas = candidates[name]
            if len(shas) > 1:
                conflicts.append(name)
            else:
                merged[name] = next(iter(shas))
        if not conflicts:  # as Metaflow: a failed merge sets nothing
            self._inherited.update(merged)
        if conflicts:
            raise UnhandledInMergeArtifactsError(
                f"step '{step}': inputs disagree on artifact(s) {', '.join(conflicts)}; "
                "set them in the join before merge_artifacts, or pass exclude=[...]", conflicts)
