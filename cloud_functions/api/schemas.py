"""Request and response bodies: ``*Create`` / ``*Update`` in, ``*Public`` out.

Every identifier has a pattern and every text a length bound, so nothing unbounded or oddly
shaped reaches the database or an object key. Inputs forbid unknown fields. Text is stored as
given (HTML included) and returned as JSON strings; the portal renders it as text.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import lru_cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from contracts.ids import Usn

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
CAMERA_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
POSE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

EXPECTED_POSES = ("frontal", "left", "right", "up", "down")

AttendanceStatus = Literal["entered", "late", "present", "absent", "excused"]
EnrollmentState = Literal["missing", "pending", "accepted", "rejected"]
ClassState = Literal["upcoming", "in_session", "ended"]


# Characters a name or reason may not hold, as one character class that the validator and the
# OpenAPI document share: controls (Cc), invisible format characters (Cf: soft hyphen, zero-width
# and bidi marks, BOM), line and paragraph separators (Zl, Zp), all in the Basic Multilingual
# Plane (tests/unit/test_api_schemas.py re-derives it from unicodedata). Lone surrogates never
# get this far: the JSON parser refuses them.
UNPRINTABLE = (
    "\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891\\u08e2"
    "\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff"
    "\\ufff9-\\ufffb"
)
PRINTABLE_PATTERN = f"^[^{UNPRINTABLE}]*$"
# U+0085 is white space to Python's and Rust's \s but not to ECMAScript's, whose reading of the
# OpenAPI document generators follow: it is named, so every reader excludes the same characters.
_EMAIL_PART = rf"[^@\s\u0085{UNPRINTABLE}]"
EMAIL_PATTERN = rf"^{_EMAIL_PART}{{1,64}}@{_EMAIL_PART}+\.{_EMAIL_PART}+$"
# Room-local wall-clock time: the timetable says "Monday 09:00" in the room's zone, no offset.
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_ISO_DATETIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _iso_date(value: object) -> object:
    # Lax parsing would read "0" or 0 as the Unix epoch: 1970-01-01 is no class date anyone meant.
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    if isinstance(value, int | float):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


def _iso_datetime(value: object) -> object:
    if isinstance(value, str) and not _ISO_DATETIME.match(value):
        raise ValueError("expected a date and time as YYYY-MM-DDTHH:MM:SS with an offset")
    if isinstance(value, int | float):
        raise ValueError("expected a date and time as YYYY-MM-DDTHH:MM:SS with an offset")
    return value


def _no_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("times are room-local; give them without an offset")
    return value


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _iana_zone(value: str) -> str:
    if value not in _known_zones():
        raise ValueError(f"not an IANA time zone: {value!r}")
    return value


CourseCode = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
RoomId = Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
CameraId = Annotated[str, StringConstraints(pattern=CAMERA_PATTERN)]
Pose = Annotated[str, StringConstraints(pattern=POSE_PATTERN)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE_PATTERN)
]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL_PATTERN)]
Section = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=PRINTABLE_PATTERN)
]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=PRINTABLE_PATTERN)
]
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A date given as ``YYYY-MM-DD`` (not a number of seconds)."""
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]
"""A moment given as RFC 3339 text with its offset (``2026-11-24T09:05:00+05:30``)."""
LocalTime = Annotated[
    time,
    AfterValidator(_no_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_TIME_PATTERN,
            "description": "Room-local time, HH:MM or HH:MM:SS, without an offset.",
            "examples": ["09:00"],
        }
    ),
]
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_iana_zone)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- students -------------------------------------------------------------------------------


class StudentCreate(_In):
    usn: Usn
    name: Name
    email: Email | None = None
    section: Section | None = None


class StudentUpdate(_In):
    """Fields to change; those left out keep their value."""

    name: Name | None = None
    email: Email | None = None
    section: Section | None = None


class StudentPublic(_Out):
    usn: str
    name: str
    email: str | None
    section: str | None
    consent_given_at: datetime | None
    consent_given_by: str | None
    created_at: datetime


class StudentPage(BaseModel):
    items: list[StudentPublic]
    total: int
    limit: int
    offset: int


class ConsentCreate(_In):
    """Consent to biometric enrollment: who gave or witnessed it, and when (default: now)."""

    given_by: Name
    given_at: IsoDateTime | None = None


class EnrollmentPosePublic(BaseModel):
    pose: str
    status: EnrollmentState
    reason: str | None = None
    object_key: str | None = None
    has_faceprint: bool = False
    updated_at: datetime | None = None


class EnrollmentStatusPublic(BaseModel):
    usn: str
    consent_given_at: datetime | None
    poses: list[EnrollmentPosePublic]


class PhotoLinkPublic(BaseModel):
    """A short-lived link to view one stored photo (each request is audited)."""

    url: str
    expires_in_s: int


class UploadPublic(BaseModel):
    """POST ``fields`` and then the photo as the form part ``file`` to ``url``."""

    method: Literal["POST"] = "POST"
    url: str
    fields: dict[str, str]
    object_key: str
    max_bytes: int
    expires_in_s: int


class BiometricDeletionPublic(BaseModel):
    usn: str
    faceprints_deleted: int
    body_prints_deleted: int
    negatives_deleted: int = Field(
        0, description='Door captures corrected as "not this student", kept as negatives for them.'
    )
    enrollments_deleted: int
    objects_deleted: int
    captures_deleted: int
    consent_withdrawn: bool
    verified: bool


class BiometricCheckPublic(BaseModel):
    """What of a student's biometric data exists now: the deletion proof, re-checked at any time."""

    usn: str
    checked_at: datetime
    faceprints: int = Field(description="Faceprints stored for the student.")
    body_prints: int = Field(description="Body prints stored for the student.")
    negatives: int = Field(
        0, description='Door captures corrected as "not this student", kept as negatives for them.'
    )
    photos: int = Field(description="Enrollment photos in the bucket.")
    captures: int = Field(
        description="Crops of the student (door captures recognised as them, gallery crops)."
    )
    none_left: bool = Field(description="True when all of the above are zero.")


# --- courses, rooms, timetable ---------------------------------------------------------------


class CourseCreate(_In):
    course_code: CourseCode
    title: Name
    teacher_email: Email | None = None


class CourseUpdate(_In):
    title: Name | None = None
    teacher_email: Email | None = None


class CoursePublic(_Out):
    course_code: str
    title: str
    teacher_email: str | None


class RoomCreate(_In):
    room_id: RoomId
    name: Name
    cam1_id: CameraId | None = None
    cam2_id: CameraId | None = None
    timezone: TimeZoneName = "UTC"

    @model_validator(mode="after")
    def _distinct_cameras(self) -> RoomCreate:
        if self.cam1_id is not None and self.cam1_id == self.cam2_id:
            raise ValueError("cam1_id and cam2_id must differ")
        return self


class RoomUpdate(_In):
    name: Name | None = None
    cam1_id: CameraId | None = None
    cam2_id: CameraId | None = None
    timezone: TimeZoneName | None = None

    @model_validator(mode="after")
    def _distinct_cameras(self) -> RoomUpdate:
        if self.cam1_id is not None and self.cam1_id == self.cam2_id:
            raise ValueError("cam1_id and cam2_id must differ")
        return self


class RoomPublic(_Out):
    room_id: str
    name: str
    cam1_id: str | None
    cam2_id: str | None
    timezone: str


CameraState = Literal["recent", "quiet", "never", "not_set"]


class CameraHealthPublic(BaseModel):
    """What the cloud last heard from one camera of a room."""

    role: Literal["door", "room"] = Field(description="door: cam1 (faces); room: cam2 (tracking).")
    camera_id: str | None
    last_seen_at: datetime | None = Field(
        description="The newest capture (door) or presence report (room) it sent, UTC."
    )
    state: CameraState = Field(
        description="recent: heard from within quiet_after_s; quiet: not since; never: nothing yet; "
        "not_set: the room has no camera id for this role."
    )


class RoomCamerasPublic(BaseModel):
    room_id: str
    name: str
    timezone: str
    in_session: bool = Field(description="A class is timetabled in the room right now.")
    quiet_after_s: int
    cameras: list[CameraHealthPublic]


class TimetableEntryCreate(_In):
    """A weekly slot; times are room-local. Also the body of a full update (PUT)."""

    course_code: CourseCode
    room_id: RoomId
    weekday: int = Field(..., ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start_time: LocalTime
    end_time: LocalTime
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TimetableEntryCreate:
        if self.start_time >= self.end_time:
            raise ValueError("start_time must be before end_time")
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError("valid_from must not be after valid_to")
        return self


class TimetableEntryPublic(_Out):
    id: int
    course_code: str
    room_id: str
    weekday: int
    start_time: LocalTime
    end_time: LocalTime
    valid_from: date | None
    valid_to: date | None


# --- attendance ------------------------------------------------------------------------------


Mark = Literal["present", "late", "absent", "excused"]
"""The four marks of a register. Stored statuses map onto them: 'entered' (on time at the door)
and 'present' (confirmed in the room, or set by hand) are present; 'late', 'absent' and 'excused'
are themselves."""
MARK_OF_STATUS: dict[str, Mark] = {
    "entered": "present",
    "present": "present",
    "late": "late",
    "absent": "absent",
    "excused": "excused",
}
EvidenceKind = Literal["door_sighting", "room_confirmation", "body_reid", "sweep", "manual"]


class EvidencePublic(BaseModel):
    """One piece of evidence behind a mark.

    ``door_sighting``: the face recognised at the door (when, similarity, capture);
    ``room_confirmation``: the room camera saw the student past the minimum dwell (when);
    ``body_reid``: the room camera's identity came from body re-identification (when confirmed);
    ``sweep``: nobody saw the student by the session's end (when the sweep wrote it);
    ``manual``: a person set the mark (who, when, old -> new, reason: see ``corrections``).
    """

    kind: EvidenceKind
    at: datetime | None
    by: str | None = None
    similarity: float | None = None
    capture_id: str | None = None
    detail: str | None = None


class CorrectionPublic(BaseModel):
    """A person's change of a mark: who, when, old -> new and why (``old_status`` empty: no mark)."""

    old_status: str | None
    new_status: str
    reason: str
    corrected_by: str
    corrected_at: datetime


class AttendancePublic(BaseModel):
    usn: str
    name: str | None
    course_code: str
    class_date: date
    room_id: str
    status: str
    source: str
    first_seen_at: datetime | None
    confirmed_at: datetime | None
    similarity: float | None
    updated_at: datetime
    mark: Mark | None = Field(None, description="The register mark: 'entered' counts as present.")
    evidence: list[EvidencePublic] = Field(default_factory=list)
    corrections: list[CorrectionPublic] = Field(
        default_factory=list, description="Every change by a person, oldest first."
    )


class StudentRef(BaseModel):
    usn: str
    name: str


class AttendanceReport(BaseModel):
    """Every student with an attendance row for the class, the count per status, and the roster.

    ``expected`` counts the course's roster on the class date (roster dates inclusive);
    ``absent`` lists the expected students marked absent or not marked at all, ``not_seen`` those
    of them with no row yet (the absent sweep marks them at the session's end), ``off_roster``
    the students recorded who are not on the roster that day.
    """

    course_code: str
    course_title: str
    class_date: date
    rows: list[AttendancePublic]
    counts: dict[str, int]
    total: int
    expected: int
    absent: list[StudentRef]
    not_seen: list[StudentRef]
    off_roster: list[StudentRef]


class StudentHistory(BaseModel):
    usn: str
    name: str
    rows: list[AttendancePublic]
    counts: dict[str, int]


class AttendanceOverride(_In):
    """A manual status with the reason for the audit log; ``room_id`` only for a new row."""

    status: AttendanceStatus
    reason: Reason
    room_id: RoomId | None = None
    wrong_person: bool = Field(
        False,
        description=(
            "The door recognised someone else as this student: the face in that capture becomes a "
            "negative for the student, so a later face closer to it than to the student's own "
            "faceprints is not taken for them. Needs a mark that came from a door recognition."
        ),
    )


class MarkRemaining(_In):
    """Mark every roster student of a session who has no mark yet (or only the sweep's absent)."""

    status: Literal["present", "absent", "excused"]
    reason: Reason


class MarkRemainingPublic(BaseModel):
    session_id: int
    course_code: str
    class_date: date
    status: str
    marked: list[str] = Field(description="USNs marked by this call, by USN.")


# --- terms and class sessions ------------------------------------------------------------------

TermName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=PRINTABLE_PATTERN)
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE_PATTERN)
]
MAX_TERM_DAYS = 366
"""A term is at most a year: generation walks every day of it."""
ClassSessionStatus = Literal["scheduled", "cancelled"]
ClassSessionOrigin = Literal["timetable", "moved", "extra"]


class DayOffIn(_In):
    day: IsoDate
    reason: Note


class DayOffReason(_In):
    reason: Note


class DayOffPublic(BaseModel):
    day: date
    reason: str


class TermCreate(_In):
    """A term: first and last day (inclusive, at most 366 days), and days off (holidays) within it."""

    name: TermName
    start_date: IsoDate
    end_date: IsoDate
    days_off: list[DayOffIn] = Field(default_factory=list, max_length=366)

    @model_validator(mode="after")
    def _ordered(self) -> TermCreate:
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        if (self.end_date - self.start_date).days >= MAX_TERM_DAYS:
            raise ValueError(f"a term lasts at most {MAX_TERM_DAYS} days")
        for day_off in self.days_off:
            if not self.start_date <= day_off.day <= self.end_date:
                raise ValueError(f"day off {day_off.day} is outside the term")
        if len({d.day for d in self.days_off}) != len(self.days_off):
            raise ValueError("a day off is given twice")
        return self


class TermUpdate(_In):
    """Fields to change; the days off must still fall within the new dates."""

    name: TermName | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None


class GenerationPublic(BaseModel):
    """What a generation did to the term's sessions."""

    term_id: int
    planned: int
    added: int
    restored: int
    adjusted: int
    cancelled: int


class TermPublic(BaseModel):
    term_id: int
    name: str
    start_date: date
    end_date: date
    days_off: list[DayOffPublic]
    sessions: dict[str, int] = Field(description="Sessions per status.")
    generated: GenerationPublic | None = Field(
        None, description="What this request's generation did (creating or changing a term)."
    )


class ClassSessionPublic(BaseModel):
    session_id: int
    term_id: int
    course_code: str
    room_id: str
    session_date: date
    start_time: LocalTime
    end_time: LocalTime
    status: ClassSessionStatus
    origin: ClassSessionOrigin
    timetable_id: int | None
    moved_from_id: int | None
    moved_to_id: int | None = None
    note: str | None
    cancelled_by: str | None
    swept_at: datetime | None


class ClassSessionCancel(_In):
    reason: Note


class ClassSessionMove(_In):
    """The new slot (room-local); ``room_id`` defaults to the session's room."""

    session_date: IsoDate
    start_time: LocalTime
    end_time: LocalTime
    room_id: RoomId | None = None
    reason: Note

    @model_validator(mode="after")
    def _ordered(self) -> ClassSessionMove:
        if self.start_time >= self.end_time:
            raise ValueError("start_time must be before end_time")
        return self


class ClassSessionExtra(_In):
    """An extra class (room-local times) on a day a term covers."""

    course_code: CourseCode
    room_id: RoomId
    session_date: IsoDate
    start_time: LocalTime
    end_time: LocalTime
    reason: Note

    @model_validator(mode="after")
    def _ordered(self) -> ClassSessionExtra:
        if self.start_time >= self.end_time:
            raise ValueError("start_time must be before end_time")
        return self


class ScheduledClassPublic(BaseModel):
    room_id: str
    room_name: str
    timezone: str
    course_code: str
    course_title: str
    class_date: date
    start_time: LocalTime
    end_time: LocalTime
    starts_at: datetime
    ends_at: datetime
    state: ClassState
    attendance_count: int


class RecognitionEventPublic(_Out):
    id: int
    capture_id: str | None
    camera_id: str | None
    room_id: str | None
    captured_at: datetime | None
    outcome: str
    usn: str | None
    similarity: float | None
    latency_ms: float | None
    detail: str | None
    created_at: datetime


class RecognitionEventPage(BaseModel):
    """Newest first; pass ``next_before_id`` as ``before_id`` for the next page."""

    items: list[RecognitionEventPublic]
    next_before_id: int | None


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]


class MePublic(BaseModel):
    """The caller as the token names them (the portal shows or hides admin controls by role)."""

    name: str
    role: Literal["admin", "teacher"]


# --- people's sign-in and accounts ----------------------------------------------------------

# Cognito usernames, compared without case (the pool is case-insensitive); stored lower case.
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$"
Username = Annotated[
    str,
    StringConstraints(pattern=USERNAME_PATTERN),
    AfterValidator(str.lower),
    Field(description="Sign-in name (letters, digits, . _ @ -; not case-sensitive)."),
]
# The pool's policy (template.yaml): length, not character classes, makes a password strong.
# Cognito refuses a password that begins or ends with a blank; 64 is below every limit of the
# pool (the local endpoint's is 98) and above what NIST asks a verifier to accept.
PASSWORD_MIN_CHARS = 12
PASSWORD_MAX_CHARS = 64
# One line, no blank at either end; written so Python and ECMA (schema) regexes read it alike.
PASSWORD_PATTERN = r"^[^ \t\r\n](?:[^\r\n]*[^ \t\r\n])?$"  # noqa: S105 - a pattern, not a secret


def _no_surrounding_blanks(value: SecretStr) -> SecretStr:
    if not re.fullmatch(PASSWORD_PATTERN, value.get_secret_value()):
        raise ValueError("must be one line, not beginning or ending with a blank")
    return value


NewPassword = Annotated[
    SecretStr,
    Field(min_length=PASSWORD_MIN_CHARS, max_length=PASSWORD_MAX_CHARS),
    AfterValidator(_no_surrounding_blanks),
    WithJsonSchema(
        {
            "type": "string",
            "format": "password",
            "writeOnly": True,
            "minLength": PASSWORD_MIN_CHARS,
            "maxLength": PASSWORD_MAX_CHARS,
            "pattern": PASSWORD_PATTERN,
            "description": (
                f"{PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters, one line, no blank at either end; "
                "never logged or returned."
            ),
        }
    ),
]
AccountRole = Literal["admin", "teacher"]


class SignInCreate(_In):
    """A name and password."""

    username: Username
    password: Annotated[SecretStr, Field(min_length=1, max_length=256)]


class RefreshCreate(_In):
    """The refresh token of a session, for a new access token."""

    refresh_token: Annotated[SecretStr, Field(min_length=1, max_length=4096)]


class SessionPublic(BaseModel):
    """A signed-in session: send ``access_token`` as the bearer token until ``expires_at``."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_at: datetime = Field(description="When the access token stops working (UTC).")
    refresh_token: str | None = Field(
        description="Trade it at /auth/refresh for a new access token; it ends at sign-out."
    )
    name: str
    role: AccountRole


class AccountCreate(_In):
    """A new teacher or admin account, enabled, with a password the admin hands over."""

    username: Username
    role: AccountRole
    password: NewPassword


class AccountUpdate(_In):
    """Disable (ends the account's sessions) or enable an account."""

    enabled: StrictBool


class PasswordReset(_In):
    """A new password; the account's sessions end."""

    password: NewPassword


class AccountPublic(BaseModel):
    """A person who can sign in."""

    username: str
    role: AccountRole | None = Field(description="None: in no group, so the account admits to nothing.")
    enabled: bool
    status: str = Field(description="The pool's account status (CONFIRMED, FORCE_CHANGE_PASSWORD ...).")
    created_at: datetime | None


# --- flags ----------------------------------------------------------------------------------

FlagKind = Literal["spoof_suspected", "not_confirmed", "one_body_two_faces", "two_rooms"]
FlagStatus = Literal["open", "resolved"]


class FlagPublic(BaseModel):
    """A suspicion to resolve: a suspected spoof at the door, or a two-camera proxy rule.

    ``evidence`` holds the scores and times that raised it (never images); a spoof's door photo
    is fetched on demand (``GET /flags/{flag_id}/photo``, audited).
    """

    id: int
    kind: FlagKind
    usn: str | None
    room_id: str | None
    course_code: str | None
    class_date: date | None
    capture_id: str | None
    evidence: dict[str, object]
    status: FlagStatus
    resolution: Literal["genuine", "proxy"] | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolved_reason: str | None
    created_at: datetime


class FlagResolve(_In):
    """``genuine``: the student really was there (a spoof flag then records the attendance the
    capture would have given); ``proxy``: the suspicion holds (the attendance stays refused)."""

    resolution: Literal["genuine", "proxy"]
    reason: Reason


class FlagResolvedPublic(BaseModel):
    """The resolved flag and, for a spoof resolved as genuine, the attendance it recorded."""

    flag: FlagPublic
    attendance_status: str | None = Field(None, description="The student's status after the resolution.")


class DoorPhotoPublic(BaseModel):
    """A short-lived link to the door crop behind a spoof flag."""

    url: str
    expires_in_s: int


# --- rosters, teachers, imports ---------------------------------------------------------------

TEACHER_USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,127}$"
TeacherUsername = Annotated[str, StringConstraints(pattern=TEACHER_USERNAME_PATTERN, max_length=128)]
ImportKind = Literal["students", "rosters", "teachers"]


class TeacherCreate(_In):
    """A teacher account: ``username`` is the name they sign in with."""

    username: TeacherUsername
    name: Name
    email: Email | None = None


class TeacherPublic(BaseModel):
    teacher_id: int
    username: str
    name: str
    email: str | None
    courses: list[str] = Field(description="Codes of the courses they teach.")


class CourseTeacherLink(_In):
    """Optionally only one section of the course (empty: every section)."""

    section: Section | None = None


class RosterEntryUpdate(_In):
    """A student's enrolment in a course: section and the dates enrolled (inclusive; empty is open)."""

    section: Section | None = None
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RosterEntryUpdate:
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError("valid_from must not be after valid_to")
        return self


class RosterEntryPublic(BaseModel):
    course_code: str
    usn: str
    name: str
    section: str | None
    valid_from: date | None
    valid_to: date | None


class RosterPublic(BaseModel):
    """The course's students; ``on`` given: only those enrolled that day."""

    course_code: str
    on: date | None
    students: list[RosterEntryPublic]


class ImportReportPublic(BaseModel):
    """What the import did, or for a dry run would do (a file with problems is a 422 instead)."""

    kind: ImportKind
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    written: bool
