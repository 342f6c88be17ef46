"""Object keys of the capture bucket: prefixes, builders and parsers, one definition for both sides.

| prefix | who writes | what | read by |
|---|---|---|---|
| ``enrollment/<usn>/<pose>.<ext>`` | the portal (presigned POST), infra | a photo | enroll |
| ``captures/faces/<room>/<date>/<capture_id>.jpg`` | cam1 | door face crop | face_match |
| ``captures/bodies/<room>/<date>/<capture_id>.jpg`` | cam2 | crop of a long-unknown track | body_match |
| ``captures/gallery/<room>/<date>/<usn>/<capture_id>.jpg`` | cam2 | a door-tagged track | body_match |
| ``captures/presence/<room>/<date>/<camera>-<HHMMSSffffff>.json`` | cam2 | presence report | presence |

Dates are the UTC date of the capture (a key is a place, not a class date; the functions work out
the room-local class date themselves). ``template.yaml`` routes each prefix to its function; a
test checks that its notification filters name these prefixes.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import PurePosixPath

from contracts.ids import POSE_PATTERN, USN_PATTERN, normalise_usn

ENROLLMENT_PREFIX = "enrollment/"
CAPTURES_PREFIX = "captures/"
FACES_PREFIX = "captures/faces/"
BODIES_PREFIX = "captures/bodies/"
GALLERY_PREFIX = "captures/gallery/"
PRESENCE_PREFIX = "captures/presence/"

ENROLLMENT_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")

# The object_key columns hold 512 characters (a utf8mb4 unique index on MySQL may be 3072 bytes).
OBJECT_KEY_MAX_CHARS = 512

_USN = re.compile(USN_PATTERN)
_POSE = re.compile(POSE_PATTERN)


class KeyFormatError(ValueError):
    """An object key is not of the form its prefix promises."""


def _day(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d")


def face_capture_key(room_id: str, captured_at: datetime, capture_id: str) -> str:
    """Where cam1 puts a door face crop."""
    return f"{FACES_PREFIX}{room_id}/{_day(captured_at)}/{capture_id}.jpg"


def body_capture_key(room_id: str, captured_at: datetime, capture_id: str) -> str:
    """Where cam2 puts a crop of a track unknown for too long."""
    return f"{BODIES_PREFIX}{room_id}/{_day(captured_at)}/{capture_id}.jpg"


def gallery_crop_key(room_id: str, usn: str, captured_at: datetime, capture_id: str) -> str:
    """Where cam2 puts a crop of a track a door handoff tagged with ``usn``."""
    return f"{GALLERY_PREFIX}{room_id}/{_day(captured_at)}/{normalise_usn(usn)}/{capture_id}.jpg"


def presence_report_key(room_id: str, camera_id: str, reported_at: datetime) -> str:
    """Where cam2 puts a presence report taken at ``reported_at``."""
    at = reported_at.astimezone(UTC)
    return f"{PRESENCE_PREFIX}{room_id}/{at:%Y-%m-%d}/{camera_id}-{at:%H%M%S%f}.json"


def enrollment_prefix(usn: str) -> str:
    """The prefix under which all of a student's enrollment photos live."""
    return f"{ENROLLMENT_PREFIX}{normalise_usn(usn)}/"


def enrollment_photo_key(usn: str, pose: str, suffix: str = ".jpg") -> str:
    """The object key of a student's photo of one pose."""
    return f"{enrollment_prefix(usn)}{pose}{suffix}"


def validate_usn_pose(usn: str, pose: str) -> tuple[str, str]:
    """``(usn, pose)`` with the USN canonical; ``KeyFormatError`` unless both are safe, short ids."""
    if not _USN.match(usn):
        raise KeyFormatError(f"not a valid USN: {usn!r}")
    if not _POSE.match(pose):
        raise KeyFormatError(f"not a valid pose name: {pose!r}")
    return normalise_usn(usn), pose


def parse_enrollment_key(key: str) -> tuple[str, str]:
    """``(usn, pose)`` of ``enrollment/<usn>/<pose>.<ext>`` (already URL-decoded), the USN canonical."""
    if not key.startswith(ENROLLMENT_PREFIX):
        raise KeyFormatError(f"not an enrollment photo key: {key!r}")
    path = PurePosixPath(key)
    if len(path.parts) != 3 or path.suffix.lower() not in ENROLLMENT_PHOTO_SUFFIXES:
        raise KeyFormatError(f"expected enrollment/<usn>/<pose>.jpg, got {key!r}")
    return validate_usn_pose(path.parts[1], path.stem)


def gallery_crop_usn(key: str) -> str | None:
    """The USN (canonical) a gallery crop key names, or None for any other key."""
    parts = key.split("/")
    if not key.startswith(GALLERY_PREFIX) or len(parts) != 6 or not _USN.match(parts[4]):
        return None
    return normalise_usn(parts[4])


def recordable_object_key(key: str) -> str:
    """``key`` itself if an ``object_key`` column can hold it, else a stable shortened form.

    S3 allows keys of 1,024 bytes; the columns hold 512 characters (MySQL refuses longer values,
    SQLite would silently keep them). A longer key keeps its start and ends with the sha256 of
    the whole key, so every delivery of the same object still finds the same record.
    """
    if len(key) <= OBJECT_KEY_MAX_CHARS:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    marker = f"...sha256:{digest}"
    return key[: OBJECT_KEY_MAX_CHARS - len(marker)] + marker
