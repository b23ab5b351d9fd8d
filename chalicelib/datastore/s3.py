"""A Storage in an S3 bucket under a prefix: what production runs use.

Owns: mapping keys to objects, paginated listings, and turning ClientError
into DatastoreError naming the S3 operation, bucket and key. Receives a
ready boto3 S3 client (aws.py makes them).
"""

from __future__ import annotations

from typing import Any

from flowdrop.datastore.storage import Storage, check_key, check_prefix
from flowdrop.errors import DatastoreError, MissingKey

_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
# 412: the object exists (If-None-Match: *). 409: another conditional write
# of the same key is in flight on AWS; either way someone else wrote it.
_EXISTS_CODES = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


def _code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class S3Storage(Storage):
    """Keys are objects `<prefix>/<key>` in `bucket`; listings read `page_size` keys a request."""

    prefers_concurrent_reads = True  # boto3 clients are thread-safe; each request is a round trip

    def __init__(self, client: Any, bucket: str, prefix: str = "", page_size: int = 1000):
        self.client = client
        self.page_size = page_size
        # The client's own exception class: no botocore import for folder-only runs.
        self._client_error = client.exceptions.ClientError
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _failure(self, operation: str, key: str, err: Exception) -> DatastoreError:
        return DatastoreError(f"S3 {operation} s3://{self.bucket}/{self._object_key(key)} failed: {err}")

    def put(self, key: str, data: bytes) -> None:
        """Write `data` under `key`."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data)
        except self._client_error as err:
            raise self._failure("PutObject", key, err) from err

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write `data` under `key` unless it exists (a conditional PutObject)."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data, IfNoneMatch="*")
            return True
        except self._client_error as err:
            if _code(err) in _EXISTS_CODES:
                return False
            raise self._failure("PutObject", key, err) from err

    def get(self, key: str) -> bytes:
        """The bytes under `key`; raises MissingKey when there are none."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
            return response["Body"].read()
        except self._client_error as err:
            if _code(err) in _MISSING_CODES:
                raise MissingKey(self.url, key) from err
            raise self._failure("GetObject", key, err) from err

    def exists(self, key: str) -> bool:
        """True when the object exists (HeadObject)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
            return True
        except self._client_error as err:
            if _code(err) in _MISSING_CODES:
                return False
            raise self._failure("HeadObject", key, err) from err

    def size(self, key: str) -> int:
        """Bytes under `key` (HeadObject's ContentLength); MissingKey when there are none."""
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))["ContentLength"])
        except self._client_error as err:
            if _code(err) in _MISSING_CODES:
                raise MissingKey(self.url, key) from err
            raise self._failure("HeadObject", key, err) from err

    def _pages(self, prefix: str, **extra: Any) -> Any:
        prefix = check_prefix(prefix)
        full = "/".join(p for p in (self.prefix, prefix) if p)
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            yield from paginator.paginate(
                Bucket=self.bucket,
                Prefix=f"{full}/" if full else "",
                PaginationConfig={"PageSize": self.page_size},
                **extra,
            )
        except self._client_error as err:
            raise DatastoreError(f"S3 ListObjectsV2 s3://{self.bucket}/{full} failed: {err}") from err

    def list(self, prefix: str) -> list[str]:
        """Every key under `prefix`, sorted."""
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys = [obj["Key"][strip:] for page in self._pages(prefix) for obj in page.get("Contents", ())]
        return sorted(keys)

    def list_children(self, prefix: str) -> list[str]:
        """The immediate child names under `prefix` (objects and common prefixes), sorted."""
        names = set()
        for page in self._pages(prefix, Delimiter="/"):
            for obj in page.get("Contents", ()):
                names.add(obj["Key"].rsplit("/", 1)[-1])
            for common in page.get("CommonPrefixes", ()):
                names.add(common["Prefix"].rstrip("/").rsplit("/", 1)[-1])
        return sorted(names)

    def location(self, key: str) -> dict[str, str] | None:
        """{"Bucket": ..., "Key": ...}: what a Distributed Map's ItemReader takes."""
        return {"Bucket": self.bucket, "Key": self._object_key(key)}
