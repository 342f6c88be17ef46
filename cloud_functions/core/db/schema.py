"""The relational schema, in SQLAlchemy Core.

It runs on MySQL 8 / MariaDB (production is RDS MySQL) and on SQLite (the embedded default).
Every timestamp is stored in UTC; ``UtcDateTime`` makes that explicit at the boundary.
Migrations under ``infra/migrations`` create exactly this schema (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from contracts.ids import (
    CAMERA_ID_MAX_CHARS,
    CAPTURE_ID_MAX_CHARS,
    COURSE_CODE_MAX_CHARS,
    POSE_MAX_CHARS,
    ROOM_ID_MAX_CHARS,
    USN_MAX_CHARS,
)
from contracts.keys import OBJECT_KEY_MAX_CHARS

# Constraint names are fixed so migrations can refer to them on every dialect.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime stored as a naive UTC value.

    MySQL's DATETIME and SQLite keep no offset; accepting only aware values on the way in
    stops local times from being stored by accident.
    """

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "mysql":
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pass an aware (UTC) datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


# Column widths come from the wire contracts, so an id the edge may send always fits.
USN = sa.String(USN_MAX_CHARS)
COURSE_CODE = sa.String(COURSE_CODE_MAX_CHARS)
ROOM_ID = sa.String(ROOM_ID_MAX_CHARS)
CAMERA_ID = sa.String(CAMERA_ID_MAX_CHARS)
CAPTURE_ID = sa.String(CAPTURE_ID_MAX_CHARS)
POSE = sa.String(POSE_MAX_CHARS)
OBJECT_KEY = sa.String(OBJECT_KEY_MAX_CHARS)

students = sa.Table(
    "students",
    metadata,
    sa.Column("usn", USN, primary_key=True, comment="University seat number"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("section", sa.String(32), nullable=True),
    sa.Column("consent_given_at", UtcDateTime(), nullable=True),
    sa.Column("consent_given_by", sa.String(200), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
)

# One row per enrollment photo: its source (an image URL from the seed's data, or an object
# key in the bucket) and what enrollment made of it.
enrollments = sa.Table(
    "enrollments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("pose", POSE, nullable=False),
    sa.Column("source_url", sa.String(2048), nullable=True),
    sa.Column("object_key", OBJECT_KEY, nullable=True),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("reason", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.Column("updated_at", UtcDateTime(), nullable=False, default=_now, onupdate=_now),
    sa.UniqueConstraint("usn", "pose"),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status"),
)

faceprints = sa.Table(
    "faceprints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("pose", POSE, nullable=False),
    sa.Column("model_id", sa.String(128), nullable=False),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("embedding", sa.LargeBinary, nullable=False, comment="float32, L2-normalised"),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.UniqueConstraint("usn", "pose", "model_id"),
    sa.Index(None, "model_id"),
    # The matcher's version query and its read of recent rows (see FaceprintRepository).
    sa.Index("ix_faceprints_model_id_created_at", "model_id", "created_at"),
)

# A door capture a teacher corrected as "not this student": its embedding (recomputed by face_match
# from the stored crop) is a negative for the student, so a later face closer to it than to the
# student's faceprints is refused. Derived biometric data: it lives as long as the student's
# faceprints and goes with their biometric data or the student (ON DELETE CASCADE), not with
# the crop's capture retention (the crop itself still expires).
FACE_NEGATIVE_STATUSES = ("pending", "stored", "unavailable")
face_negatives = sa.Table(
    "face_negatives",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("capture_id", CAPTURE_ID, nullable=False, unique=True),
    sa.Column("object_key", OBJECT_KEY, nullable=False, comment="the corrected door crop"),
    sa.Column("status", sa.String(16), nullable=False, comment="pending | stored | unavailable"),
    sa.Column("detail", sa.String(255), nullable=True, comment="why a negative is unavailable"),
    sa.Column("model_id", sa.String(128), nullable=True),
    sa.Column("dim", sa.Integer, nullable=True),
    sa.Column("embedding", sa.LargeBinary, nullable=True, comment="float32, L2-normalised"),
    sa.Column("corrected_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.Column("embedded_at", UtcDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'stored', 'unavailable')", name="status"),
    sa.Index(None, "status"),
    sa.Index(None, "model_id", "usn"),
)

enrollment_flags = sa.Table(
    "enrollment_flags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("other_usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False, comment="duplicate | lookalike"),
    sa.Column("similarity", sa.Float, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.UniqueConstraint("usn", "other_usn", "kind"),
)

courses = sa.Table(
    "courses",
    metadata,
    sa.Column("course_code", COURSE_CODE, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("teacher_email", sa.String(254), nullable=True),
    sa.Column(
        "min_attendance_pct",
        sa.Float,
        nullable=True,
        comment="the course's minimum attendance; empty: the setting (default 75)",
    ),
    sa.CheckConstraint(
        "min_attendance_pct IS NULL OR (min_attendance_pct >= 0 AND min_attendance_pct <= 100)",
        name="min_attendance_pct",
    ),
)

rooms = sa.Table(
    "rooms",
    metadata,
    sa.Column("room_id", ROOM_ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("cam1_id", CAMERA_ID, nullable=True, unique=True),
    sa.Column("cam2_id", CAMERA_ID, nullable=True, unique=True),
    sa.Column("timezone", sa.String(64), nullable=False, default="UTC"),
)

timetable = sa.Table(
    "timetable",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "course_code", COURSE_CODE, sa.ForeignKey("courses.course_code", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("room_id", ROOM_ID, sa.ForeignKey("rooms.room_id", ondelete="CASCADE"), nullable=False),
    sa.Column("weekday", sa.SmallInteger, nullable=False, comment="0 = Monday … 6 = Sunday"),
    sa.Column("start_time", sa.Time, nullable=False, comment="room-local time"),
    sa.Column("end_time", sa.Time, nullable=False, comment="room-local time"),
    sa.Column("valid_from", sa.Date, nullable=True),
    sa.Column("valid_to", sa.Date, nullable=True),
    sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
    sa.CheckConstraint("start_time < end_time", name="times"),
    sa.Index(None, "room_id", "weekday"),
)

attendance = sa.Table(
    "attendance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "course_code", COURSE_CODE, sa.ForeignKey("courses.course_code", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("class_date", sa.Date, nullable=False, comment="room-local date of the class"),
    sa.Column("room_id", ROOM_ID, sa.ForeignKey("rooms.room_id"), nullable=False),
    sa.Column("first_seen_at", UtcDateTime(), nullable=True, comment="first door sighting"),
    sa.Column("confirmed_at", UtcDateTime(), nullable=True, comment="presence confirmed in the room"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("similarity", sa.Float, nullable=True),
    sa.Column("capture_id", CAPTURE_ID, nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False, default=_now, onupdate=_now),
    sa.UniqueConstraint("usn", "course_code", "class_date"),
    sa.CheckConstraint("status IN ('entered', 'late', 'present', 'absent', 'excused')", name="status"),
    # 'sweep': written 'absent' at a session's end for a roster student with no mark; a later
    # capture or a correction replaces it.
    sa.CheckConstraint("source IN ('face', 'body', 'manual', 'sweep')", name="source"),
    # A course's register reads usn and status of its marks in a term from this index alone.
    sa.Index(None, "course_code", "class_date", "usn", "status"),
    # The daily teacher notification: absences written since the last one.
    sa.Index(None, "status", "updated_at"),
)

recognition_events = sa.Table(
    "recognition_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("object_key", OBJECT_KEY, nullable=False, unique=True),
    sa.Column("capture_id", CAPTURE_ID, nullable=True),
    sa.Column("camera_id", CAMERA_ID, nullable=True),
    sa.Column("room_id", ROOM_ID, nullable=True),
    sa.Column("captured_at", UtcDateTime(), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="SET NULL"), nullable=True),
    sa.Column("similarity", sa.Float, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("detail", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.Index(None, "room_id", "captured_at"),
    sa.Index(None, "capture_id"),
)

handoffs = sa.Table(
    "handoffs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("capture_id", CAPTURE_ID, nullable=False, unique=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("room_id", ROOM_ID, sa.ForeignKey("rooms.room_id"), nullable=False),
    sa.Column("course_code", COURSE_CODE, nullable=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("captured_at", UtcDateTime(), nullable=False),
    sa.Column("similarity", sa.Float, nullable=True),
    sa.Column("message_id", sa.String(128), nullable=True, comment="SNS message id once published"),
    sa.Column("claim_token", sa.String(36), nullable=True, comment="the worker publishing it now (uuid4)"),
    sa.Column(
        "claimed_until", UtcDateTime(), nullable=True, comment="the claim lapses then (a crashed worker)"
    ),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False, default=_now),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("entity_id", sa.String(128), nullable=False),
    sa.Column("detail", sa.Text, nullable=True, comment="JSON: before/after values"),
    sa.Index(None, "entity", "entity_id"),
)

# One row per cam2 presence report object: what the presence function made of it. The object
# key is unique, so a redelivered report is recognised and changes nothing.
presence_reports = sa.Table(
    "presence_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("object_key", OBJECT_KEY, nullable=False, unique=True),
    sa.Column("room_id", ROOM_ID, nullable=True),
    sa.Column("camera_id", CAMERA_ID, nullable=True),
    sa.Column("reported_at", UtcDateTime(), nullable=True),
    sa.Column("course_code", COURSE_CODE, nullable=True),
    sa.Column("class_date", sa.Date, nullable=True, comment="room-local date of the class"),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("present_count", sa.Integer, nullable=False, default=0, comment="identified tracks reported"),
    sa.Column("confirmed_count", sa.Integer, nullable=False, default=0, comment="students past the dwell"),
    sa.Column("latency_ms", sa.Float, nullable=True),
    sa.Column("detail", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.Index(None, "room_id", "reported_at"),
)

# Body re-id embeddings of students tagged at a room's door, for matching long-unknown tracks
# in that room on the same day. Biometric data: kept only for the day (body_print_retention_days)
# and deleted with the student's other biometric data.
body_prints = sa.Table(
    "body_prints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("room_id", ROOM_ID, sa.ForeignKey("rooms.room_id", ondelete="CASCADE"), nullable=False),
    sa.Column("class_date", sa.Date, nullable=False, comment="room-local date of the crop"),
    sa.Column("model_id", sa.String(128), nullable=False),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("embedding", sa.LargeBinary, nullable=False, comment="float32, L2-normalised"),
    sa.Column("capture_id", CAPTURE_ID, nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.Index(None, "room_id", "class_date", "model_id"),
    sa.Index(None, "usn"),
)

# People's sign-in: failed attempts (for the rate limit) and the moment each person last signed
# out or was disabled (tokens issued before it are refused, though they have not expired).
# Throttle keys are sha256 digests: a username field sometimes holds a mistyped password.
sign_in_failures = sa.Table(
    "sign_in_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "throttle_key", sa.String(64), nullable=False, comment="sha256 hex of user:<name> or addr:<ip>"
    ),
    sa.Column("failed_at", UtcDateTime(), nullable=False),
    sa.Index(None, "throttle_key", "failed_at"),
)

people_sign_outs = sa.Table(
    "people_sign_outs",
    metadata,
    sa.Column("username", sa.String(128), primary_key=True),
    sa.Column(
        "signed_out_at", UtcDateTime(), nullable=False, comment="sessions signed in before this are over"
    ),
)


# Suspicions for a teacher or admin to resolve: a suspected spoof at the door (face_match) and
# the two-camera proxy rules (a door identity that never walked in, one body given two door
# identities, one student in two rooms at once). ``dedupe_key`` is unique, so a redelivered
# capture or a rule run twice over the same events adds nothing.
flags = sa.Table(
    "flags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("dedupe_key", sa.String(191), nullable=False, unique=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=True),
    sa.Column("room_id", ROOM_ID, nullable=True),
    sa.Column("course_code", COURSE_CODE, nullable=True),
    sa.Column("class_date", sa.Date, nullable=True, comment="room-local date of the class"),
    sa.Column("capture_id", CAPTURE_ID, nullable=True),
    sa.Column("evidence", sa.Text, nullable=False, comment="JSON: scores, times, tracks"),
    sa.Column("status", sa.String(16), nullable=False, default="open"),
    sa.Column("resolution", sa.String(16), nullable=True),
    sa.Column("resolved_by", sa.String(200), nullable=True),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("resolved_reason", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.CheckConstraint(
        "kind IN ('spoof_suspected', 'not_confirmed', 'one_body_two_faces', 'two_rooms')", name="kind"
    ),
    sa.CheckConstraint("status IN ('open', 'resolved')", name="status"),
    sa.CheckConstraint("resolution IS NULL OR resolution IN ('genuine', 'proxy')", name="resolution"),
    sa.Index(None, "course_code", "class_date"),
    sa.Index(None, "status", "created_at"),
)


# --- the college's calendar: teachers, who teaches what, and who takes which course ---------

# A teacher's ``username`` is the name they sign in with (the caller's ``Principal.name``).
TEACHER_USERNAME = sa.String(128)
SECTION = sa.String(32)

teachers = sa.Table(
    "teachers",
    metadata,
    sa.Column("teacher_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", TEACHER_USERNAME, nullable=False, unique=True, comment="sign-in name"),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
)

# Several teachers may teach one course, each optionally only one section of it.
course_teachers = sa.Table(
    "course_teachers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "course_code", COURSE_CODE, sa.ForeignKey("courses.course_code", ondelete="CASCADE"), nullable=False
    ),
    sa.Column(
        "teacher_id", sa.Integer, sa.ForeignKey("teachers.teacher_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("section", SECTION, nullable=True, comment="empty: every section of the course"),
    sa.UniqueConstraint("course_code", "teacher_id", "section"),
    sa.Index(None, "teacher_id"),
)

# Enrolment of a student in a course (not face enrollment): one row per student and course,
# with the dates a late joiner starts and a student who dropped stops being expected.
course_rosters = sa.Table(
    "course_rosters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "course_code", COURSE_CODE, sa.ForeignKey("courses.course_code", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("section", SECTION, nullable=True),
    sa.Column("valid_from", sa.Date, nullable=True, comment="first day enrolled; empty: from the start"),
    sa.Column("valid_to", sa.Date, nullable=True, comment="last day enrolled; empty: to the end"),
    sa.Column("updated_at", UtcDateTime(), nullable=False, default=_now, onupdate=_now),
    sa.UniqueConstraint("course_code", "usn"),
    sa.CheckConstraint("valid_from IS NULL OR valid_to IS NULL OR valid_from <= valid_to", name="dates"),
    sa.Index(None, "usn"),
)


# --- terms and class sessions: "this class happened" as a fact ------------------------------

terms = sa.Table(
    "terms",
    metadata,
    sa.Column("term_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True, comment="e.g. 2026 Odd Semester"),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.CheckConstraint("start_date <= end_date", name="dates"),
)

# Days in a term on which no class is held (public holidays, exam weeks, a closure).
term_days_off = sa.Table(
    "term_days_off",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("term_id", sa.Integer, sa.ForeignKey("terms.term_id", ondelete="CASCADE"), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.UniqueConstraint("term_id", "day"),
)

# One row per class meeting, generated from the timetable and the term calendar (origin
# 'timetable'), or added by hand ('extra', or 'moved' for the new slot of a moved class, whose
# old slot is kept as 'cancelled' with ``moved_from_id`` pointing back to it). Generation is an
# idempotent upsert on (course, date, start): re-running it never undoes a cancellation.
class_sessions = sa.Table(
    "class_sessions",
    metadata,
    sa.Column("session_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("term_id", sa.Integer, sa.ForeignKey("terms.term_id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "course_code", COURSE_CODE, sa.ForeignKey("courses.course_code", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("room_id", ROOM_ID, sa.ForeignKey("rooms.room_id", ondelete="CASCADE"), nullable=False),
    sa.Column("session_date", sa.Date, nullable=False, comment="room-local date"),
    sa.Column("start_time", sa.Time, nullable=False, comment="room-local time"),
    sa.Column("end_time", sa.Time, nullable=False, comment="room-local time"),
    sa.Column("status", sa.String(16), nullable=False, default="scheduled"),
    sa.Column("origin", sa.String(16), nullable=False, default="timetable"),
    sa.Column("timetable_id", sa.Integer, sa.ForeignKey("timetable.id", ondelete="SET NULL"), nullable=True),
    sa.Column(
        "moved_from_id",
        sa.Integer,
        sa.ForeignKey("class_sessions.session_id", ondelete="SET NULL"),
        nullable=True,
    ),
    sa.Column("note", sa.String(500), nullable=True, comment="why it was cancelled, moved or added"),
    sa.Column(
        "cancelled_by",
        sa.String(200),
        nullable=True,
        comment="who cancelled it: a person, or 'calendar' (a day off, a slot gone from the timetable)",
    ),
    sa.Column("swept_at", UtcDateTime(), nullable=True, comment="absent marks written for it then"),
    sa.Column("updated_at", UtcDateTime(), nullable=False, default=_now, onupdate=_now),
    sa.UniqueConstraint("course_code", "session_date", "start_time"),
    sa.CheckConstraint("start_time < end_time", name="times"),
    sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name="status"),
    sa.CheckConstraint("origin IN ('timetable', 'moved', 'extra')", name="origin"),
    sa.Index(None, "term_id", "course_code", "session_date"),
    sa.Index(None, "room_id", "session_date"),
    sa.Index(None, "session_date", "status"),
)

# Every change of a mark by a person: who, when, old -> new and why. Shown beside the mark.
attendance_corrections = sa.Table(
    "attendance_corrections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "course_code", COURSE_CODE, sa.ForeignKey("courses.course_code", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("class_date", sa.Date, nullable=False, comment="room-local date of the class"),
    sa.Column("old_status", sa.String(16), nullable=True, comment="empty: there was no mark"),
    sa.Column("new_status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("corrected_by", sa.String(200), nullable=False),
    sa.Column("corrected_at", UtcDateTime(), nullable=False, default=_now),
    sa.Index(None, "course_code", "class_date"),
    sa.Index(None, "usn", "course_code"),
)

# The daily notification to each teacher (new absences, students who fell below the minimum):
# one per teacher and day, so a re-run or a redelivered schedule event sends nothing twice.
teacher_notifications = sa.Table(
    "teacher_notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "teacher_id", sa.Integer, sa.ForeignKey("teachers.teacher_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("message_id", sa.String(128), nullable=True, comment="SNS message id once published"),
    sa.Column("body", sa.Text, nullable=False, comment="JSON: the notification as sent"),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.Column(
        "claimed_until",
        UtcDateTime(),
        nullable=True,
        comment="a run publishing it holds it until then (a crashed run lets go)",
    ),
    sa.UniqueConstraint("teacher_id", "day"),
)

# What the room camera did with the door's handoffs, from its presence reports: which track each
# door capture (or body crop) named, and whether that track walked in through the door zone. The
# proxy rules check the door's recognitions against it. Ids and times only, no images.
room_tags = sa.Table(
    "room_tags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("room_id", ROOM_ID, sa.ForeignKey("rooms.room_id", ondelete="CASCADE"), nullable=False),
    sa.Column("camera_id", CAMERA_ID, nullable=False),
    sa.Column("tracker_id", sa.Integer, nullable=False),
    sa.Column("usn", USN, sa.ForeignKey("students.usn", ondelete="CASCADE"), nullable=False),
    sa.Column("capture_id", CAPTURE_ID, nullable=False, comment="the door capture or body crop behind it"),
    sa.Column("entered_through_door", sa.Boolean, nullable=False),
    sa.Column("entered_at", UtcDateTime(), nullable=False, comment="the track's first sighting"),
    sa.Column("tagged_at", UtcDateTime(), nullable=False, comment="capture time of the evidence"),
    sa.Column("created_at", UtcDateTime(), nullable=False, default=_now),
    sa.UniqueConstraint("camera_id", "tracker_id", "capture_id"),
    sa.Index(None, "room_id", "tagged_at"),
    sa.Index(None, "capture_id"),
)
