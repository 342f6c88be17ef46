"""Attendance: per-class reports, per-student history, today's classes, CSV and manual overrides."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.crud.catalog import get_course, get_room
from cloud_functions.api.crud.students import get_student
from cloud_functions.api.errors import InvalidRequestError
from cloud_functions.api.rules import classes_of_day, room_local_date, to_csv
from cloud_functions.api.schemas import (
    MARK_OF_STATUS,
    AttendanceOverride,
    AttendancePublic,
    AttendanceReport,
    CorrectionPublic,
    EvidencePublic,
    ScheduledClassPublic,
    StudentHistory,
    StudentRef,
)
from cloud_functions.core.db.negatives import record_correction
from cloud_functions.core.db.schema import (
    attendance,
    attendance_corrections,
    class_sessions,
    course_rosters,
    courses,
    recognition_events,
    rooms,
    students,
    timetable,
)
from cloud_functions.core.db.sessions import room_sessions, terms_covering
from cloud_functions.core.timetable import TimetableEntry, room_zone

STATUSES = ("entered", "late", "present", "absent", "excused")
CSV_HEADER = (
    "usn",
    "name",
    "course_code",
    "class_date",
    "room_id",
    "timezone",
    "status",
    "source",
    "first_seen_local",
    "confirmed_local",
    "similarity",
    "corrected_by",
    "corrected_at_local",
    "correction_reason",
)
_AUDITED = ("status", "source", "room_id", "first_seen_at", "confirmed_at")


def _rows(connection: Connection, *conditions: sa.ColumnElement[bool]) -> list[AttendancePublic]:
    query = (
        sa.select(attendance, students.c.name)
        .select_from(attendance.outerjoin(students, students.c.usn == attendance.c.usn))
        .where(*conditions)
        .order_by(attendance.c.class_date, attendance.c.course_code, attendance.c.usn)
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    corrections = _corrections_of(connection, rows)
    result = []
    for row in rows:
        key = (row["usn"], row["course_code"], row["class_date"])
        row_corrections = corrections.get(key, [])
        result.append(
            AttendancePublic.model_validate(
                {
                    **row,
                    "mark": MARK_OF_STATUS.get(row["status"]),
                    "evidence": evidence_of(row, row_corrections),
                    "corrections": row_corrections,
                }
            )
        )
    return result


def _corrections_of(
    connection: Connection, rows: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, str, date], list[CorrectionPublic]]:
    """The corrections of ``rows``, oldest first, by attendance key (one query per course)."""
    found: dict[tuple[str, str, date], list[CorrectionPublic]] = {}
    by_course: dict[str, set[date]] = {}
    for row in rows:
        by_course.setdefault(row["course_code"], set()).add(row["class_date"])
    usns = sorted({row["usn"] for row in rows})
    for course_code, days in by_course.items():
        query = (
            sa.select(attendance_corrections)
            .where(
                attendance_corrections.c.course_code == course_code,
                attendance_corrections.c.class_date.in_(sorted(days)),
            )
            .order_by(attendance_corrections.c.corrected_at, attendance_corrections.c.id)
        )
        if len(usns) <= 500:
            query = query.where(attendance_corrections.c.usn.in_(usns))
        for c in connection.execute(query):
            found.setdefault((c.usn, c.course_code, c.class_date), []).append(
                CorrectionPublic(
                    old_status=c.old_status,
                    new_status=c.new_status,
                    reason=c.reason,
                    corrected_by=c.corrected_by,
                    corrected_at=c.corrected_at,
                )
            )
    return found


def evidence_of(row: Mapping[str, Any], corrections: Sequence[CorrectionPublic]) -> list[EvidencePublic]:
    """What stands behind a mark, in time order: the door sighting, the room's confirmation (or the
    body re-identification it came from), the sweep, and the latest manual correction."""
    evidence: list[EvidencePublic] = []
    if row["first_seen_at"] is not None:
        evidence.append(
            EvidencePublic(
                kind="door_sighting",
                at=row["first_seen_at"],
                similarity=row["similarity"],
                capture_id=row["capture_id"],
                detail="face recognised at the door",
            )
        )
    if row["confirmed_at"] is not None:
        body = row["source"] == "body"
        evidence.append(
            EvidencePublic(
                kind="body_reid" if body else "room_confirmation",
                at=row["confirmed_at"],
                detail=(
                    "identified in the room by body re-identification, stayed past the minimum dwell"
                    if body
                    else "seen in the room past the minimum dwell"
                ),
            )
        )
    if row["source"] == "sweep":
        evidence.append(
            EvidencePublic(kind="sweep", at=row["updated_at"], detail="no capture by the end of the session")
        )
    if row["source"] == "manual" or corrections:
        latest = corrections[-1] if corrections else None
        evidence.append(
            EvidencePublic(
                kind="manual",
                at=latest.corrected_at if latest else row["updated_at"],
                by=latest.corrected_by if latest else None,
                detail=(
                    f"{latest.old_status or 'no mark'} -> {latest.new_status}: {latest.reason}"
                    if latest
                    else "set by hand"
                ),
            )
        )
    return sorted(evidence, key=lambda e: (e.at is None, e.at))


def _counts(rows: Sequence[AttendancePublic]) -> dict[str, int]:
    found = Counter(row.status for row in rows)
    return {status: found.get(status, 0) for status in STATUSES}


def expected_students(connection: Connection, course_code: str, class_date: date) -> list[StudentRef]:
    """The roster on ``class_date``: students enrolled in the course that day (roster dates inclusive)."""
    query = (
        sa.select(students.c.usn, students.c.name)
        .select_from(course_rosters.join(students, students.c.usn == course_rosters.c.usn))
        .where(
            course_rosters.c.course_code == course_code,
            sa.or_(course_rosters.c.valid_from.is_(None), course_rosters.c.valid_from <= class_date),
            sa.or_(course_rosters.c.valid_to.is_(None), course_rosters.c.valid_to >= class_date),
        )
        .order_by(students.c.usn)
    )
    return [StudentRef(usn=row.usn, name=row.name) for row in connection.execute(query)]


def class_report(connection: Connection, course_code: str, class_date: date) -> AttendanceReport:
    """Every student recorded for the class, the count per status, and the roster's absentees.

    ``expected`` is the roster on the class date; ``absent`` lists the expected students marked
    absent or not marked at all (``not_seen``: no row yet).
    """
    course = get_course(connection, course_code)
    rows = _rows(connection, attendance.c.course_code == course_code, attendance.c.class_date == class_date)
    expected = expected_students(connection, course_code, class_date)
    status_of = {row.usn: row.status for row in rows}
    return AttendanceReport(
        course_code=course_code,
        course_title=course["title"],
        class_date=class_date,
        rows=rows,
        counts=_counts(rows),
        total=len(rows),
        expected=len(expected),
        absent=[s for s in expected if status_of.get(s.usn, "absent") == "absent"],
        not_seen=[s for s in expected if s.usn not in status_of],
        off_roster=sorted(
            (
                StudentRef(usn=r.usn, name=r.name or "")
                for r in rows
                if r.usn not in {s.usn for s in expected}
            ),
            key=lambda s: s.usn,
        ),
    )


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    """A UTC moment as the room's wall-clock time to the second (what a register shows)."""
    if moment is None:
        return ""
    return moment.astimezone(zone).replace(microsecond=0, tzinfo=None).isoformat(sep=" ")


def class_report_csv(connection: Connection, course_code: str, class_date: date) -> str:
    """The class as CSV: every roster student (absentees included) and anyone else recorded.

    Times are the room's wall-clock times (its zone is a column), to the second; the latest
    correction of each mark gives who changed it, when and why. Safe to open in a spreadsheet.
    """
    report = class_report(connection, course_code, class_date)
    zones = {
        row.room_id: row.timezone for row in connection.execute(sa.select(rooms.c.room_id, rooms.c.timezone))
    }
    latest: dict[str, RowMapping] = {}
    for stored in connection.execute(
        sa.select(attendance_corrections)
        .where(
            attendance_corrections.c.course_code == course_code,
            attendance_corrections.c.class_date == class_date,
        )
        .order_by(attendance_corrections.c.corrected_at, attendance_corrections.c.id)
    ).mappings():
        latest[stored["usn"]] = stored
    by_usn = {row.usn: row for row in report.rows}
    room_of_class = _room_of_class(connection, course_code, class_date, report.rows)
    lines = []
    for usn in sorted({s.usn for s in report.not_seen} | set(by_usn)):
        row = by_usn.get(usn)
        room_id = row.room_id if row is not None else room_of_class
        zone_name = zones.get(room_id or "", "UTC")
        zone = room_zone(zone_name)
        correction = latest.get(usn)
        if row is None:
            name = next(s.name for s in report.not_seen if s.usn == usn)
            cells: tuple[object, ...] = (
                usn,
                name,
                course_code,
                class_date.isoformat(),
                room_id or "",
                zone_name,
            )
            cells += ("absent", "no mark", "", "", "")
        else:
            cells = (row.usn, row.name, row.course_code, row.class_date.isoformat(), row.room_id, zone_name)
            cells += (
                row.status,
                row.source,
                _local(row.first_seen_at, zone),
                _local(row.confirmed_at, zone),
                "" if row.similarity is None else f"{row.similarity:.4f}",
            )
        if correction is None:
            cells += ("", "", "")
        else:
            cells += (
                correction["corrected_by"],
                _local(correction["corrected_at"], zone),
                correction["reason"],
            )
        lines.append(cells)
    return to_csv(CSV_HEADER, lines)


def _room_of_class(
    connection: Connection, course_code: str, class_date: date, rows: Sequence[AttendancePublic]
) -> str | None:
    """The class's room: its session's, else that of its recorded rows, else the timetable's only one."""
    session_room = connection.execute(
        sa.select(class_sessions.c.room_id)
        .where(
            class_sessions.c.course_code == course_code,
            class_sessions.c.session_date == class_date,
            class_sessions.c.status == "scheduled",
        )
        .order_by(class_sessions.c.start_time)
        .limit(1)
    ).scalar_one_or_none()
    if session_room is not None:
        return str(session_room)
    if rows:
        return Counter(r.room_id for r in rows).most_common(1)[0][0]
    try:
        return _room_for_new_row(connection, course_code, class_date, None)
    except InvalidRequestError:
        return None


def student_history(
    connection: Connection,
    usn: str,
    *,
    date_from: date | None,
    date_to: date | None,
    courses: set[str] | None = None,
) -> StudentHistory:
    """The student's attendance, oldest first, optionally within dates (inclusive) and of ``courses``."""
    student = get_student(connection, usn)
    conditions = [attendance.c.usn == usn]
    if courses is not None:
        conditions.append(attendance.c.course_code.in_(sorted(courses)))
    if date_from is not None:
        conditions.append(attendance.c.class_date >= date_from)
    if date_to is not None:
        conditions.append(attendance.c.class_date <= date_to)
    rows = _rows(connection, *conditions)
    return StudentHistory(usn=usn, name=student["name"], rows=rows, counts=_counts(rows))


def _room_for_new_row(connection: Connection, course_code: str, class_date: date, room_id: str | None) -> str:
    """The room of a class with no attendance row yet: given, or the timetable's only one that day."""
    if room_id is not None:
        return str(get_room(connection, room_id)["room_id"])
    session_rooms = {
        r.room_id
        for r in connection.execute(
            sa.select(class_sessions.c.room_id).where(
                class_sessions.c.course_code == course_code,
                class_sessions.c.session_date == class_date,
                class_sessions.c.status == "scheduled",
            )
        )
    }
    if len(session_rooms) == 1:
        return str(session_rooms.pop())
    entries = connection.execute(
        sa.select(timetable).where(
            timetable.c.course_code == course_code, timetable.c.weekday == class_date.weekday()
        )
    ).mappings()
    rooms_that_day = {
        entry["room_id"]
        for entry in entries
        if TimetableEntry(
            entry["course_code"],
            entry["weekday"],
            entry["start_time"],
            entry["end_time"],
            entry["valid_from"],
            entry["valid_to"],
        ).runs_on(class_date)
    }
    if len(rooms_that_day) != 1:
        raise InvalidRequestError(
            f"{course_code} is timetabled in {len(rooms_that_day)} rooms on {class_date}; give room_id",
            loc=("body", "room_id"),
        )
    return str(rooms_that_day.pop())


def override(
    connection: Connection,
    course_code: str,
    class_date: date,
    usn: str,
    body: AttendanceOverride,
    actor: Principal,
) -> AttendancePublic:
    """Set a student's status for a class by hand: a correction row (who, when, old -> new, reason)
    and the audit log. It replaces any mark, the sweep's absent included, and the sweep never
    overwrites it.

    With ``wrong_person`` the door capture behind the mark is recorded as a negative for the
    student (``core.db.negatives``): face_match embeds its crop and, from then on, refuses a face
    that is not closer to the student than to it. The mark must have come from a door
    recognition of this student (else 422, nothing written)."""
    get_course(connection, course_code)
    get_student(connection, usn)
    key = (
        (attendance.c.usn == usn)
        & (attendance.c.course_code == course_code)
        & (attendance.c.class_date == class_date)
    )
    before_row = connection.execute(sa.select(attendance).where(key)).mappings().one_or_none()
    corrected_capture = _recognised_capture(connection, usn, before_row) if body.wrong_person else None
    now = datetime.now(UTC)
    before: dict[str, Any] | None = None
    if before_row is None:
        room_id = _room_for_new_row(connection, course_code, class_date, body.room_id)
        connection.execute(
            attendance.insert().values(
                usn=usn,
                course_code=course_code,
                class_date=class_date,
                room_id=room_id,
                status=body.status,
                source="manual",
                updated_at=now,
            )
        )
    else:
        before = {name: before_row[name] for name in _AUDITED}
        connection.execute(
            attendance.update().where(key).values(status=body.status, source="manual", updated_at=now)
        )
    connection.execute(
        attendance_corrections.insert().values(
            usn=usn,
            course_code=course_code,
            class_date=class_date,
            old_status=before_row["status"] if before_row is not None else None,
            new_status=body.status,
            reason=body.reason,
            corrected_by=actor.name[:200],
            corrected_at=now,
        )
    )
    if corrected_capture is not None:
        capture_id, object_key = corrected_capture
        record_correction(
            connection, usn=usn, capture_id=capture_id, object_key=object_key, corrected_by=actor.name
        )
    (after,) = _rows(connection, key)
    audit.record(
        connection,
        actor=actor.name,
        action="override_wrong_person" if body.wrong_person else "override",
        entity="attendance",
        entity_id=f"{usn}/{course_code}/{class_date.isoformat()}",
        before=before,
        after=after.model_dump(include=set(_AUDITED)),
        reason=body.reason,
    )
    return after


def _recognised_capture(connection: Connection, usn: str, row: RowMapping | None) -> tuple[str, str]:
    """The (capture_id, object_key) of the door recognition of ``usn`` behind an attendance row."""
    capture_id = row["capture_id"] if row is not None else None
    event = None
    if capture_id is not None:
        event = connection.execute(
            sa.select(recognition_events.c.object_key).where(
                recognition_events.c.capture_id == capture_id,
                recognition_events.c.usn == usn,
                recognition_events.c.outcome == "recognised",
            )
        ).first()
    if event is None:
        raise InvalidRequestError(
            "this mark did not come from a door recognition of this student; there is no capture to correct",
            loc=("body", "wrong_person"),
        )
    return str(capture_id), str(event.object_key)


def todays_classes(
    connection: Connection, now: datetime, *, room_id: str | None = None, day: date | None = None
) -> list[ScheduledClassPublic]:
    """Every room's classes on its local ``day`` (default: the room's today), with their state now.

    Where a term covers the day, the classes are its scheduled sessions; elsewhere the timetable's.
    """
    room_rows: list[RowMapping] = list(
        connection.execute(
            sa.select(rooms)
            .where(rooms.c.room_id == room_id if room_id else sa.true())
            .order_by(rooms.c.room_id)
        ).mappings()
    )
    if room_id and not room_rows:
        get_room(connection, room_id)
    titles = {
        code: title for code, title in connection.execute(sa.select(courses.c.course_code, courses.c.title))
    }
    result: list[ScheduledClassPublic] = []
    for room in room_rows:
        local_day = day or room_local_date(now, room["timezone"])
        if terms_covering(connection, [local_day]):
            # A term's day: its scheduled sessions (a cancelled class is not held; a moved one is
            # at its new slot), as the capture functions see them.
            entries = [
                TimetableEntry(
                    s.course_code,
                    s.session_date.weekday(),
                    s.start_time,
                    s.end_time,
                    s.session_date,
                    s.session_date,
                )
                for s in room_sessions(connection, room["room_id"], [local_day])
                if s.status == "scheduled"
            ]
        else:
            entries = [
                TimetableEntry(r.course_code, r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_to)
                for r in connection.execute(
                    sa.select(timetable).where(timetable.c.room_id == room["room_id"])
                )
            ]
        for scheduled in classes_of_day(room["room_id"], room["timezone"], entries, local_day, now):
            count = connection.execute(
                sa.select(sa.func.count())
                .select_from(attendance)
                .where(
                    attendance.c.course_code == scheduled.course_code,
                    attendance.c.class_date == scheduled.class_date,
                    attendance.c.room_id == scheduled.room_id,
                )
            ).scalar_one()
            result.append(
                ScheduledClassPublic(
                    room_id=scheduled.room_id,
                    room_name=room["name"],
                    timezone=room["timezone"],
                    course_code=scheduled.course_code,
                    course_title=titles.get(scheduled.course_code, scheduled.course_code),
                    class_date=scheduled.class_date,
                    start_time=scheduled.start_time,
                    end_time=scheduled.end_time,
                    starts_at=scheduled.starts_at,
                    ends_at=scheduled.ends_at,
                    state=scheduled.state,
                    attendance_count=int(count),
                )
            )
    return result
