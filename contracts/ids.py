"""Identifiers that name students, courses, rooms, cameras and captures, with the database's limits.

The limits are the column widths of ``cloud_functions/core/db/schema.py``, which takes them from
here; the patterns keep ids safe inside object keys and file names.

A USN is case-insensitive to people and to MySQL's default collation, but case-sensitive to
S3 keys, SQLite and Python. It is therefore put in one canonical form (upper case, no
surrounding space) wherever it enters: API paths and bodies, object keys and metadata, files.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

USN_MAX_CHARS = 32
COURSE_CODE_MAX_CHARS = 32
ROOM_ID_MAX_CHARS = 32
CAMERA_ID_MAX_CHARS = 64
CAPTURE_ID_MAX_CHARS = 64
POSE_MAX_CHARS = 32

USN_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{USN_MAX_CHARS - 1}}}$"
COURSE_CODE_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{COURSE_CODE_MAX_CHARS - 1}}}$"
ROOM_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{ROOM_ID_MAX_CHARS - 1}}}$"
CAMERA_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{CAMERA_ID_MAX_CHARS - 1}}}$"
CAPTURE_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{CAPTURE_ID_MAX_CHARS - 1}}}$"
# Pose names end up in file names and keys (``enrollment/<usn>/<pose>.jpg``); spaces are allowed.
POSE_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9 _-]{{0,{POSE_MAX_CHARS - 1}}}$"


def normalise_usn(value: str) -> str:
    """The canonical form of a USN: surrounding space removed, upper case."""
    return value.strip().upper()


def same_usn(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` name the same student (as the database compares them)."""
    return normalise_usn(a) == normalise_usn(b)


Usn = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=USN_PATTERN, max_length=USN_MAX_CHARS),
    AfterValidator(normalise_usn),
]
"""A USN as accepted at a boundary: letters in either case, stored and compared upper case."""

CourseCode = Annotated[str, StringConstraints(pattern=COURSE_CODE_PATTERN, max_length=COURSE_CODE_MAX_CHARS)]
RoomId = Annotated[str, StringConstraints(pattern=ROOM_ID_PATTERN, max_length=ROOM_ID_MAX_CHARS)]
CameraId = Annotated[str, StringConstraints(pattern=CAMERA_ID_PATTERN, max_length=CAMERA_ID_MAX_CHARS)]
CaptureId = Annotated[str, StringConstraints(pattern=CAPTURE_ID_PATTERN, max_length=CAPTURE_ID_MAX_CHARS)]
