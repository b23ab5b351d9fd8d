"""Frozen value classes without the dataclasses module: what `import flowdrop` defines.

Owns: FrozenRecord, the base of the few records defined while a flow module is
imported (Decorator, ForeachFrame, ProjectInfo, DeployTimeContext). A frozen
dataclass costs `import dataclasses` (which imports inspect, ast, dis and
tokenize: most of `import flowdrop`) and an exec per class; these need only
equality by fields, a hash, a repr and refusing assignment. The rest of the
model keeps its dataclasses. Pure.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's own, without importing typing (milliseconds of every flow's start)
if TYPE_CHECKING:
    from typing import Any


class FrozenRecord:
    """Fields named by `_fields`, set once in `__init__` (through `_set`), compared, hashed and shown by them.

    As a frozen dataclass: equal when the class and every field are equal,
    hashed by the fields, `Name(a=1, b='x')` as repr, and assignment or
    deletion of an attribute raises AttributeError.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def to_dict(self) -> dict[str, Any]:
        """The fields by name (what dataclasses.asdict gave, one level deep)."""
        return {name: getattr(self, name) for name in self._fields}

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")
