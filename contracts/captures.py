"""The S3 user metadata of the crops the edge uploads, written by the edge and read by the functions.

S3 user metadata is a flat map of short strings, so every model has ``to_s3()`` (what the edge
attaches) and ``from_s3()`` (what a function parses, raising ``pydantic.ValidationError``).
Unknown keys are ignored on reading, so an edge client a version ahead does not break a function.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.ids import CameraId, CaptureId, RoomId, Usn


class CaptureMetadata(BaseModel):
    """Any crop: which room and camera took it, when, and its id (one capture, one id)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    room_id: RoomId
    camera_id: CameraId
    captured_at: AwareDatetime
    capture_id: CaptureId

    def to_s3(self) -> dict[str, str]:
        """The object's user metadata; the time in UTC, to the millisecond."""
        values = self.model_dump(exclude_none=True)
        values["captured_at"] = self.captured_at.astimezone(UTC).isoformat(timespec="milliseconds")
        return {name: str(value) for name, value in values.items()}

    @classmethod
    def from_s3(cls, metadata: Mapping[str, str]) -> Self:
        """Parse an object's user metadata (``ValidationError`` when missing or malformed)."""
        return cls.model_validate(dict(metadata))


class FaceCaptureMetadata(CaptureMetadata):
    """A door face crop from cam1 (``captures/faces/...``)."""


class BodyCaptureMetadata(CaptureMetadata):
    """A body crop from cam2 (``captures/bodies/...``), naming the track it shows."""

    tracker_id: int | None = Field(None, ge=0, description="cam2's track id: a body answer goes back to it.")


class GalleryCropMetadata(BodyCaptureMetadata):
    """A crop of a track a door handoff tagged (``captures/gallery/...``), naming the student."""

    usn: Usn


def capture_time(metadata: CaptureMetadata) -> datetime:
    """When the crop was taken, in UTC."""
    return metadata.captured_at.astimezone(UTC)
