"""The bucket as the API uses it: presigned photo uploads, listing and verified deletion.

A port (``PhotoBucket``) whose adapter is the cloud's one S3 adapter,
``cloud_functions.core.storage.S3ObjectStore``. Photos live under ``enrollment/<usn>/<pose>.jpg``
(``contracts.keys``); the enroll function picks each one up from the bucket notification.
Uploads go straight from the browser to the bucket with a presigned POST whose policy fixes the
key, the content type and a size range, so the API never carries image bytes.
"""

from __future__ import annotations

from typing import Protocol

from cloud_functions.core.storage import PresignedUpload

PHOTO_CONTENT_TYPE = "image/jpeg"


class PhotoBucket(Protocol):
    """Port: what the API does with the bucket."""

    def presigned_upload(
        self, key: str, max_bytes: int, expires_in_s: int, content_type: str = PHOTO_CONTENT_TYPE
    ) -> PresignedUpload: ...

    def presigned_download(self, key: str, expires_in_s: int) -> str: ...

    def keys_under(self, prefix: str) -> list[str]: ...

    def exists(self, key: str) -> bool: ...

    def delete_many(self, keys: list[str]) -> None: ...
