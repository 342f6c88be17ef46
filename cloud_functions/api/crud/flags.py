"""Flags: list them for the course's teacher or an admin, fetch a spoof's door photo, resolve them.

A teacher sees and resolves only the flags of courses they teach (``course_teachers``, by the
name they sign in with); admins see all. Resolving is audited with the reason; resolving a
suspected spoof as ``genuine`` records the attendance the capture would have given.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

from sqlalchemy.engine import Connection

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.errors import ConflictError, RecordNotFoundError
from cloud_functions.api.photos import PhotoBucket
from cloud_functions.api.schemas import DoorPhotoPublic, FlagPublic, FlagResolve, FlagResolvedPublic
from cloud_functions.core.db import flags as db
from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.rosters import courses_taught_by

PHOTO_LINK_S = 300


def _taught_by(connection: Connection, principal: Principal) -> list[str] | None:
    """The course codes a teacher may see; ``None`` (all) for an admin."""
    if principal.is_admin:
        return None
    return sorted(courses_taught_by(connection, principal.name))


def _public(row: db.FlagRow) -> FlagPublic:
    return FlagPublic.model_validate(asdict(row))


def _visible(connection: Connection, flag_id: int, principal: Principal, *, lock: bool = False) -> db.FlagRow:
    row = db.get_flag(connection, flag_id, for_update=lock)
    if row is None:
        raise RecordNotFoundError(f"no flag {flag_id}")
    allowed = _taught_by(connection, principal)
    if allowed is not None and row.course_code not in allowed:
        # A teacher is not told whether another course's flag exists.
        raise RecordNotFoundError(f"no flag {flag_id}")
    return row


def list_flags(
    connection: Connection,
    principal: Principal,
    *,
    status: str | None,
    kind: str | None,
    course_code: str | None,
    class_date: date | None,
    limit: int,
) -> list[FlagPublic]:
    """The flags the caller may see, newest first."""
    rows = db.list_flags(
        connection,
        status=status,
        kind=kind,
        course_codes=_taught_by(connection, principal),
        course_code=course_code,
        class_date=class_date,
        limit=limit,
    )
    return [_public(r) for r in rows]


def get_flag(connection: Connection, flag_id: int, principal: Principal) -> FlagPublic:
    """One flag the caller may see."""
    return _public(_visible(connection, flag_id, principal))


def door_photo(
    connection: Connection, flag_id: int, principal: Principal, bucket: PhotoBucket
) -> DoorPhotoPublic:
    """A short-lived link to a spoof flag's door crop; the viewing is audited (biometric data)."""
    row = _visible(connection, flag_id, principal)
    object_key = row.evidence.get("object_key")
    if row.kind != "spoof_suspected" or not isinstance(object_key, str):
        raise RecordNotFoundError(f"flag {flag_id} has no door photo")
    if not bucket.exists(object_key):
        raise RecordNotFoundError(f"the door photo of flag {flag_id} is no longer stored")
    audit.record(
        connection,
        actor=principal.name,
        action="view_door_photo",
        entity="flag",
        entity_id=str(flag_id),
        object_key=object_key,
    )
    return DoorPhotoPublic(url=bucket.presigned_download(object_key, PHOTO_LINK_S), expires_in_s=PHOTO_LINK_S)


def resolve(
    connection: Connection, flag_id: int, body: FlagResolve, principal: Principal
) -> FlagResolvedPublic:
    """Resolve an open flag (audited); a spoof resolved as genuine records its attendance."""
    row = _visible(connection, flag_id, principal, lock=True)
    if row.status != "open":
        raise ConflictError(f"flag {flag_id} was already resolved by {row.resolved_by}")
    attendance_status = None
    if row.kind == "spoof_suspected" and body.resolution == "genuine":
        attendance_status = _record_door_attendance(connection, row)
    db.resolve_flag(connection, flag_id, resolution=body.resolution, actor=principal.name, reason=body.reason)
    audit.record(
        connection,
        actor=principal.name,
        action="resolve_flag",
        entity="flag",
        entity_id=str(flag_id),
        before={"status": row.status},
        after={"status": "resolved", "resolution": body.resolution, "attendance_status": attendance_status},
        reason=body.reason,
        kind=row.kind,
        usn=row.usn,
    )
    resolved = db.get_flag(connection, flag_id)
    assert resolved is not None
    return FlagResolvedPublic(flag=_public(resolved), attendance_status=attendance_status)


def _record_door_attendance(connection: Connection, row: db.FlagRow) -> str | None:
    """The attendance the flagged capture would have given (None: the face matched nobody)."""
    evidence = row.evidence
    if row.usn is None or row.course_code is None or row.class_date is None or row.room_id is None:
        return None
    arrival = evidence.get("arrival")
    captured_at = evidence.get("captured_at")
    if arrival not in ("entered", "late") or not isinstance(captured_at, str):
        raise ConflictError(f"flag {row.id} lacks the arrival and time its attendance needs")
    similarity = evidence.get("similarity")
    stored = record_door_sighting(
        connection,
        DoorSighting(
            usn=row.usn,
            course_code=row.course_code,
            class_date=row.class_date,
            room_id=row.room_id,
            seen_at=datetime.fromisoformat(captured_at),
            status=arrival,
            source="face",
            similarity=float(similarity) if isinstance(similarity, int | float) else None,
            capture_id=row.capture_id,
        ),
    )
    return stored.status
