"""Metaflow's S3 client (`from flowdrop import S3`): get, put and list objects, Metaflow's names and semantics.

Owns: S3 (a context manager over one boto3 client and a temporary folder),
S3Object (what get/info/list answer: url, key, blob, text, path, size,
metadata, ...) and Metaflow's S3 exceptions. Where keys live, as Metaflow's:
`S3(run=self)` under `<datatools root>/<flow>/<run id>`, `S3(s3root=URL)`
under URL, `S3()` full `s3://` URLs only. The datatools root is
$METAFLOW_DATATOOLS_S3ROOT (or FLOWDROP_DATATOOLS_S3ROOT), else `datatools/`
beside the run's artifacts when the run keeps them in S3 (every production
run), else the client config's production datastore. Does not own the
datastore (datastore/s3.py) or where boto3 clients are made (aws.py).

Not built: Metaflow's byte ranges, `encryption=`, role/session_vars
arguments and its failure injection; a client passed as external_client is used as is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from typing import Any

from flowdrop.exception import MetaflowException

_THREADS = 8  # get_many/put_many requests at once (a boto3 client is thread-safe)


class MetaflowS3Exception(MetaflowException):
    headline = "S3 access failed"


class MetaflowS3URLException(MetaflowException):
    headline = "S3 URL error"


class MetaflowS3NotFound(MetaflowException):
    headline = "S3 object not found"


class MetaflowS3AccessDenied(MetaflowException):
    headline = "S3 access denied"


class MetaflowS3InvalidObject(MetaflowException):
    headline = "Not a string-like object"


class S3Object:
    """One object (or prefix) as S3's get, info and list calls answer it."""

    def __init__(self, url: str, key: str, prefix: str | None, path: str | None = None, size: int | None = None,
                 exists: bool = True, info: dict[str, Any] | None = None):
        self._url, self._key, self._prefix, self._path = url, key, prefix, path
        self._size, self._exists, self._info = size, exists, info

    url = property(lambda self: self._url, doc="s3://bucket/key")
    key = property(lambda self: self._key, doc="The key as asked for (relative to the client's root, if any).")
    prefix = property(lambda self: self._prefix, doc="The prefix the object was found under, if listed.")
    exists = property(lambda self: self._exists, doc="False for a missing object (return_missing=True).")
    downloaded = property(lambda self: self._path is not None, doc="True when the object's bytes are local.")
    path = property(lambda self: self._path, doc="The local file holding the object's bytes (get calls).")
    size = property(lambda self: self._size, doc="Bytes, when known.")
    has_info = property(lambda self: self._info is not None, doc="True when metadata and content type are known.")
    metadata = property(lambda self: (self._info or {}).get("metadata"), doc="The user metadata, as put.")
    content_type = property(lambda self: (self._info or {}).get("content_type"), doc="The Content-Type.")
    last_modified = property(lambda self: (self._info or {}).get("last_modified"), doc="Epoch seconds.")
    encryption = property(lambda self: (self._info or {}).get("encryption"), doc="Server-side encryption.")
    range_info = property(lambda self: None, doc="Byte ranges are not built: always None.")

    @property
    def blob(self) -> bytes | None:
        """The object's bytes (get calls only)."""
        if self._path is None:
            return None
        with open(self._path, "rb") as data:
            return data.read()

    @property
    def text(self) -> str | None:
        """The object's bytes as UTF-8 text."""
        blob = self.blob
        return None if blob is None else blob.decode("utf-8")

    def __str__(self) -> str:
        return f"<S3Object {self._url}{' (not found)' if not self._exists else ''}>"

    __repr__ = __str__


class S3:
    """`with S3(run=self) as s3: s3.put('model', blob); s3.get('model').blob`: Metaflow's S3 client."""

    def __init__(self, tmproot: str = ".", bucket: str | None = None, prefix: str | None = None, run: Any = None,
                 s3root: str | None = None, encryption: str | None = None, **kwargs: Any):
        storage = _task_storage()
        if run is not None:
            flow, run_id = _run_ids(run)
            root = _datatools_root(storage)
            parsed_bucket, _, parsed_prefix = root[len("s3://"):].partition("/")
            path = "/".join(p.strip("/") for p in (prefix or parsed_prefix, flow, run_id) if p and p.strip("/"))
            self._s3root: str | None = f"s3://{bucket or parsed_bucket}/{path}"
        elif s3root:
            if not str(s3root).startswith("s3://"):
                raise MetaflowS3URLException(f"s3root needs to be an S3 URL prefixed with s3://, not {s3root!r}")
            self._s3root = str(s3root).rstrip("/")
        else:
            self._s3root = None
        self._client = kwargs.get("external_client") or (
            storage.client if storage is not None and hasattr(storage, "bucket") else _config_client())
        self._tmpdir = tempfile.mkdtemp(dir=tmproot, prefix="metaflow.s3.")

    def __enter__(self) -> S3:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Delete the temporary folder that get calls downloaded into."""
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- locations ---------------------------------------------------------------------------

    def _url(self, key: str | None) -> str:
        if key is not None and str(key).startswith("s3://"):
            return str(key)
        if self._s3root is None:
            raise MetaflowS3URLException(f"{key!r} is not a full s3:// URL: give full URLs, or make the client "
                                         "with S3(run=self) or S3(s3root='s3://bucket/prefix')")
        return self._s3root if not key else f"{self._s3root}/{str(key).lstrip('/')}"

    def _key_of(self, url: str) -> str:
        root = self._s3root
        return url[len(root) + 1:] if root and url.startswith(root + "/") else url

    # -- reading -----------------------------------------------------------------------------

    def info(self, key: str | None = None, return_missing: bool = False) -> S3Object:
        """An object's size, metadata and content type, without its bytes."""
        url = self._url(key)
        try:
            head = self._call("head_object", url)
        except MetaflowS3NotFound:
            if return_missing:
                return S3Object(url, self._key_of(url), None, exists=False)
            raise
        return S3Object(url, self._key_of(url), None, size=head["ContentLength"], info=_info(head))

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        """info() of several keys, concurrently, in order."""
        return self._each(lambda key: self.info(key, return_missing), keys)

    def get(self, key: str | None = None, return_missing: bool = False, return_info: bool = True) -> S3Object:
        """The object's bytes in a local file (obj.path, obj.blob, obj.text); MetaflowS3NotFound if missing."""
        url = self._url(key)
        try:
            answer = self._call("get_object", url)
        except MetaflowS3NotFound:
            if return_missing:
                return S3Object(url, self._key_of(url), None, exists=False)
            raise
        fd, path = tempfile.mkstemp(dir=self._tmpdir)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(answer["Body"], out)
        return S3Object(url, self._key_of(url), None, path=path, size=answer["ContentLength"],
                        info=_info(answer) if return_info else None)

    def get_many(self, keys: Iterable[str], return_missing: bool = False, return_info: bool = True) -> list[S3Object]:
        """get() of several keys, concurrently, in order."""
        return self._each(lambda key: self.get(key, return_missing, return_info), keys)

    def get_recursive(self, keys: Iterable[str], return_info: bool = False) -> list[S3Object]:
        """Every object under each of the prefixes, downloaded."""
        return self.get_many([obj.url for obj in self.list_recursive(keys)], return_info=return_info)

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        """Every object under the client's root."""
        if self._s3root is None:
            raise MetaflowS3URLException("get_all() needs a root: S3(run=self) or S3(s3root=...)")
        return self.get_recursive([None], return_info)  # type: ignore[list-item]

    def list_paths(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """The objects and sub-prefixes directly under each prefix (a prefix's exists is False)."""
        return [obj for key in (keys or [None]) for obj in self._list(key, delimiter=True)]

    def list_recursive(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """Every object under each prefix."""
        return [obj for key in (keys or [None]) for obj in self._list(key, delimiter=False)]

    def _list(self, key: str | None, delimiter: bool) -> list[S3Object]:
        url = self._url(key)
        bucket, _, prefix = url[len("s3://"):].partition("/")
        prefix = prefix.rstrip("/") + "/" if prefix else ""
        found: list[S3Object] = []
        paginator = self._client.get_paginator("list_objects_v2")
        extra = {"Delimiter": "/"} if delimiter else {}
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix, **extra):
            for common in page.get("CommonPrefixes", []):
                child = f"s3://{bucket}/{common['Prefix']}"
                found.append(S3Object(child, self._key_of(child.rstrip("/")), url, exists=False))
            for item in page.get("Contents", []):
                child = f"s3://{bucket}/{item['Key']}"
                found.append(S3Object(child, self._key_of(child), url, size=item["Size"]))
        return found

    # -- writing -----------------------------------------------------------------------------

    def put(self, key: str, obj: str | bytes | Any, overwrite: bool = True, content_type: str | None = None,
            metadata: dict[str, str] | None = None) -> str:
        """Store `obj` (str, bytes or a readable file) at key; its URL. overwrite=False keeps an existing object."""
        url = self._url(key)
        if isinstance(obj, str):
            body = obj.encode("utf-8")
        elif isinstance(obj, (bytes, bytearray, memoryview)):
            body = bytes(obj)
        elif hasattr(obj, "read"):
            body = obj.read()
        else:
            raise MetaflowS3InvalidObject(f"put({key!r}, ...): give str, bytes or a file, not {type(obj).__name__}")
        if not overwrite and self.info(key, return_missing=True).exists:
            return url
        extra: dict[str, Any] = {}
        if content_type:
            extra["ContentType"] = content_type
        if metadata:
            extra["Metadata"] = {str(k): str(v) for k, v in metadata.items()}
        self._call("put_object", url, Body=body, **extra)
        return url

    def put_many(self, key_objs: Iterable[Any], overwrite: bool = True) -> list[tuple[str, str]]:
        """put() of (key, obj) pairs (or objects with .key and .value), concurrently; [(key, url)] in order."""
        pairs = [(item.key, item.value) if hasattr(item, "key") else tuple(item) for item in key_objs]
        urls = self._each(lambda pair: self.put(pair[0], pair[1], overwrite=overwrite), pairs)
        return [(key, url) for (key, _), url in zip(pairs, urls)]

    def put_files(self, key_paths: Iterable[Any], overwrite: bool = True) -> list[tuple[str, str]]:
        """Upload local files: (key, path) pairs (or objects with .key and .path); [(key, url)] in order."""
        pairs = [(item.key, item.path) if hasattr(item, "key") else tuple(item) for item in key_paths]

        def upload(pair: tuple[str, str]) -> str:
            with open(pair[1], "rb") as data:
                return self.put(pair[0], data, overwrite=overwrite)

        urls = self._each(upload, pairs)
        return [(key, url) for (key, _), url in zip(pairs, urls)]

    # -- plumbing ----------------------------------------------------------------------------

    def _each(self, call: Any, items: Iterable[Any]) -> list[Any]:
        items = list(items)
        if len(items) <= 1:
            return [call(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(_THREADS, len(items))) as pool:
            return list(pool.map(call, items))

    def _call(self, operation: str, url: str, **extra: Any) -> Any:
        bucket, _, key = url[len("s3://"):].partition("/")
        try:
            return getattr(self._client, operation)(Bucket=bucket, Key=key, **extra)
        except self._client.exceptions.ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise MetaflowS3NotFound(f"{url} does not exist") from None
            if code in ("403", "AccessDenied"):
                raise MetaflowS3AccessDenied(f"{url}: access denied") from None
            raise MetaflowS3Exception(f"{operation} {url} failed: {err}") from None


def _info(answer: dict[str, Any]) -> dict[str, Any]:
    modified = answer.get("LastModified")
    return {"metadata": dict(answer.get("Metadata") or {}), "content_type": answer.get("ContentType"),
            "last_modified": int(modified.timestamp()) if modified is not None else None,
            "encryption": answer.get("ServerSideEncryption")}


def _task_storage() -> Any:
    from flowdrop.current import current

    return current._values.get("trigger_storage") if current.is_running_flow else None


def _run_ids(run: Any) -> tuple[str, str]:
    """(flow, run id) of S3(run=...): a running flow's self, or a client Run."""
    from flowdrop.current import current
    from flowdrop.flowspec import FlowSpec

    if isinstance(run, FlowSpec):
        if not current.is_running_flow:
            raise MetaflowS3URLException("S3(run=self) works inside a running step only")
        return str(current.flow_name), str(current.run_id)
    return str(run.parent.id), str(run.id)


def _datatools_root(storage: Any) -> str:
    """Where S3(run=...) keeps objects: the configured root, else beside the run's artifacts or production's."""
    root = os.environ.get("METAFLOW_DATATOOLS_S3ROOT") or os.environ.get("FLOWDROP_DATATOOLS_S3ROOT")
    if not root and storage is not None and str(getattr(storage, "url", "")).startswith("s3://"):
        root = f"{storage.url}/datatools"
    if not root:
        from flowdrop.config import load_config

        config = load_config()
        base = config.production_datastore or (f"s3://{config.bucket}/data" if config.bucket else None)
        root = f"{base.rstrip('/')}/datatools" if base and base.startswith("s3://") else None
    if not root or not root.startswith("s3://"):
        raise MetaflowS3URLException("S3(run=...) needs an S3 root: set METAFLOW_DATATOOLS_S3ROOT=s3://bucket/prefix, "
                                     "or run where artifacts are kept in S3 (production, or a config with a "
                                     "production_datastore), or use S3(s3root='s3://...')")
    return root.rstrip("/")


def _config_client() -> Any:
    from flowdrop.config import load_config

    return load_config().aws.client("s3")
