"""The flow graph as data: node types, Node and Graph, and their JSON form.

Owns: the frozen shapes that the graph parser produces and the runtime,
compiler, packager and deployer consume (the manifest carries a graph).
Does not own: parsing (graph/), parameters (parameters.py here) or
decorators (decorators.py here). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flowdrop.model.configs import ConfigSpec
from flowdrop.model.decorators import Decorator
from flowdrop.model.parameters import ParameterSpec

# Node types, as Metaflow names them. A step's type says how it is entered
# (join) or left (split, foreach); `start` and `end` are the two ends.
START, LINEAR, SPLIT, FOREACH, JOIN, END = "start", "linear", "split", "foreach", "join", "end"
# A switch (`self.next({'a': self.a, 'b': self.b}, condition='attr')`) goes
# to exactly one of its cases at run time; a case may be the step itself (a
# recursive switch, the one loop a flow may have).
SWITCH = "split-switch"
NODE_TYPES = (START, LINEAR, SPLIT, FOREACH, JOIN, END, SWITCH)



@dataclass(frozen=True)
class Node:
    """One step of a flow.

    `split_parents` lists the split and foreach steps enclosing this one,
    outermost first; `matching_join` is set on split and foreach steps.
    `foreach_depth` counts the foreach steps among the split parents: it is
    the number of indices in this step's task ids.
    """

    name: str
    type: str
    out_funcs: tuple[str, ...] = ()
    in_funcs: tuple[str, ...] = ()
    foreach_param: str | None = None
    is_join: bool = False
    decorators: tuple[Decorator, ...] = ()
    lineno: int = 0
    split_parents: tuple[str, ...] = ()
    matching_join: str | None = None
    foreach_depth: int = 0
    doc: str | None = None
    # A switch's cases, (value, step) in source order, and the artifact whose value picks one.
    switch_cases: tuple[tuple[Any, str], ...] = ()
    condition: str | None = None

    @property
    def is_switch(self) -> bool:
        """True for a switch step (it runs one of its out_funcs, chosen by `condition`)."""
        return self.condition is not None

    @property
    def is_recursive(self) -> bool:
        """True for a switch with a case that goes back to the step itself."""
        return self.is_switch and self.name in self.out_funcs

    def decorator(self, name: str) -> Decorator | None:
        """The decorator called `name` on this step, if any."""
        for deco in self.decorators:
            if deco.name == name:
                return deco
        return None

    @property
    def parallel_step(self) -> bool:
        """Metaflow's flag for a @parallel (gang) step; flowdrop has none, so always False."""
        return False

    @property
    def is_split(self) -> bool:
        """True when the step fans out (a branch or a foreach)."""
        return self.foreach_param is not None or (len(self.out_funcs) > 1 and not self.is_switch)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "type": self.type,
            "out_funcs": list(self.out_funcs),
            "in_funcs": list(self.in_funcs),
            "foreach_param": self.foreach_param,
            "is_join": self.is_join,
            "decorators": [d.to_dict() for d in self.decorators],
            "lineno": self.lineno,
            "split_parents": list(self.split_parents),
            "matching_join": self.matching_join,
            "foreach_depth": self.foreach_depth,
            "doc": self.doc,
            **({"switch_cases": [list(case) for case in self.switch_cases], "condition": self.condition}
               if self.is_switch else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Node:
        """Inverse of to_dict."""
        return cls(
            name=data["name"],
            type=data["type"],
            out_funcs=tuple(data.get("out_funcs", ())),
            in_funcs=tuple(data.get("in_funcs", ())),
            foreach_param=data.get("foreach_param"),
            is_join=bool(data.get("is_join", False)),
            decorators=tuple(Decorator.from_dict(d) for d in data.get("decorators", ())),
            lineno=int(data.get("lineno", 0)),
            split_parents=tuple(data.get("split_parents", ())),
            matching_join=data.get("matching_join"),
            foreach_depth=int(data.get("foreach_depth", 0)),
            doc=data.get("doc"),
            switch_cases=tuple((value, str(step)) for value, step in data.get("switch_cases") or ()),
            condition=data.get("condition"),
        )


@dataclass(frozen=True)
class Graph:
    """A validated flow: its steps in topological order, parameters and flow decorators."""

    flow_name: str
    file: str
    nodes: tuple[Node, ...]
    parameters: tuple[ParameterSpec, ...] = ()
    flow_decorators: tuple[Decorator, ...] = ()
    lineno: int = 0
    doc: str | None = None
    configs: tuple[ConfigSpec, ...] = ()  # Metaflow's Config declarations

    def __getitem__(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(node.name == name for node in self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def flow_decorator(self, name: str) -> Decorator | None:
        """The flow-level decorator called `name` (schedule, project), if any."""
        for deco in self.flow_decorators:
            if deco.name == name:
                return deco
        return None

    def parameter(self, name: str) -> ParameterSpec | None:
        """The parameter called `name`, if any."""
        for param in self.parameters:
            if param.name == name:
                return param
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as carried in the manifest."""
        return {
            "flow_name": self.flow_name,
            "file": self.file,
            "lineno": self.lineno,
            "doc": self.doc,
            "nodes": [n.to_dict() for n in self.nodes],
            "parameters": [p.to_dict() for p in self.parameters],
            "flow_decorators": [d.to_dict() for d in self.flow_decorators],
            **({"configs": [c.to_dict() for c in self.configs]} if self.configs else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Graph:
        """Inverse of to_dict."""
        return cls(
            flow_name=data["flow_name"],
            file=data["file"],
            lineno=int(data.get("lineno", 0)),
            doc=data.get("doc"),
            nodes=tuple(Node.from_dict(n) for n in data["nodes"]),
            parameters=tuple(ParameterSpec.from_dict(p) for p in data.get("parameters", ())),
            flow_decorators=tuple(Decorator.from_dict(d) for d in data.get("flow_decorators", ())),
            configs=tuple(ConfigSpec.from_dict(c) for c in data.get("configs", ())),
        )


