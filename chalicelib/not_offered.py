"""Metaflow names flowdrop does not offer, present so that code importing them loads, refusing when used.

Owns: parallel as a stand-in whose use raises NotOfferedError naming what to
do instead, and the reason a metadata service is refused (a flow that only imports them
runs; `hasattr(flowdrop, "parallel")` holds, as it does for metaflow). Does not
own: the decorators flowdrop accepts and ignores (model/ignored.py), or
get_metadata/metadata, which answer with the datastore (client/reading.py).
"""

from __future__ import annotations

from typing import Any

from flowdrop.errors import FlowdropError

METADATA_SERVICE = ("runs are recorded in the datastore (metadata('local@<folder>') or flowdrop.set_datastore "
                    "chooses which); there is no metadata service")
_PARALLEL = "@parallel's multi-node gangs have no Step Functions form; use a foreach"


class NotOfferedError(FlowdropError):
    """A Metaflow name flowdrop does not offer was used."""

    def __init__(self, name: str, instead: str):
        super().__init__(f"flowdrop does not offer Metaflow's {name}: {instead}")


def parallel(*args: Any, **kwargs: Any) -> Any:
    """Metaflow's @parallel: not offered."""
    from flowdrop.decorators import definition_error

    raise definition_error(str(NotOfferedError("@parallel", _PARALLEL)))
