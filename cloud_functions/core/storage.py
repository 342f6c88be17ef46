"""The object store port and its S3 adapter, the cloud's one adapter of the bucket.

Functions read captures and enrollment photos through ``ObjectStore``; the API also presigns
uploads, lists and deletes (``cloud_functions.api.photos.PhotoBucket``). ``S3ObjectStore`` does
both and turns botocore errors into the project's ``StorageError`` / ``ObjectNotFoundError``. A
missing object is a recorded outcome; any other storage failure is transient and retried.
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
_DELETE_BATCH = 1000  # S3's DeleteObjects limit


@dataclass(frozen=True)
class PresignedUpload:
    """A browser form upload: POST ``fields`` plus a ``file`` part to ``url``."""

    url: str
    fields: dict[str, str]
    object_key: str
    max_bytes: int
    expires_in_s: int


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

    def presigned_upload(
        self, key: str, max_bytes: int, expires_in_s: int, content_type: str = "image/jpeg"
    ) -> PresignedUpload:
        """A presigned POST for exactly ``key``, of ``content_type``, 1 byte to ``max_bytes``."""
        try:
            post = self._s3.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
                ExpiresIn=expires_in_s,
            )
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot presign s3://{self.bucket}/{key}: {e}") from e
        return PresignedUpload(
            url=post["url"],
            fields={str(k): str(v) for k, v in post["fields"].items()},
            object_key=key,
            max_bytes=max_bytes,
            expires_in_s=expires_in_s,
        )

    def presigned_download(self, key: str, expires_in_s: int) -> str:
        """A presigned GET URL for ``key``, valid for ``expires_in_s`` seconds."""
        try:
            url: str = self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in_s
            )
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot presign s3://{self.bucket}/{key}: {e}") from e
        return url

    def keys_under(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``."""
        keys: list[str] = []
        try:
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot list s3://{self.bucket}/{prefix}: {e}") from e
        return keys

    def exists(self, key: str) -> bool:
        """True if ``key`` is in the bucket."""
        try:
            self.head(key)
        except ObjectNotFoundError:
            return False
        return True

    def delete_many(self, keys: list[str]) -> None:
        """Delete ``keys``; any key S3 reports as not deleted raises ``StorageError``."""
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            try:
                response = self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
                )
            except (ClientError, BotoCoreError) as e:
                raise StorageError(f"s3://{self.bucket}: deleting {len(batch)} objects failed: {e}") from e
            failed = [error.get("Key", "?") for error in response.get("Errors", [])]
            if failed:
                raise StorageError(f"s3://{self.bucket}: {len(failed)} objects not deleted: {failed[:5]}")
