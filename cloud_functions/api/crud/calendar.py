"""Terms, days off and class sessions: the admin's calendar and a teacher's cancellations, moves and extras.

Creating or changing a term, or its days off, regenerates its sessions in the same transaction
(``generate_term_sessions``: idempotent, never undoing a person's cancellation or move); a
timetable change regenerates every term that has not ended. ``POST /terms/{id}/generate`` runs it
on demand. Every change is audited.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.crud.catalog import get_course, get_room
from cloud_functions.api.errors import ConflictError, InvalidRequestError, RecordNotFoundError
from cloud_functions.api.ownership import require_course, visible_courses
from cloud_functions.api.schemas import (
    MAX_TERM_DAYS,
    ClassSessionCancel,
    ClassSessionExtra,
    ClassSessionMove,
    ClassSessionPublic,
    DayOffPublic,
    GenerationPublic,
    MarkRemaining,
    MarkRemainingPublic,
    TermCreate,
    TermPublic,
    TermUpdate,
)
from cloud_functions.core.db.schema import (
    attendance,
    attendance_corrections,
    class_sessions,
    course_rosters,
    term_days_off,
    terms,
)
from cloud_functions.core.db.sessions import GenerationReport, generate_open_terms, generate_term_sessions

# --- terms ----------------------------------------------------------------------------------


def _term_row(connection: Connection, term_id: int) -> RowMapping:
    row = connection.execute(sa.select(terms).where(terms.c.term_id == term_id)).mappings().one_or_none()
    if row is None:
        raise RecordNotFoundError(f"no term {term_id}")
    return row


def _term_public(
    connection: Connection, row: RowMapping, generated: GenerationReport | None = None
) -> TermPublic:
    days_off = [
        DayOffPublic(day=r.day, reason=r.reason)
        for r in connection.execute(
            sa.select(term_days_off)
            .where(term_days_off.c.term_id == row["term_id"])
            .order_by(term_days_off.c.day)
        )
    ]
    counts = Counter(
        {
            r.status: int(r.n)
            for r in connection.execute(
                sa.select(class_sessions.c.status, sa.func.count().label("n"))
                .where(class_sessions.c.term_id == row["term_id"])
                .group_by(class_sessions.c.status)
            )
        }
    )
    return TermPublic(
        term_id=row["term_id"],
        name=row["name"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        days_off=days_off,
        sessions={"scheduled": counts.get("scheduled", 0), "cancelled": counts.get("cancelled", 0)},
        generated=GenerationPublic(**generated.as_dict()) if generated is not None else None,
    )


def _check_no_overlap(connection: Connection, start: date, end: date, name: str, term_id: int | None) -> None:
    query = sa.select(terms.c.name, terms.c.term_id).where(
        terms.c.start_date <= end, terms.c.end_date >= start
    )
    if term_id is not None:
        query = query.where(terms.c.term_id != term_id)
    other = connection.execute(query).first()
    if other is not None:
        raise ConflictError(f"the dates overlap term {other.name!r} ({other.term_id}); terms may not overlap")
    same_name = sa.select(terms.c.term_id).where(terms.c.name == name)
    if term_id is not None:
        same_name = same_name.where(terms.c.term_id != term_id)
    if connection.execute(same_name).first() is not None:
        raise ConflictError(f"a term named {name!r} exists")


def list_terms(connection: Connection) -> list[TermPublic]:
    """Every term, latest first."""
    rows = connection.execute(sa.select(terms).order_by(terms.c.start_date.desc())).mappings()
    return [_term_public(connection, row) for row in rows]


def get_term(connection: Connection, term_id: int) -> TermPublic:
    """One term with its days off and session counts."""
    return _term_public(connection, _term_row(connection, term_id))


def _generate(connection: Connection, term_id: int, now: datetime) -> GenerationReport:
    return generate_term_sessions(connection, term_id, now)


def create_term(connection: Connection, body: TermCreate, actor: Principal, now: datetime) -> TermPublic:
    """Insert a term with its days off and generate its sessions."""
    _check_no_overlap(connection, body.start_date, body.end_date, body.name, None)
    inserted = connection.execute(
        terms.insert().values(
            name=body.name, start_date=body.start_date, end_date=body.end_date, created_at=now
        )
    ).inserted_primary_key
    term_id = int(inserted[0]) if inserted is not None else 0
    if body.days_off:
        connection.execute(
            term_days_off.insert(),
            [{"term_id": term_id, "day": d.day, "reason": d.reason} for d in body.days_off],
        )
    generated = _generate(connection, term_id, now)
    audit.record(
        connection,
        actor=actor.name,
        action="create",
        entity="term",
        entity_id=str(term_id),
        after=body.model_dump(mode="json"),
        generated=generated.as_dict(),
    )
    return _term_public(connection, _term_row(connection, term_id), generated)


def update_term(
    connection: Connection, term_id: int, body: TermUpdate, actor: Principal, now: datetime
) -> TermPublic:
    """Change a term's name or dates; its days off must stay inside; its sessions are regenerated."""
    row = _term_row(connection, term_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    start = changes.get("start_date", row["start_date"])
    end = changes.get("end_date", row["end_date"])
    if end < start:
        raise InvalidRequestError("end_date must not be before start_date", loc=("body", "end_date"))
    if (end - start).days >= MAX_TERM_DAYS:
        raise InvalidRequestError(f"a term lasts at most {MAX_TERM_DAYS} days", loc=("body", "end_date"))
    outside = connection.execute(
        sa.select(term_days_off.c.day).where(
            term_days_off.c.term_id == term_id, sa.or_(term_days_off.c.day < start, term_days_off.c.day > end)
        )
    ).first()
    if outside is not None:
        raise InvalidRequestError(
            f"day off {outside.day} would fall outside the term; remove it first", loc=("body",)
        )
    _check_no_overlap(connection, start, end, changes.get("name", row["name"]), term_id)
    if changes:
        connection.execute(terms.update().where(terms.c.term_id == term_id).values(**changes))
    generated = _generate(connection, term_id, now)
    audit.record(
        connection,
        actor=actor.name,
        action="update",
        entity="term",
        entity_id=str(term_id),
        before={k: row[k] for k in ("name", "start_date", "end_date")},
        after=changes,
        generated=generated.as_dict(),
    )
    return _term_public(connection, _term_row(connection, term_id), generated)


def delete_term(connection: Connection, term_id: int, actor: Principal) -> None:
    """Delete a term with its days off and sessions (attendance marks stay)."""
    row = _term_row(connection, term_id)
    connection.execute(terms.delete().where(terms.c.term_id == term_id))
    audit.record(
        connection,
        actor=actor.name,
        action="delete",
        entity="term",
        entity_id=str(term_id),
        before={k: row[k] for k in ("name", "start_date", "end_date")},
    )


def put_day_off(
    connection: Connection, term_id: int, day: date, reason: str, actor: Principal, now: datetime
) -> TermPublic:
    """Add (or re-word) a day off; its sessions are cancelled if still to come and unmarked."""
    row = _term_row(connection, term_id)
    if not row["start_date"] <= day <= row["end_date"]:
        raise InvalidRequestError(
            f"{day} is outside the term ({row['start_date']} to {row['end_date']})", loc=("path", "day")
        )
    existing = connection.execute(
        sa.select(term_days_off).where(term_days_off.c.term_id == term_id, term_days_off.c.day == day)
    ).first()
    if existing is None:
        connection.execute(term_days_off.insert().values(term_id=term_id, day=day, reason=reason))
    else:
        connection.execute(
            term_days_off.update().where(term_days_off.c.id == existing.id).values(reason=reason)
        )
    generated = _generate(connection, term_id, now)
    audit.record(
        connection,
        actor=actor.name,
        action="day_off",
        entity="term",
        entity_id=str(term_id),
        after={"day": day, "reason": reason},
        generated=generated.as_dict(),
    )
    return _term_public(connection, row, generated)


def delete_day_off(
    connection: Connection, term_id: int, day: date, actor: Principal, now: datetime
) -> TermPublic:
    """Remove a day off; the sessions it cancelled come back (if still to come)."""
    row = _term_row(connection, term_id)
    result = connection.execute(
        term_days_off.delete().where(term_days_off.c.term_id == term_id, term_days_off.c.day == day)
    )
    if not result.rowcount:
        raise RecordNotFoundError(f"{day} is not a day off of term {term_id}")
    generated = _generate(connection, term_id, now)
    audit.record(
        connection,
        actor=actor.name,
        action="day_off_removed",
        entity="term",
        entity_id=str(term_id),
        before={"day": day},
        generated=generated.as_dict(),
    )
    return _term_public(connection, row, generated)


def generate(connection: Connection, term_id: int, actor: Principal, now: datetime) -> GenerationPublic:
    """Regenerate a term's sessions now (after timetable changes made outside the API)."""
    _term_row(connection, term_id)
    generated = _generate(connection, term_id, now)
    audit.record(
        connection,
        actor=actor.name,
        action="generate",
        entity="term",
        entity_id=str(term_id),
        generated=generated.as_dict(),
    )
    return GenerationPublic(**generated.as_dict())


def regenerate_after_timetable_change(connection: Connection, now: datetime) -> None:
    """Every term that has not ended follows the timetable's change (in the change's transaction)."""
    generate_open_terms(connection, now)


# --- sessions --------------------------------------------------------------------------------


def _session_public(connection: Connection, row: RowMapping) -> ClassSessionPublic:
    moved_to = connection.execute(
        sa.select(class_sessions.c.session_id).where(class_sessions.c.moved_from_id == row["session_id"])
    ).scalar()
    return ClassSessionPublic.model_validate({**dict(row), "moved_to_id": moved_to})


def _session_row(connection: Connection, session_id: int) -> RowMapping:
    row = (
        connection.execute(sa.select(class_sessions).where(class_sessions.c.session_id == session_id))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise RecordNotFoundError(f"no class session {session_id}")
    return row


def get_session(connection: Connection, session_id: int, actor: Principal) -> ClassSessionPublic:
    """One session (its teachers and admins)."""
    row = _session_row(connection, session_id)
    require_course(connection, actor, row["course_code"])
    return _session_public(connection, row)


def list_sessions(
    connection: Connection,
    actor: Principal,
    *,
    term_id: int | None = None,
    course_code: str | None = None,
    room_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: str | None = None,
    limit: int = 500,
) -> list[ClassSessionPublic]:
    """Sessions by date and start, filtered; a teacher sees only their courses'."""
    if date_from and date_to and date_to < date_from:
        raise InvalidRequestError("date_to must not be before date_from", loc=("query", "date_to"))
    if course_code is not None:
        require_course(connection, actor, course_code)
    if room_id is not None:
        get_room(connection, room_id)
    if term_id is not None:
        _term_row(connection, term_id)
    table = class_sessions
    query = sa.select(table)
    for column, value in (
        (table.c.term_id, term_id),
        (table.c.course_code, course_code),
        (table.c.room_id, room_id),
        (table.c.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    if date_from is not None:
        query = query.where(table.c.session_date >= date_from)
    if date_to is not None:
        query = query.where(table.c.session_date <= date_to)
    allowed = visible_courses(connection, actor)
    if allowed is not None:
        query = query.where(table.c.course_code.in_(sorted(allowed)))
    query = query.order_by(table.c.session_date, table.c.start_time, table.c.course_code).limit(limit)
    rows = list(connection.execute(query).mappings())
    moved_to = {
        r.moved_from_id: r.session_id
        for r in connection.execute(
            sa.select(table.c.session_id, table.c.moved_from_id).where(
                table.c.moved_from_id.in_([r["session_id"] for r in rows])
            )
        )
    }
    return [
        ClassSessionPublic.model_validate({**dict(r), "moved_to_id": moved_to.get(r["session_id"])})
        for r in rows
    ]


def _term_covering(connection: Connection, day: date) -> int:
    row = connection.execute(
        sa.select(terms.c.term_id).where(terms.c.start_date <= day, terms.c.end_date >= day)
    ).first()
    if row is None:
        raise InvalidRequestError(f"no term covers {day}", loc=("body", "session_date"))
    return int(row.term_id)


def _check_slot_free(
    connection: Connection,
    *,
    course_code: str,
    room_id: str,
    day: date,
    start: time,
    end: time,
    ignore_session_id: int | None = None,
) -> None:
    """409 if the course already meets then (any status at the same start: the unique key), or if
    a scheduled session of this course or of this room overlaps."""
    table = class_sessions
    overlapping = sa.and_(table.c.session_date == day, table.c.start_time < end, table.c.end_time > start)
    query = sa.select(table).where(
        sa.or_(
            sa.and_(
                table.c.course_code == course_code, table.c.session_date == day, table.c.start_time == start
            ),
            sa.and_(
                overlapping,
                table.c.status == "scheduled",
                sa.or_(table.c.course_code == course_code, table.c.room_id == room_id),
            ),
        )
    )
    if ignore_session_id is not None:
        query = query.where(table.c.session_id != ignore_session_id)
    clash = connection.execute(query).mappings().first()
    if clash is None:
        return
    what = (
        f"another session of {course_code}"
        if clash["course_code"] == course_code
        else f"{clash['course_code']} in {clash['room_id']}"
    )
    raise ConflictError(
        f"{day} {start:%H:%M}-{end:%H:%M} clashes with {what} "
        f"({clash['session_date']} {clash['start_time']:%H:%M}-{clash['end_time']:%H:%M}, "
        f"{clash['status']}, session {clash['session_id']})"
    )


def _withdraw_sweep_absences(connection: Connection, course_code: str, day: date) -> int:
    """A class that did not happen marks nobody: the sweep's absences for it go, unless another
    scheduled session of the course that day still holds."""
    still = connection.execute(
        sa.select(class_sessions.c.session_id).where(
            class_sessions.c.course_code == course_code,
            class_sessions.c.session_date == day,
            class_sessions.c.status == "scheduled",
        )
    ).first()
    if still is not None:
        return 0
    result = connection.execute(
        attendance.delete().where(
            attendance.c.course_code == course_code,
            attendance.c.class_date == day,
            attendance.c.source == "sweep",
        )
    )
    return int(result.rowcount or 0)


def _scheduled_session(connection: Connection, session_id: int, actor: Principal, refusal: str) -> RowMapping:
    """The session, once ``actor`` may change its course; a cancelled one is a conflict (``refusal``)."""
    row = _session_row(connection, session_id)
    require_course(connection, actor, row["course_code"])
    if row["status"] != "scheduled":
        raise ConflictError(f"session {session_id} {refusal}")
    return row


def _insert_session(connection: Connection, now: datetime, **values: Any) -> int:
    """Insert a scheduled class session; its id."""
    inserted = connection.execute(
        class_sessions.insert().values(status="scheduled", updated_at=now, **values)
    ).inserted_primary_key
    return int(inserted[0]) if inserted is not None else 0


def cancel_session(
    connection: Connection, session_id: int, body: ClassSessionCancel, actor: Principal, now: datetime
) -> ClassSessionPublic:
    """Cancel a scheduled session with its reason (its teachers and admins)."""
    row = _scheduled_session(connection, session_id, actor, "is already cancelled")
    connection.execute(
        class_sessions.update()
        .where(class_sessions.c.session_id == session_id)
        .values(status="cancelled", cancelled_by=actor.name, note=body.reason, updated_at=now)
    )
    withdrawn = _withdraw_sweep_absences(connection, row["course_code"], row["session_date"])
    audit.record(
        connection,
        actor=actor.name,
        action="cancel",
        entity="class_session",
        entity_id=str(session_id),
        before={"status": row["status"]},
        after={"status": "cancelled"},
        reason=body.reason,
        sweep_absences_withdrawn=withdrawn,
    )
    return _session_public(connection, _session_row(connection, session_id))


def move_session(
    connection: Connection, session_id: int, body: ClassSessionMove, actor: Principal, now: datetime
) -> ClassSessionPublic:
    """Move a session: the old slot is kept cancelled, the new one is a 'moved' session pointing back."""
    row = _scheduled_session(connection, session_id, actor, "is cancelled; add an extra session instead")
    course_code = row["course_code"]
    if row["swept_at"] is not None:
        raise ConflictError(f"session {session_id} has ended and was swept; it cannot move")
    room_id = str(get_room(connection, body.room_id)["room_id"]) if body.room_id else row["room_id"]
    term_id = _term_covering(connection, body.session_date)
    _check_slot_free(
        connection,
        course_code=course_code,
        room_id=room_id,
        day=body.session_date,
        start=body.start_time,
        end=body.end_time,
        ignore_session_id=session_id,
    )
    connection.execute(
        class_sessions.update()
        .where(class_sessions.c.session_id == session_id)
        .values(status="cancelled", cancelled_by=actor.name, note=f"moved: {body.reason}", updated_at=now)
    )
    new_id = _insert_session(
        connection,
        now,
        term_id=term_id,
        course_code=course_code,
        room_id=room_id,
        session_date=body.session_date,
        start_time=body.start_time,
        end_time=body.end_time,
        origin="moved",
        moved_from_id=session_id,
        note=body.reason,
    )
    audit.record(
        connection,
        actor=actor.name,
        action="move",
        entity="class_session",
        entity_id=str(session_id),
        before=_slot(row),
        after={"session_id": new_id, **body.model_dump(mode="json", exclude={"reason"}), "room_id": room_id},
        reason=body.reason,
    )
    return _session_public(connection, _session_row(connection, new_id))


def _slot(row: RowMapping) -> dict[str, Any]:
    return {k: row[k] for k in ("room_id", "session_date", "start_time", "end_time")}


def add_extra_session(
    connection: Connection, body: ClassSessionExtra, actor: Principal, now: datetime
) -> ClassSessionPublic:
    """An extra class of a course (its teachers and admins), on a day a term covers."""
    require_course(connection, actor, body.course_code)
    get_room(connection, body.room_id)
    term_id = _term_covering(connection, body.session_date)
    _check_slot_free(
        connection,
        course_code=body.course_code,
        room_id=body.room_id,
        day=body.session_date,
        start=body.start_time,
        end=body.end_time,
    )
    new_id = _insert_session(
        connection,
        now,
        term_id=term_id,
        course_code=body.course_code,
        room_id=body.room_id,
        session_date=body.session_date,
        start_time=body.start_time,
        end_time=body.end_time,
        origin="extra",
        note=body.reason,
    )
    audit.record(
        connection,
        actor=actor.name,
        action="add_extra",
        entity="class_session",
        entity_id=str(new_id),
        after=body.model_dump(mode="json"),
    )
    return _session_public(connection, _session_row(connection, new_id))


def mark_remaining(
    connection: Connection, session_id: int, body: MarkRemaining, actor: Principal, now: datetime
) -> MarkRemainingPublic:
    """One call for "mark all remaining present/absent": every student on the course's roster that
    day with no mark, or only the sweep's absent, gets ``status`` (source manual), each with a
    correction row; marks from the cameras or by hand are left alone."""
    row = _scheduled_session(connection, session_id, actor, "is cancelled: it marks nobody")
    course_code, day = row["course_code"], row["session_date"]
    get_course(connection, course_code)
    enrolled = [
        r.usn
        for r in connection.execute(
            sa.select(course_rosters.c.usn)
            .where(
                course_rosters.c.course_code == course_code,
                sa.or_(course_rosters.c.valid_from.is_(None), course_rosters.c.valid_from <= day),
                sa.or_(course_rosters.c.valid_to.is_(None), course_rosters.c.valid_to >= day),
            )
            .order_by(course_rosters.c.usn)
        )
    ]
    existing = {
        r.usn: (r.status, r.source)
        for r in connection.execute(
            sa.select(attendance.c.usn, attendance.c.status, attendance.c.source).where(
                attendance.c.course_code == course_code, attendance.c.class_date == day
            )
        )
    }
    remaining = [u for u in enrolled if u not in existing or existing[u][1] == "sweep"]
    swept = [u for u in remaining if u in existing]
    fresh = [u for u in remaining if u not in existing]
    if swept:
        connection.execute(
            attendance.update()
            .where(
                attendance.c.course_code == course_code,
                attendance.c.class_date == day,
                attendance.c.usn.in_(swept),
                attendance.c.source == "sweep",
            )
            .values(status=body.status, source="manual", updated_at=now)
        )
    if fresh:
        connection.execute(
            attendance.insert(),
            [
                {
                    "usn": usn,
                    "course_code": course_code,
                    "class_date": day,
                    "room_id": row["room_id"],
                    "status": body.status,
                    "source": "manual",
                    "updated_at": now,
                }
                for usn in fresh
            ],
        )
    if remaining:
        connection.execute(
            attendance_corrections.insert(),
            [
                {
                    "usn": usn,
                    "course_code": course_code,
                    "class_date": day,
                    "old_status": existing[usn][0] if usn in existing else None,
                    "new_status": body.status,
                    "reason": body.reason,
                    "corrected_by": actor.name[:200],
                    "corrected_at": now,
                }
                for usn in remaining
            ],
        )
    audit.record(
        connection,
        actor=actor.name,
        action="mark_remaining",
        entity="class_session",
        entity_id=str(session_id),
        after={"status": body.status, "usns": remaining},
        reason=body.reason,
    )
    return MarkRemainingPublic(
        session_id=session_id, course_code=course_code, class_date=day, status=body.status, marked=remaining
    )


def utc_now() -> datetime:
    """Now, for callers without the app's clock (the CLI)."""
    return datetime.now(UTC)
