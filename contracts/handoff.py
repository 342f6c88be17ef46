"""The handoff: a student recognised at a room's door (or by body re-id), announced to that room.

face_match and body_match publish it to the SNS topic with ``room_id``/``camera_id`` message
attributes; each room's queue (subscribed with a filter on ``room_id``) delivers it to that
room's cam2. ``capture_id`` identifies it: consumers de-duplicate on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.ids import CameraId, CaptureId, CourseCode, RoomId, Usn


class Handoff(BaseModel):
    """The message body. Unknown fields are ignored, so a newer publisher does not break cam2."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    usn: Usn = Field(description="The student.")
    capture_id: CaptureId = Field(description="Id of the face or body capture behind it.")
    captured_at: AwareDatetime = Field(description="When the capture was taken (UTC).")
    similarity: float = Field(ge=-1.0, le=1.0, description="Match similarity behind the identity.")
    course_code: CourseCode | None = Field(None, description="The class running in the room, if any.")
    room_id: RoomId = Field(description="The room the person is entering (or is in).")
    camera_id: CameraId | None = Field(None, description="The camera that took the capture.")
    source: Literal["face", "body"] = Field("face", description="Which matcher produced the identity.")
    appearance: list[float] | None = Field(
        None,
        max_length=64,
        description=(
            "Clothing colour the door camera saw below the face (vision.appearance descriptor); "
            "cam2 uses it to tell apart people who enter within a second of each other."
        ),
    )

    @field_validator("captured_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
