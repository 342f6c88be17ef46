"""Enrollment photos in the bucket: presigned uploads, listing and verified deletion.

Port (``PhotoBucket``) and its S3 adapter. Photos live under ``enrollment/<usn>/<pose>.jpg``; the
enroll function picks each one up from the bucket notification. Uploads go straight from the
browser to the bucket with a presigned POST whose policy fixes the key, the content type and a
size range, so the API never carries image bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from cloud_functions.core.errors import StorageError
from contracts.ids import same_usn

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ENROLLMENT_PREFIX = "enrollment/"
# cam2's body crops of door-tagged students: captures/gallery/<room>/<date>/<usn>/<capture_id>.jpg
GALLERY_PREFIX = "captures/gallery/"
PHOTO_CONTENT_TYPE = "image/jpeg"
_DELETE_BATCH = 1000  # S3's DeleteObjects limit


def enrollment_photo_key(usn: str, pose: str) -> str:
    """The object key of a student's photo of one pose."""
    return f"{ENROLLMENT_PREFIX}{usn}/{pose}.jpg"


def enrollment_prefix(usn: str) -> str:
    """The prefix under which all of a student's enrollment photos live."""
    return f"{ENROLLMENT_PREFIX}{usn}/"


def is_gallery_crop_of(key: str, usn: str) -> bool:
    """True if ``key`` is a cam2 gallery crop of the student ``usn``.

    The USN in the key is compared as the database compares USNs (case-insensitively): the
    bucket would keep ``.../1ms21cs004/...`` apart from ``.../1MS21CS004/...``.
    """
    parts = key.split("/")
    return key.startswith(GALLERY_PREFIX) and len(parts) == 6 and same_usn(parts[4], usn)


@dataclass(frozen=True)
class PresignedUpload:
    """A browser form upload: POST ``fields`` plus a ``file`` part to ``url``."""

    url: str
    fields: dict[str, str]
    object_key: str
    max_bytes: int
    expires_in_s: int


class PhotoBucket(Protocol):
    """Port: the enrollment photos of the bucket."""

    def presigned_upload(self, key: str, max_bytes: int, expires_in_s: int) -> PresignedUpload: ...

    def keys_under(self, prefix: str) -> list[str]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: list[str]) -> None: ...


class S3PhotoBucket:
    """``PhotoBucket`` on an S3 bucket (real S3 or the local stack's endpoint)."""

    def __init__(self, s3_client: S3Client, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def presigned_upload(self, key: str, max_bytes: int, expires_in_s: int) -> PresignedUpload:
        """A presigned POST for exactly ``key``, JPEG, 1 byte to ``max_bytes``."""
        try:
            post = self._s3.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields={"Content-Type": PHOTO_CONTENT_TYPE},
                Conditions=[
                    {"Content-Type": PHOTO_CONTENT_TYPE},
                    ["content-length-range", 1, max_bytes],
                ],
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

    def keys_under(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``."""
        keys: list[str] = []
        try:
            paginator = self._s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                keys += [item["Key"] for item in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"cannot list s3://{self.bucket}/{prefix}: {e}") from e
        return keys

    def exists(self, key: str) -> bool:
        """True if ``key`` is in the bucket."""
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code", "") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise StorageError(f"cannot check s3://{self.bucket}/{key}: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"cannot check s3://{self.bucket}/{key}: {e}") from e
        return True

    def delete(self, keys: list[str]) -> None:
        """Delete ``keys``; any key S3 reports as not deleted raises ``StorageError``."""
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            try:
                response = self._s3.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            except (ClientError, BotoCoreError) as e:
                raise StorageError(f"s3://{self.bucket}: deleting {len(batch)} objects failed: {e}") from e
            failed = [error.get("Key", "?") for error in response.get("Errors", [])]
            if failed:
                raise StorageError(f"s3://{self.bucket}: {len(failed)} objects not deleted: {failed[:5]}")
