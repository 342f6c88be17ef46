"""Flags: suspicions a teacher or admin resolves (a suspected spoof at the door, proxy rules).

``dedupe_key`` is unique: raising the same flag twice (a redelivered capture, a rule run again
over the same events) keeps the first and adds nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.engine import insert_ignoring_duplicate
from cloud_functions.core.db.schema import flags

FlagKind = Literal["spoof_suspected", "not_confirmed", "one_body_two_faces", "two_rooms"]
Resolution = Literal["genuine", "proxy"]


@dataclass(frozen=True)
class NewFlag:
    """A suspicion to record; ``evidence`` is JSON-ready (no images, no embeddings)."""

    kind: FlagKind
    dedupe_key: str
    usn: str | None
    room_id: str | None
    course_code: str | None
    class_date: date | None
    capture_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagRow:
    """A stored flag."""

    id: int
    kind: str
    usn: str | None
    room_id: str | None
    course_code: str | None
    class_date: date | None
    capture_id: str | None
    evidence: dict[str, Any]
    status: str
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolved_reason: str | None
    created_at: datetime


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a flag's evidence")


def raise_flag(connection: Connection, flag: NewFlag) -> bool:
    """Record ``flag`` unless one with its ``dedupe_key`` exists; True when it was new."""
    return insert_ignoring_duplicate(
        connection,
        flags,
        {
            "kind": flag.kind,
            "dedupe_key": flag.dedupe_key[:191],
            "usn": flag.usn,
            "room_id": flag.room_id,
            "course_code": flag.course_code,
            "class_date": flag.class_date,
            "capture_id": flag.capture_id,
            "evidence": json.dumps(flag.evidence, default=_json_default, sort_keys=True),
            "status": "open",
            "created_at": datetime.now(UTC),
        },
        ["dedupe_key"],
    )


def _row(row: Any) -> FlagRow:
    return FlagRow(
        id=row.id,
        kind=row.kind,
        usn=row.usn,
        room_id=row.room_id,
        course_code=row.course_code,
        class_date=row.class_date,
        capture_id=row.capture_id,
        evidence=json.loads(row.evidence),
        status=row.status,
        resolution=row.resolution,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
        resolved_reason=row.resolved_reason,
        created_at=row.created_at,
    )


def get_flag(connection: Connection, flag_id: int, *, for_update: bool = False) -> FlagRow | None:
    """The flag ``flag_id``, if any (locked for the transaction with ``for_update``)."""
    query = sa.select(flags).where(flags.c.id == flag_id)
    if for_update:
        query = query.with_for_update()
    row = connection.execute(query).first()
    return _row(row) if row is not None else None


def list_flags(
    connection: Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    course_codes: list[str] | None = None,
    course_code: str | None = None,
    class_date: date | None = None,
    limit: int = 200,
) -> list[FlagRow]:
    """Flags, newest first, filtered; ``course_codes`` limits them to those courses (a teacher's)."""
    query = sa.select(flags)
    if status is not None:
        query = query.where(flags.c.status == status)
    if kind is not None:
        query = query.where(flags.c.kind == kind)
    if course_codes is not None:
        query = query.where(flags.c.course_code.in_(course_codes))
    if course_code is not None:
        query = query.where(flags.c.course_code == course_code)
    if class_date is not None:
        query = query.where(flags.c.class_date == class_date)
    query = query.order_by(flags.c.created_at.desc(), flags.c.id.desc()).limit(limit)
    return [_row(r) for r in connection.execute(query)]


def resolve_flag(
    connection: Connection, flag_id: int, *, resolution: Resolution, actor: str, reason: str
) -> None:
    """Mark the flag resolved (the caller holds it locked and audits the change)."""
    connection.execute(
        flags.update()
        .where(flags.c.id == flag_id)
        .values(
            status="resolved",
            resolution=resolution,
            resolved_by=actor[:200],
            resolved_at=datetime.now(UTC),
            resolved_reason=reason[:500],
        )
    )
