"""A Storage in a local folder: what local runs use by default.

Owns: mapping keys to files under a root and writing them atomically (a
temporary file in the same directory, then os.replace), so a reader never
sees half a file even while several task processes write at once.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from flowdrop.datastore.storage import Storage, check_key, check_prefix
from flowdrop.errors import DatastoreError, MissingKey

# Temporary files live next to their target until renamed; listings skip them.
_TEMP_MARK = ".tmp-"


def _is_temp(name: str) -> bool:
    return name.startswith(".") and _TEMP_MARK in name


class FolderStorage(Storage):
    """Keys are files under `root`; directories are created as needed."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _write_temp(self, path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}{_TEMP_MARK}{uuid.uuid4().hex}")
        try:
            with open(temp, "wb") as out:
                out.write(data)
        except BaseException:
            # A full disk (or a kill) mid-write: never leave the part written to fill the disk for good.
            temp.unlink(missing_ok=True)
            raise
        return temp

    def put(self, key: str, data: bytes) -> None:
        """Write `data` under `key` atomically."""
        path = self._path(key)
        try:
            temp = self._write_temp(path, data)
            try:
                os.replace(temp, path)
            except OSError:
                temp.unlink(missing_ok=True)
                raise
        except OSError as err:
            raise DatastoreError(f"{self.url}: cannot write '{key}': {err}") from err

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write `data` under `key` unless it exists; True when this call wrote it."""
        path = self._path(key)
        if path.exists():
            return False
        try:
            temp = self._write_temp(path, data)
            try:
                # link() fails when the target exists, so two writers racing
                # for the same key cannot both win, and the content appears whole.
                os.link(temp, path)
                return True
            except FileExistsError:
                return False
            finally:
                temp.unlink(missing_ok=True)
        except OSError as err:
            raise DatastoreError(f"{self.url}: cannot write '{key}': {err}") from err

    def get(self, key: str) -> bytes:
        """The bytes under `key`; raises MissingKey when there are none."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
            raise MissingKey(self.url, key) from err
        except OSError as err:
            raise DatastoreError(f"{self.url}: cannot read '{key}': {err}") from err

    def exists(self, key: str) -> bool:
        """True when `key` is a file."""
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        """Every key under `prefix`, sorted."""
        prefix = check_prefix(prefix)
        base = self.root.joinpath(*prefix.split("/")) if prefix else self.root
        keys = []
        for dirpath, _dirnames, filenames in os.walk(base):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if not _is_temp(name):
                    keys.append(name if rel == "." else f"{rel}/{name}")
        return sorted(keys)

    def list_children(self, prefix: str) -> list[str]:
        """The immediate child names under `prefix`, sorted."""
        prefix = check_prefix(prefix)
        base = self.root.joinpath(*prefix.split("/")) if prefix else self.root
        try:
            names = os.listdir(base)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(name for name in names if not _is_temp(name))

    def location(self, key: str) -> dict[str, str] | None:
        """None: a folder is not addressable by AWS services."""
        check_key(key)
        return None
