"""Metaflow's card components (`from metaflow.cards import Markdown, Table, ...`), accepted and not rendered.

Owns: the component classes a step builds for `current.card`, and the
`current.card` collector, which keeps what a task appends (readable as
`current.card.components`) and renders nothing: @card is one of the Metaflow
decorators flowdrop accepts without carrying out (model/ignored.py says so
when a flow uses it). A flow written for cards imports and runs unchanged.
Does not own: the @card decorator (decorators.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class MetaflowCardComponent:
    """A card component: keeps what it was built with; `update()` changes it, as Metaflow's dynamic ones."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Metaflow's refreshable components take new data here; kept, not rendered."""
        self.args = args or self.args
        self.kwargs.update(kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(not rendered)"


class Markdown(MetaflowCardComponent):
    """Metaflow's Markdown component."""


class Table(MetaflowCardComponent):
    """Metaflow's Table component."""

    @classmethod
    def from_dataframe(cls, dataframe: Any = None, truncate: bool = True) -> Table:
        """As Metaflow's Table.from_dataframe."""
        return cls(dataframe, truncate=truncate)


class Image(MetaflowCardComponent):
    """Metaflow's Image component."""

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None) -> Image:
        """As Metaflow's Image.from_matplotlib."""
        return cls(plot, label=label)

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None) -> Image:
        """As Metaflow's Image.from_pil_image."""
        return cls(pilimage, label=label)


class Artifact(MetaflowCardComponent):
    """Metaflow's Artifact component."""


class Error(MetaflowCardComponent):
    """Metaflow's Error component."""


class VegaChart(MetaflowCardComponent):
    """Metaflow's VegaChart component."""

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> VegaChart:
        """As Metaflow's VegaChart.from_altair_chart."""
        return cls(altair_chart)


class ProgressBar(MetaflowCardComponent):
    """Metaflow's ProgressBar component."""


class PythonCode(MetaflowCardComponent):
    """Metaflow's PythonCode component."""


class EventsTimeline(MetaflowCardComponent):
    """Metaflow's EventsTimeline component."""


class JSONViewer(MetaflowCardComponent):
    """Metaflow's JSONViewer component."""


class YAMLViewer(MetaflowCardComponent):
    """Metaflow's YAMLViewer component."""


class ValueBox(MetaflowCardComponent):
    """Metaflow's ValueBox component."""


def get_cards(*args: Any, **kwargs: Any) -> list:
    """Metaflow's get_cards(task): flowdrop renders no cards, so a task has none."""
    return []


class CardCollector:
    """`current.card`: what a task appends to its cards, kept in the task, never rendered."""

    def __init__(self) -> None:
        self.components: list[Any] = []
        self._by_id: dict[str, CardCollector] = {}

    def append(self, component: Any, id: str | None = None) -> None:  # noqa: A002 - Metaflow's keyword
        """Add a component (to the card with that id)."""
        (self[id] if id is not None else self).components.append(component)

    def extend(self, components: Iterable[Any], id: str | None = None) -> None:  # noqa: A002
        """Add several components."""
        for component in components:
            self.append(component, id)

    def clear(self) -> None:
        """Drop what was appended."""
        self.components.clear()

    def refresh(self, *args: Any, **kwargs: Any) -> None:
        """Metaflow re-renders a live card here; nothing is rendered."""

    def __getitem__(self, card_id: str) -> CardCollector:
        return self._by_id.setdefault(card_id, CardCollector())

    def __setitem__(self, card_id: str, components: Iterable[Any]) -> None:
        self[card_id].components = list(components)

    def __iter__(self):
        return iter(self.components)

    def __len__(self) -> int:
        return len(self.components)
