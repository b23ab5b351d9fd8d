"""Which Storage backend a datastore URL means: the registry the Storage interface never names.

Owns: open_storage (a folder path, file://... or s3://bucket/prefix -> a
backend). Does not own: the interface (storage.py) or the backends (folder.py,
s3.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdrop.datastore.storage import Storage
from flowdrop.errors import DatastoreError

if TYPE_CHECKING:
    from flowdrop.aws import AwsConfig


def open_storage(url: str, aws: AwsConfig | None = None, s3_client: Any = None) -> Storage:
    """The backend for a datastore URL: a folder path, file://..., or s3://bucket/prefix.

    `s3_client`: a ready client for `aws` to use instead of making one (a forked task inherits it).
    """
    from flowdrop.datastore.folder import FolderStorage
    from flowdrop.datastore.s3 import S3Storage

    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise DatastoreError(f"datastore URL '{url}' names no bucket: expected s3://bucket/prefix")
        if aws is None:
            from flowdrop.aws import AwsConfig

            aws = AwsConfig.from_env()
        return S3Storage(s3_client if s3_client is not None else aws.client("s3"), bucket, prefix)
    if url.startswith("file://"):
        url = url[len("file://") :]
    elif "://" in url:
        raise DatastoreError(f"datastore URL '{url}': unknown scheme; use a folder path, file:// or s3://")
    if not url:
        raise DatastoreError("empty datastore URL: use a folder path, file:// or s3://bucket/prefix")
    return FolderStorage(Path(url).expanduser().resolve())
