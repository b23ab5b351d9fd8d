"""The byte key-value interface every datastore backend implements.

Owns: the Storage contract (keys are '/'-separated relative paths) and key
validation. Does not own: what the keys mean (model/layout.py, flow.py), how
bytes reach a disk or a bucket (folder.py, s3.py) or which backend a URL
means (backends.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from flowdrop.errors import DatastoreError


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative path ('a/b/c'), else raise DatastoreError."""
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key:
        raise DatastoreError(f"invalid datastore key '{key}': expected a relative path like 'Flow/runs/1/run.json'")
    return key


def check_prefix(prefix: str) -> str:
    """Normalise a listing prefix: '' (the whole store) or a key without a trailing '/'."""
    prefix = prefix.strip("/")
    return check_key(prefix) if prefix else ""


class Storage(ABC):
    """A store of bytes under '/'-separated keys.

    Listing prefixes are directory-like: list('a/b') covers 'a/b/...' and
    never 'a/bc'. Keys returned by list are full keys relative to the store.
    """

    url: str
    # True where a request costs a round trip (S3): readers of many keys then read them concurrently.
    prefers_concurrent_reads: bool = False

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write `data` under `key`, replacing any previous value."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write `data` under `key` unless it exists; True when this call wrote it."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes under `key`; raises MissingKey when there are none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """True when `key` holds a value."""

    def size(self, key: str) -> int:
        """Bytes under `key` (MissingKey when there are none); backends that can, answer without reading them."""
        return len(self.get(key))

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Every key under `prefix`, sorted."""

    @abstractmethod
    def list_children(self, prefix: str) -> list[str]:
        """The immediate child names under `prefix` (keys and 'directories'), sorted."""

    @abstractmethod
    def location(self, key: str) -> dict[str, str] | None:
        """Where `key` lives for an AWS service ({"Bucket", "Key"} on S3), None when not in S3."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


