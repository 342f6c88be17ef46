"""The presence report: who cam2 sees in the room, written every ``presence_interval_s``.

The body of a ``captures/presence/...`` JSON object; the presence function confirms attendance
from it once a student has been seen long enough in the class.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts.ids import CameraId, CaptureId, RoomId, Usn

# A report lists the identified tracks of one room: a few kilobytes. Anything far larger is
# not a report, and is refused before it is read.
MAX_REPORT_BYTES = 1_000_000
MAX_PRESENT_TRACKS = 1_000
# cam2 stamps the report after the sightings it lists; allow for rounding, not for the future.
_SIGHTING_AFTER_REPORT = timedelta(seconds=1)


# Identities a track carried before its present one (a handoff that moved, a second face): a few.
MAX_EARLIER_TAGS = 8


class EarlierTag(BaseModel):
    """An identity a track carried before its present one, and the capture behind it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    usn: Usn
    capture_id: CaptureId | None = None
    tagged_at: AwareDatetime


class PresentTrack(BaseModel):
    """One identified person in the room."""

    # A newer cam2 may add fields; the ones used here are required.
    model_config = ConfigDict(frozen=True, extra="ignore")

    usn: Usn
    tracker_id: int = Field(ge=0)
    source: Literal["face", "body", "reid"] = Field(
        description="Evidence behind the USN: a door handoff, a body match, or re-id carry-over."
    )
    first_seen_at: AwareDatetime
    last_seen_at: AwareDatetime
    dwell_s: float = Field(ge=0.0)
    # The two cameras' cross-check (proxy rules): which door capture named this track, whether the
    # track walked in through the door zone, and the identities it carried before. Older cam2s
    # send none of them; the rules then judge only what they can.
    capture_id: CaptureId | None = Field(
        None, description="The door capture (or body crop) behind the USN; none for re-id carry-over."
    )
    tagged_at: AwareDatetime | None = Field(None, description="Capture time of the evidence behind the USN.")
    entered_through_door: bool = Field(
        False, description="The track the capture named appeared in the door zone (kept across re-id)."
    )
    entered_at: AwareDatetime | None = Field(None, description="When that track first appeared.")
    earlier_tags: list[EarlierTag] = Field(default_factory=list, max_length=MAX_EARLIER_TAGS)

    @model_validator(mode="after")
    def _seen_in_order(self) -> Self:
        if self.last_seen_at < self.first_seen_at:
            raise ValueError("last_seen_at is before first_seen_at")
        return self


class PresenceReport(BaseModel):
    """The identified tracks in view of one room camera at ``reported_at``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    room_id: RoomId
    camera_id: CameraId
    reported_at: AwareDatetime
    interval_s: float = Field(ge=0.0)
    present: list[PresentTrack] = Field(max_length=MAX_PRESENT_TRACKS)
    unknown_tracks: int = Field(0, ge=0, description="Tracks in view without a USN.")

    @model_validator(mode="after")
    def _tracks_seen_before_the_report(self) -> Self:
        # A sighting after the report was written would confirm attendance at a time that has
        # not happened yet.
        latest = self.reported_at + _SIGHTING_AFTER_REPORT
        late = [t.tracker_id for t in self.present if t.last_seen_at > latest]
        if late:
            raise ValueError(f"tracks {late[:5]} are last seen after reported_at")
        return self

    def metadata(self) -> dict[str, str]:
        """The object's user metadata (the body is the report itself)."""
        return {
            "room_id": self.room_id,
            "camera_id": self.camera_id,
            "reported_at": self.reported_at.isoformat(),
        }
