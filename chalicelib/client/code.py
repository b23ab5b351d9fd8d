"""MetaflowCode of the client API: the code package a production run's tasks ran from.

Owns: reading a code package (`s3://bucket/packages/<machine>/<sha256>.tar.gz`,
the URL a task records as `code_package` in its attempt and its run.json)
lazily, on the first attribute that needs its bytes, and answering with
Metaflow's names: path, info, flowspec, tarball, script_name. As in
Metaflow, only runs whose tasks ran from a package have one: production
runs here; a local run's `code` is None.
Does not own: writing packages (codepackage/, the uploader) or where the
task finds its package (runtime/packages.py).
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

from flowdrop.client.reading import aws_config
from flowdrop.codepackage.archive import read_package
from flowdrop.datastore import open_storage
from flowdrop.errors import MissingKey, PackageError


class MetaflowCode:
    """A run's code package: `.path` its S3 URL, `.flowspec` the flow file's source, `.info` its manifest,
    `.tarball` the package as a tarfile.TarFile (manifest.json, then code/<files>)."""

    def __init__(self, path: str, owner: str):
        self._path, self._owner = path, owner
        self._data: bytes | None = None
        self._package: Any = None
        self._tarball: tarfile.TarFile | None = None

    def __repr__(self) -> str:
        return f"MetaflowCode('{self._path}')"

    def __str__(self) -> str:
        return f"<MetaflowCode: {self.script_name}>"

    def _bytes(self) -> bytes:
        if self._data is None:
            folder, _, name = self._path.rpartition("/")
            try:
                self._data = open_storage(folder, aws_config()).get(name)
            except MissingKey as err:
                raise PackageError(f"{self._owner}: its code package {self._path} is no longer there "
                                   f"(deleted from the bucket?)") from err
        return self._data

    def _read(self) -> Any:
        if self._package is None:
            try:
                self._package = read_package(self._bytes())
            except PackageError as err:
                raise PackageError(f"{self._owner}: code package {self._path}: {err}") from err
        return self._package

    @property
    def path(self) -> str:
        """Where the code package is: its s3:// URL."""
        return self._path

    @property
    def info(self) -> dict[str, Any]:
        """The package's manifest (flow_name, flow_file, user, created, code_sha256, ...); {} if it has none."""
        return json.loads(json.dumps(self._read().manifest or {}))  # a copy: callers may change theirs

    @property
    def script_name(self) -> str:
        """The flow file's path inside the package (Metaflow's script name)."""
        return str(self._read().manifest.get("flow_file") or "")

    @property
    def flowspec(self) -> str:
        """The source text of the file holding the flow's FlowSpec."""
        package, name = self._read(), self.script_name
        if name not in package.files:
            raise PackageError(f"{self._owner}: code package {self._path} holds no flow file {name!r}")
        return package.files[name].decode("utf-8")

    @property
    def tarball(self) -> tarfile.TarFile:
        """The whole package as a tarfile.TarFile: manifest.json, then code/<path> for every file."""
        if self._tarball is None:
            self._tarball = tarfile.open(fileobj=io.BytesIO(self._bytes()), mode="r:gz")
        return self._tarball


def code_of(url: Any, owner: str) -> MetaflowCode | None:
    """The MetaflowCode of a recorded `code_package` URL, None when there is none (a local run)."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        return None
    return MetaflowCode(url, owner)


def code_package_entry(url: str) -> str:
    """Metaflow's `code-package` metadata value: JSON naming the package's location, datastore type and sha."""
    return json.dumps({"location": url, "ds_type": url.partition(":")[0],
                       "sha": url.rsplit("/", 1)[-1].removesuffix(".tar.gz")})
