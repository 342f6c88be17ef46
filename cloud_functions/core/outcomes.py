"""What became of a capture or report: one vocabulary for every flow, stored as its value.

``recognition_events.outcome`` (door faces, body and gallery crops) and
``presence_reports.outcome`` hold these strings; the portal and the reports read them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """Every outcome of the capture flows (door faces, body crops, gallery crops, presence reports)."""

    # door faces (face_match)
    RECOGNISED = "recognised"
    UNKNOWN_PERSON = "unknown_person"
    NOT_ON_ROSTER = "not_on_roster"
    """An enrolled student identified at the stricter off-roster bar who is not on the class's roster:
    the event names them for admins; no attendance for that course, no handoff."""
    SPOOF_SUSPECTED = "spoof_suspected"
    """A photo or screen suspected at the door (liveness enforced): no attendance, no handoff, a flag."""
    # body and gallery crops (body_match)
    BODY_RECOGNISED = "body_recognised"
    BODY_UNKNOWN = "body_unknown"
    GALLERY_STORED = "gallery_stored"
    GALLERY_FULL = "gallery_full"
    NO_DOOR_HANDOFF = "no_door_handoff"
    UNKNOWN_STUDENT = "unknown_student"
    NO_CONSENT = "no_consent"
    UNEXPECTED_KEY = "unexpected_key"
    # presence reports (presence)
    PROCESSED = "processed"
    MALFORMED_REPORT = "malformed_report"
    # where and when: every flow asks first
    UNKNOWN_ROOM = "unknown_room"
    CAMERA_NOT_IN_ROOM = "camera_not_in_room"
    NO_CLASS_IN_SESSION = "no_class_in_session"
    CLASS_CANCELLED = "class_cancelled"
    """The term's session at that time was cancelled or moved away: nobody is marked."""
    AMBIGUOUS_TIMETABLE = "ambiguous_timetable"
    IMPLAUSIBLE_CAPTURE_TIME = "implausible_capture_time"
    # the object itself
    MISSING_METADATA = "missing_metadata"
    OBJECT_MISSING = "object_missing"
    DUPLICATE_CAPTURE_ID = "duplicate_capture_id"
    KEY_TOO_LONG = "key_too_long"
    # the image (decoding, and the face pipeline's quality gates: RejectReason values)
    UNDECODABLE = "undecodable"
    TOO_LARGE = "too_large"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    TOO_SMALL = "too_small"
    TOO_BLURRY = "too_blurry"
    EXTREME_POSE = "extreme_pose"
