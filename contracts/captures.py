"""The S3 user metadata of the crops the edge uploads, written by the edge and read by the functions.

S3 user metadata is a flat map of short strings, so every model has ``to_s3()`` (what the edge
attaches) and ``from_s3()`` (what a function parses, raising ``pydantic.ValidationError``).
Unknown keys are ignored on reading, so an edge client a version ahead does not break a function.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from contracts.appearance import (
    APPEARANCE_METADATA_KEY,
    APPEARANCE_SIZE,
    AppearanceError,
    decode_appearance,
    encode_appearance,
)
from contracts.ids import CameraId, CaptureId, RoomId, Usn
from contracts.liveness import METADATA_PREFIX, LivenessReport

S3_METADATA_MAX_BYTES = 2048
"""S3's limit on all user-metadata keys and values of one object together (UTF-8 bytes)."""


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
    """A door face crop from cam1 (``captures/faces/...``), with the edge's liveness report and
    the clothing colour below the face.

    The report travels as flat ``liveness_*`` keys (``contracts.liveness``); ``liveness`` is
    ``None`` when the edge sent none (an older edge, liveness off). Malformed ``liveness_*`` keys
    fail validation on the ``liveness`` field, like any other malformed metadata.

    The colour travels as one ``appearance`` key (``contracts.appearance``). It only helps cam2
    tell apart people entering together, so a malformed one is dropped rather than failing the
    capture: ``appearance`` is then ``None`` and ``appearance_problem`` says why.
    """

    liveness: LivenessReport | None = None
    appearance: tuple[float, ...] | None = Field(
        None,
        min_length=APPEARANCE_SIZE,
        max_length=APPEARANCE_SIZE,
        description="Clothing colour below the face (vision.appearance descriptor, unit length).",
    )
    appearance_problem: str | None = Field(
        None, exclude=True, description="Why a malformed appearance value was dropped (never sent)."
    )

    @model_validator(mode="before")
    @classmethod
    def _decode_appearance(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        key = next((k for k in data if str(k).lower() == APPEARANCE_METADATA_KEY), None)
        if key is None or not isinstance(data[key], str):
            return data
        rest = {k: v for k, v in data.items() if k != key}
        try:
            return {**rest, "appearance": decode_appearance(data[key])}
        except AppearanceError as e:
            return {**rest, "appearance": None, "appearance_problem": f"appearance ignored: {e}"}

    @field_validator("appearance")
    @classmethod
    def _unit_values(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None:
            encode_appearance(value)  # raises (a ValueError) on values outside [0, 1]
        return value

    @model_validator(mode="before")
    @classmethod
    def _gather_liveness_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "liveness" in data:
            return data
        flat = {k: v for k, v in data.items() if str(k).lower().startswith(METADATA_PREFIX)}
        rest = {k: v for k, v in data.items() if k not in flat}
        return {**rest, "liveness": flat or None}

    @field_validator("liveness", mode="before")
    @classmethod
    def _report_from_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and any(str(k).lower().startswith(METADATA_PREFIX) for k in value):
            return LivenessReport.from_metadata(value)
        return value

    def to_s3(self) -> dict[str, str]:
        """The object's user metadata, the report's ``liveness_*`` keys included; within 2 KB."""
        values = super().to_s3()
        values.pop("liveness", None)
        values.pop("appearance", None)
        if self.liveness is not None:
            values.update(self.liveness.to_metadata())
        if self.appearance is not None:
            values[APPEARANCE_METADATA_KEY] = encode_appearance(self.appearance)
        size = sum(len(k.encode()) + len(v.encode()) for k, v in values.items())
        if size > S3_METADATA_MAX_BYTES:
            raise ValueError(f"capture metadata of {size} bytes exceeds S3's {S3_METADATA_MAX_BYTES}")
        return values


class BodyCaptureMetadata(CaptureMetadata):
    """A body crop from cam2 (``captures/bodies/...``), naming the track it shows."""

    tracker_id: int | None = Field(None, ge=0, description="cam2's track id: a body answer goes back to it.")


class GalleryCropMetadata(BodyCaptureMetadata):
    """A crop of a track a door handoff tagged (``captures/gallery/...``), naming the student."""

    usn: Usn


def capture_time(metadata: CaptureMetadata) -> datetime:
    """When the crop was taken, in UTC."""
    return metadata.captured_at.astimezone(UTC)
