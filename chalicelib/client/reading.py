"""Where the client API reads runs, and in which namespace.

Owns: set_datastore(), namespace(), get_namespace(), default_namespace(),
Metaflow's get_metadata()/metadata() (the datastore is where flowdrop keeps
what Metaflow's metadata provider records), the datastores to read in lookup order (the primary one, then
production's), and the small parsing helpers the client objects share.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdrop.datastore import Storage, open_storage
from flowdrop.errors import MissingObjectError

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


def aws_config() -> Any:
    """The config's AWS settings (endpoint, region): how the client reads S3 beyond the datastores (code packages)."""
    return _config().aws


def _as_storage(value: str | Storage) -> Storage:
    return value if isinstance(value, Storage) else open_storage(value, _config().aws)


def storages() -> list[Storage]:
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


def get_metadata() -> str:
    """Metaflow's get_metadata(): where run records are read, `local@<folder>` or `s3@s3://bucket/prefix`.

    flowdrop has no metadata service: runs, tasks and their metadata live in the datastore beside the artifacts.
    """
    storage = storages()[0]
    if storage.url.startswith("file://"):
        return f"local@{storage.url[len('file://'):]}"
    return f"{storage.url.partition(':')[0]}@{storage.url}"


def metadata(ms: str) -> str:
    """Metaflow's metadata(ms): `local` (the configured datastore), `local@<folder>` or `s3@s3://...`; returns
    get_metadata(). A metadata service (`service@...`) does not exist in flowdrop and is refused."""
    kind, _, where_to = str(ms).partition("@")
    if kind == "service":
        from flowdrop.not_offered import METADATA_SERVICE, NotOfferedError

        raise NotOfferedError("metadata service", METADATA_SERVICE)
    if kind not in ("local", "s3"):
        raise ValueError(f"metadata({ms!r}): give 'local', 'local@<folder>' or 's3@s3://bucket/prefix'")
    set_datastore(where_to or None)
    return get_metadata()


def where() -> str:
    """The datastores read, for messages."""
    return " or ".join(s.url for s in storages())


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


def split_pathspec(kind: str, pathspec: str, parts: int) -> list[str]:
    """The components of a pathspec of `kind` with `parts` of them; MissingObjectError naming the shape otherwise."""
    pieces = pathspec.split("/") if isinstance(pathspec, str) else []
    if len(pieces) != parts or not all(pieces):
        shape = "/".join(["Flow", "run_id", "step", "task_id", "artifact"][:parts])
        raise MissingObjectError(kind, str(pathspec), f"'{shape}'", problem="is not a pathspec: expected one like")
    return pieces


def parse_time(value: Any) -> datetime | None:
    """An ISO time from metadata as a datetime; None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


# The client's classes by kind, filled in by objects.py, step.py and task.py (as
# Metaflow's _CLASSES): a Task is built from its pathspec through its Step, and a
# Step through its Run, without importing the modules that import them.
CLASSES: dict[str, type] = {}


def rebuild(kind: str, pathspec: str) -> Any:
    """A client object from its pathspec, without the namespace check: what unpickling one gives."""
    return CLASSES[kind](pathspec, _namespace_check=False)
