"""The object store port and its S3 adapter.

Functions read captures and enrollment photos through ``ObjectStore``; the adapter turns
botocore errors into the project's ``StorageError`` / ``ObjectNotFoundError``. A missing object
is a recorded outcome; any other storage failure is transient and retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from cloud_functions.core.errors import ObjectNotFoundError, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


@dataclass(frozen=True)
class StoredObject:
    """An object's user metadata and size, and its bytes once downloaded (empty after ``head``)."""

    metadata: Mapping[str, str]
    size_bytes: int
    body: bytes = b""
    content_type: str | None = None
    last_modified: datetime | None = None
    """When the object was stored (S3's ``LastModified``): its arrival, by the bucket's clock."""


class ObjectStore(Protocol):
    """Port: one bucket. Missing keys raise ``ObjectNotFoundError``."""

    def head(self, key: str) -> StoredObject: ...

    def get(self, key: str) -> StoredObject: ...

    def put(self, key: str, body: bytes, metadata: Mapping[str, str], content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...


class S3ObjectStore:
    """``ObjectStore`` on an S3 bucket (real S3 or the local stack's endpoint)."""

    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def _error(self, key: str, e: Exception) -> StorageError:
        code = e.response.get("Error", {}).get("Code", "") if isinstance(e, ClientError) else ""
        if code in _NOT_FOUND_CODES:
            return ObjectNotFoundError(f"s3://{self.bucket}/{key} does not exist")
        return StorageError(f"s3://{self.bucket}/{key}: {e}")

    def head(self, key: str) -> StoredObject:
        try:
            response = self._s3.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as e:
            raise self._error(key, e) from e
        return StoredObject(
            metadata=dict(response.get("Metadata", {})),
            size_bytes=int(response.get("ContentLength", 0)),
            content_type=response.get("ContentType"),
            last_modified=response.get("LastModified"),
        )

    def get(self, key: str) -> StoredObject:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"].read()
        except (ClientError, BotoCoreError) as e:
            raise self._error(key, e) from e
        return StoredObject(
            metadata=dict(response.get("Metadata", {})),
            size_bytes=len(body),
            body=body,
            content_type=response.get("ContentType"),
            last_modified=response.get("LastModified"),
        )

    def put(self, key: str, body: bytes, metadata: Mapping[str, str], content_type: str) -> None:
        try:
            self._s3.put_object(
                Bucket=self.bucket, Key=key, Body=body, Metadata=dict(metadata), ContentType=content_type
            )
        except (ClientError, BotoCoreError) as e:
            raise self._error(key, e) from e

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as e:
            raise self._error(key, e) from e
