"""Terms, days off and class sessions: loading them, generating a term's sessions, the sweep's queries.

Generation (``generate_term_sessions``) applies ``calendar.reconcile`` in the caller's
transaction; inserts go through the unique key (course, date, start), so two generations at
once add each session once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from cloud_functions.core.calendar import (
    CALENDAR,
    PlannedSession,
    SessionChanges,
    StoredSession,
    Term,
    TimetableSlot,
    plan_sessions,
    reconcile,
    session_bounds,
)
from cloud_functions.core.db.schema import (
    attendance,
    class_sessions,
    course_rosters,
    rooms,
    term_days_off,
    terms,
    timetable,
)
from cloud_functions.core.timetable import TimetableEntry


def _stored(row: sa.Row[object] | sa.RowMapping) -> StoredSession:
    m = row._mapping if isinstance(row, sa.Row) else row
    return StoredSession(
        session_id=m["session_id"],
        course_code=m["course_code"],
        room_id=m["room_id"],
        session_date=m["session_date"],
        start_time=m["start_time"],
        end_time=m["end_time"],
        status=m["status"],
        origin=m["origin"],
        timetable_id=m["timetable_id"],
        cancelled_by=m["cancelled_by"],
        note=m["note"],
    )


def load_term(connection: Connection, term_id: int) -> Term | None:
    """The term with its days off, or None."""
    row = connection.execute(sa.select(terms).where(terms.c.term_id == term_id)).first()
    if row is None:
        return None
    days_off = {
        r.day: r.reason
        for r in connection.execute(sa.select(term_days_off).where(term_days_off.c.term_id == term_id))
    }
    return Term(row.term_id, row.start_date, row.end_date, days_off)


def terms_covering(connection: Connection, days: Sequence[date]) -> list[int]:
    """Ids of the terms whose dates include any of ``days``."""
    if not days:
        return []
    conditions = [sa.and_(terms.c.start_date <= d, terms.c.end_date >= d) for d in days]
    return [r.term_id for r in connection.execute(sa.select(terms.c.term_id).where(sa.or_(*conditions)))]


def room_sessions(connection: Connection, room_id: str, days: Sequence[date]) -> list[StoredSession]:
    """The room's sessions (scheduled and cancelled) on ``days``."""
    rows = connection.execute(
        sa.select(class_sessions).where(
            class_sessions.c.room_id == room_id, class_sessions.c.session_date.in_(sorted(set(days)))
        )
    )
    return [_stored(r) for r in rows]


def timetable_slots(connection: Connection) -> list[TimetableSlot]:
    """Every timetable row, with its id and room."""
    return [
        TimetableSlot(
            r.id,
            r.room_id,
            TimetableEntry(r.course_code, r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_to),
        )
        for r in connection.execute(sa.select(timetable))
    ]


@dataclass(frozen=True)
class GenerationReport:
    """What one generation did to a term's sessions."""

    term_id: int
    planned: int
    added: int
    restored: int
    adjusted: int
    cancelled: int

    def as_dict(self) -> dict[str, int]:
        """The counts, for the API, the CLI and the audit log."""
        return {
            "term_id": self.term_id,
            "planned": self.planned,
            "added": self.added,
            "restored": self.restored,
            "adjusted": self.adjusted,
            "cancelled": self.cancelled,
        }


def _marked(connection: Connection, stored: Sequence[StoredSession]) -> set[tuple[str, date]]:
    if not stored:
        return set()
    days = sorted({s.session_date for s in stored})
    codes = sorted({s.course_code for s in stored})
    rows = connection.execute(
        sa.select(attendance.c.course_code, attendance.c.class_date)
        .where(attendance.c.course_code.in_(codes), attendance.c.class_date.between(days[0], days[-1]))
        .distinct()
    )
    return {(r.course_code, r.class_date) for r in rows}


def _insert_ignoring_duplicates(connection: Connection, rows: list[dict[str, object]]) -> None:
    if not rows:
        return
    if connection.dialect.name == "mysql":
        mysql_stmt = mysql.insert(class_sessions)
        connection.execute(mysql_stmt.on_duplicate_key_update(session_id=class_sessions.c.session_id), rows)
    else:
        connection.execute(sqlite.insert(class_sessions).on_conflict_do_nothing(), rows)


def generate_term_sessions(connection: Connection, term_id: int, now: datetime) -> GenerationReport:
    """Bring the term's sessions in line with the timetable and its calendar (idempotent).

    A stored session may be restored, adjusted or cancelled only while it is in the future
    (room-local start after ``now``) and nobody has a mark for its course that day.
    """
    term = load_term(connection, term_id)
    if term is None:
        raise LookupError(f"no term {term_id}")
    planned = plan_sessions(term, timetable_slots(connection))
    stored = [
        _stored(r)
        for r in connection.execute(sa.select(class_sessions).where(class_sessions.c.term_id == term_id))
    ]
    # A session of another term with the same key (overlapping terms) is that term's to keep.
    other_keys = {
        (r.course_code, r.session_date, r.start_time)
        for r in connection.execute(
            sa.select(
                class_sessions.c.course_code, class_sessions.c.session_date, class_sessions.c.start_time
            ).where(
                class_sessions.c.term_id != term_id,
                class_sessions.c.session_date.between(term.start_date, term.end_date),
            )
        )
    }
    planned = [p for p in planned if p.key not in other_keys]
    zones = {r.room_id: r.timezone for r in connection.execute(sa.select(rooms.c.room_id, rooms.c.timezone))}
    marked = _marked(connection, stored)
    changeable = {
        s.session_id: session_bounds(s, zones.get(s.room_id, "UTC"))[0] > now
        and (s.course_code, s.session_date) not in marked
        for s in stored
    }
    changes = reconcile(planned, stored, days_off=term.days_off, changeable=changeable)
    _apply(connection, term_id, changes, now)
    return GenerationReport(
        term_id=term_id,
        planned=len(planned),
        added=len(changes.add),
        restored=len(changes.restore),
        adjusted=len(changes.adjust),
        cancelled=len(changes.cancel),
    )


def _new_row(term_id: int, plan: PlannedSession, now: datetime) -> dict[str, object]:
    return {
        "term_id": term_id,
        "course_code": plan.course_code,
        "room_id": plan.room_id,
        "session_date": plan.session_date,
        "start_time": plan.start_time,
        "end_time": plan.end_time,
        "status": "scheduled",
        "origin": "timetable",
        "timetable_id": plan.timetable_id,
        "moved_from_id": None,
        "note": None,
        "cancelled_by": None,
        "swept_at": None,
        "updated_at": now,
    }


def _apply(connection: Connection, term_id: int, changes: SessionChanges, now: datetime) -> None:
    _insert_ignoring_duplicates(connection, [_new_row(term_id, p, now) for p in changes.add])
    table = class_sessions
    for session in changes.restore:
        connection.execute(
            table.update()
            .where(table.c.session_id == session.session_id, table.c.cancelled_by == CALENDAR)
            .values(status="scheduled", cancelled_by=None, note=None, updated_at=now)
        )
    for session, plan in changes.adjust:
        connection.execute(
            table.update()
            .where(table.c.session_id == session.session_id)
            .values(
                room_id=plan.room_id, end_time=plan.end_time, timetable_id=plan.timetable_id, updated_at=now
            )
        )
    for session, note in changes.cancel:
        connection.execute(
            table.update()
            .where(table.c.session_id == session.session_id, table.c.status == "scheduled")
            .values(status="cancelled", cancelled_by=CALENDAR, note=note, updated_at=now)
        )


def generate_open_terms(connection: Connection, now: datetime) -> list[GenerationReport]:
    """Regenerate every term that has not ended (after a timetable change)."""
    today = now.astimezone(UTC).date() - timedelta(days=1)  # a room west of UTC may still be on yesterday
    ids = [r.term_id for r in connection.execute(sa.select(terms.c.term_id).where(terms.c.end_date >= today))]
    return [generate_term_sessions(connection, term_id, now) for term_id in ids]


# --- the absent sweep --------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepCandidate:
    """A scheduled, unswept session and its room's time zone."""

    session: StoredSession
    timezone: str


def unswept_sessions(connection: Connection, until: date) -> list[SweepCandidate]:
    """Scheduled sessions not yet swept, dated on or before ``until``, oldest first."""
    rows = connection.execute(
        sa.select(class_sessions, rooms.c.timezone)
        .select_from(class_sessions.join(rooms, rooms.c.room_id == class_sessions.c.room_id))
        .where(
            class_sessions.c.status == "scheduled",
            class_sessions.c.swept_at.is_(None),
            class_sessions.c.session_date <= until,
        )
        .order_by(class_sessions.c.session_date, class_sessions.c.start_time, class_sessions.c.session_id)
    )
    return [SweepCandidate(_stored(r), r.timezone) for r in rows]


def write_absences(connection: Connection, session: StoredSession, now: datetime) -> int:
    """``absent`` (source 'sweep') for every student on the course's roster that day without a row.

    Insert-or-ignore on the attendance key: a mark that exists (a capture, a correction, an
    earlier sweep) is left as it is, and two sweeps at once write each absence once. Returns how
    many rows were added.
    """
    day = session.session_date
    enrolled = sa.select(course_rosters.c.usn).where(
        course_rosters.c.course_code == session.course_code,
        sa.or_(course_rosters.c.valid_from.is_(None), course_rosters.c.valid_from <= day),
        sa.or_(course_rosters.c.valid_to.is_(None), course_rosters.c.valid_to >= day),
    )
    marked = sa.select(attendance.c.usn).where(
        attendance.c.course_code == session.course_code, attendance.c.class_date == day
    )
    usns = [r.usn for r in connection.execute(enrolled.where(course_rosters.c.usn.not_in(marked)))]
    if not usns:
        return 0
    rows = [
        {
            "usn": usn,
            "course_code": session.course_code,
            "class_date": day,
            "room_id": session.room_id,
            "status": "absent",
            "source": "sweep",
            "updated_at": now,
        }
        for usn in usns
    ]
    if connection.dialect.name == "mysql":
        mysql_stmt = mysql.insert(attendance)
        result = connection.execute(mysql_stmt.on_duplicate_key_update(usn=attendance.c.usn), rows)
    else:
        result = connection.execute(sqlite.insert(attendance).on_conflict_do_nothing(), rows)
    # MySQL counts 1 per insert and 0 per unchanged duplicate; SQLite counts inserts.
    return int(result.rowcount) if result.rowcount is not None and result.rowcount >= 0 else len(rows)


def mark_swept(connection: Connection, session_id: int, now: datetime) -> bool:
    """Set ``swept_at`` if it is not set yet; True if this call set it."""
    result = connection.execute(
        class_sessions.update()
        .where(class_sessions.c.session_id == session_id, class_sessions.c.swept_at.is_(None))
        .values(swept_at=now)
    )
    return bool(result.rowcount)
