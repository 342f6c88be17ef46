"""Registers of a term: students × sessions with their marks, from a few set-based queries.

A course's register is read with one query each for the course, its sessions (with their rooms'
time zones), its roster, its attendance rows and its corrections in the term, whatever the number
of students and sessions; the counting rule (``cloud_functions.core.marks``) then runs in
memory. A student's register across courses is read the same way (one query per table). The
API's reports and exports and the daily teacher notification all read registers from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import (
    attendance,
    attendance_corrections,
    class_sessions,
    course_rosters,
    courses,
    rooms,
    students,
    terms,
)
from cloud_functions.core.marks import Cell, CountingRule, Enrolment, Mark, Session, Tally, mark_of
from cloud_functions.core.timetable import room_zone


@dataclass(frozen=True)
class Term:
    term_id: int
    name: str
    start_date: date
    end_date: date


@dataclass(frozen=True)
class SessionInfo:
    """A class session with its room and room-local times."""

    session: Session
    course_code: str
    room_id: str
    timezone: str
    start_time: time
    end_time: time
    status: str
    note: str | None

    @property
    def session_id(self) -> int:
        return self.session.session_id

    @property
    def session_date(self) -> date:
        return self.session.session_date


@dataclass(frozen=True)
class Recorded:
    """An attendance row as stored."""

    status: str
    source: str
    room_id: str
    first_seen_at: datetime | None
    confirmed_at: datetime | None


@dataclass(frozen=True)
class Correction:
    """A change of a mark by a person."""

    old_status: str | None
    new_status: str
    reason: str
    corrected_by: str
    corrected_at: datetime


@dataclass(frozen=True)
class Standing:
    """A student's counts in one course, and where they stand against its minimum."""

    tally: Tally
    min_pct: float

    @property
    def percentage(self) -> float | None:
        return self.tally.percentage

    @property
    def short(self) -> bool:
        return self.tally.is_short(self.min_pct)

    @property
    def can_still_miss(self) -> int | None:
        return self.tally.can_still_miss(self.min_pct)


@dataclass(frozen=True)
class RegisterLine:
    """One student's row of a course register."""

    usn: str
    name: str
    section: str | None
    enrolment: Enrolment
    cells: tuple[Cell, ...]
    standing: Standing


@dataclass(frozen=True)
class CourseRegister:
    """A course's register over a term: its sessions in order and one line per roster student."""

    term: Term
    course_code: str
    course_title: str
    min_pct: float
    min_pct_from: Literal["course", "setting"]
    sessions: tuple[SessionInfo, ...]
    lines: tuple[RegisterLine, ...]
    recorded: Mapping[tuple[str, date], Recorded]
    corrections: Mapping[tuple[str, date], tuple[Correction, ...]]
    now: datetime

    @property
    def held(self) -> int:
        """Sessions of the course held so far (ended, not cancelled)."""
        return sum(1 for s in self.sessions if not s.session.cancelled and s.session.ends_at <= self.now)

    @property
    def remaining(self) -> int:
        """Sessions of the course still to be held."""
        return sum(1 for s in self.sessions if not s.session.cancelled and s.session.ends_at > self.now)

    def shortage(self) -> list[RegisterLine]:
        """Students under the minimum, lowest percentage first."""
        short = [line for line in self.lines if line.standing.short]
        return sorted(short, key=lambda line: (line.standing.percentage or 0.0, line.usn))


@dataclass(frozen=True)
class StudentCourse:
    """One course of a student's register across courses."""

    course_code: str
    course_title: str
    min_pct: float
    sessions: tuple[SessionInfo, ...]
    cells: tuple[Cell, ...]
    standing: Standing


@dataclass(frozen=True)
class StudentRegister:
    """A student's courses over a term, each with its sessions and marks."""

    term: Term
    usn: str
    name: str
    courses: tuple[StudentCourse, ...]
    recorded: Mapping[tuple[str, date], Recorded]
    corrections: Mapping[tuple[str, date], tuple[Correction, ...]]
    now: datetime


def get_term(connection: Connection, term_id: int) -> Term | None:
    """The term, or None."""
    row = connection.execute(sa.select(terms).where(terms.c.term_id == term_id)).mappings().one_or_none()
    if row is None:
        return None
    return Term(row["term_id"], row["name"], row["start_date"], row["end_date"])


def terms_on(connection: Connection, day: date) -> list[Term]:
    """The terms that include ``day``, by start date."""
    query = (
        sa.select(terms)
        .where(terms.c.start_date <= day, terms.c.end_date >= day)
        .order_by(terms.c.start_date, terms.c.term_id)
    )
    return [
        Term(r["term_id"], r["name"], r["start_date"], r["end_date"])
        for r in connection.execute(query).mappings()
    ]


def _min_pct(course_min: float | None, default_min_pct: float) -> tuple[float, Literal["course", "setting"]]:
    if course_min is None:
        return default_min_pct, "setting"
    return float(course_min), "course"


def _sessions(connection: Connection, term_id: int, course_codes: Sequence[str]) -> list[SessionInfo]:
    query = (
        sa.select(class_sessions, rooms.c.timezone)
        .select_from(class_sessions.join(rooms, rooms.c.room_id == class_sessions.c.room_id))
        .where(class_sessions.c.term_id == term_id, class_sessions.c.course_code.in_(list(course_codes)))
        .order_by(class_sessions.c.session_date, class_sessions.c.start_time, class_sessions.c.session_id)
    )
    result = []
    for row in connection.execute(query).mappings():
        zone = room_zone(row["timezone"])
        day = row["session_date"]
        result.append(
            SessionInfo(
                session=Session(
                    session_id=row["session_id"],
                    session_date=day,
                    starts_at=datetime.combine(day, row["start_time"], tzinfo=zone).astimezone(UTC),
                    ends_at=datetime.combine(day, row["end_time"], tzinfo=zone).astimezone(UTC),
                    cancelled=row["status"] == "cancelled",
                ),
                course_code=row["course_code"],
                room_id=row["room_id"],
                timezone=row["timezone"],
                start_time=row["start_time"],
                end_time=row["end_time"],
                status=row["status"],
                note=row["note"],
            )
        )
    return result


def _recorded(
    connection: Connection, *conditions: sa.ColumnElement[bool]
) -> dict[tuple[str, str, date], Recorded]:
    query = sa.select(
        attendance.c.usn,
        attendance.c.course_code,
        attendance.c.class_date,
        attendance.c.status,
        attendance.c.source,
        attendance.c.room_id,
        attendance.c.first_seen_at,
        attendance.c.confirmed_at,
    ).where(*conditions)
    return {
        (row.usn, row.course_code, row.class_date): Recorded(
            row.status, row.source, row.room_id, row.first_seen_at, row.confirmed_at
        )
        for row in connection.execute(query)
    }


def _corrections(
    connection: Connection, *conditions: sa.ColumnElement[bool]
) -> dict[tuple[str, str, date], tuple[Correction, ...]]:
    query = (
        sa.select(attendance_corrections)
        .where(*conditions)
        .order_by(attendance_corrections.c.corrected_at, attendance_corrections.c.id)
    )
    found: dict[tuple[str, str, date], list[Correction]] = defaultdict(list)
    for row in connection.execute(query).mappings():
        found[(row["usn"], row["course_code"], row["class_date"])].append(
            Correction(
                row["old_status"], row["new_status"], row["reason"], row["corrected_by"], row["corrected_at"]
            )
        )
    return {key: tuple(value) for key, value in found.items()}


def _marks_by_date(
    recorded: Mapping[tuple[str, str, date], Recorded], usn: str, course_code: str
) -> dict[date, Mark]:
    return {
        day: mark_of(row.status)
        for (who, code, day), row in recorded.items()
        if who == usn and code == course_code
    }


def course_register(
    connection: Connection,
    term: Term,
    course_code: str,
    rule: CountingRule,
    default_min_pct: float,
    now: datetime,
) -> CourseRegister | None:
    """The course's register over ``term`` at ``now``; None for an unknown course."""
    course = (
        connection.execute(sa.select(courses).where(courses.c.course_code == course_code))
        .mappings()
        .one_or_none()
    )
    if course is None:
        return None
    min_pct, min_from = _min_pct(course["min_attendance_pct"], default_min_pct)
    sessions = _sessions(connection, term.term_id, [course_code])
    roster = connection.execute(
        sa.select(
            course_rosters.c.usn,
            students.c.name,
            course_rosters.c.section,
            course_rosters.c.valid_from,
            course_rosters.c.valid_to,
        )
        .select_from(course_rosters.join(students, students.c.usn == course_rosters.c.usn))
        .where(course_rosters.c.course_code == course_code)
        .order_by(course_rosters.c.usn)
    ).all()
    in_term = (
        (attendance.c.course_code == course_code)
        & (attendance.c.class_date >= term.start_date)
        & (attendance.c.class_date <= term.end_date)
    )
    recorded = _recorded(connection, in_term)
    corrections = _corrections(
        connection,
        attendance_corrections.c.course_code == course_code,
        attendance_corrections.c.class_date >= term.start_date,
        attendance_corrections.c.class_date <= term.end_date,
    )
    marks_of: dict[str, dict[date, Mark]] = defaultdict(dict)
    for (usn, _code, day), row in recorded.items():
        marks_of[usn][day] = mark_of(row.status)
    plain_sessions = [s.session for s in sessions]
    lines = []
    for entry in roster:
        enrolment = Enrolment(entry.valid_from, entry.valid_to)
        marks = marks_of.get(entry.usn, {})
        cells = tuple(rule.cell(s, marks.get(s.session_date), enrolment, now) for s in plain_sessions)
        tally = rule.tally(plain_sessions, marks, enrolment, now)
        lines.append(
            RegisterLine(entry.usn, entry.name, entry.section, enrolment, cells, Standing(tally, min_pct))
        )
    return CourseRegister(
        term=term,
        course_code=course_code,
        course_title=course["title"],
        min_pct=min_pct,
        min_pct_from=min_from,
        sessions=tuple(sessions),
        lines=tuple(lines),
        recorded={(usn, day): row for (usn, _code, day), row in recorded.items()},
        corrections={(usn, day): value for (usn, _code, day), value in corrections.items()},
        now=now,
    )


def student_register(
    connection: Connection,
    term: Term,
    usn: str,
    rule: CountingRule,
    default_min_pct: float,
    now: datetime,
    *,
    only_courses: set[str] | None = None,
) -> StudentRegister | None:
    """The student's courses over ``term`` (optionally only ``only_courses``); None for an unknown student."""
    student = connection.execute(sa.select(students.c.name).where(students.c.usn == usn)).one_or_none()
    if student is None:
        return None
    enrolled = connection.execute(
        sa.select(
            course_rosters.c.course_code,
            course_rosters.c.valid_from,
            course_rosters.c.valid_to,
            courses.c.title,
            courses.c.min_attendance_pct,
        )
        .select_from(course_rosters.join(courses, courses.c.course_code == course_rosters.c.course_code))
        .where(course_rosters.c.usn == usn)
        .order_by(course_rosters.c.course_code)
    ).all()
    if only_courses is not None:
        enrolled = [row for row in enrolled if row.course_code in only_courses]
    codes = [row.course_code for row in enrolled]
    by_course: dict[str, list[SessionInfo]] = defaultdict(list)
    recorded: dict[tuple[str, str, date], Recorded] = {}
    corrections: dict[tuple[str, str, date], tuple[Correction, ...]] = {}
    if codes:
        for info in _sessions(connection, term.term_id, codes):
            by_course[info.course_code].append(info)
        recorded = _recorded(
            connection,
            attendance.c.usn == usn,
            attendance.c.course_code.in_(codes),
            attendance.c.class_date >= term.start_date,
            attendance.c.class_date <= term.end_date,
        )
        corrections = _corrections(
            connection,
            attendance_corrections.c.usn == usn,
            attendance_corrections.c.course_code.in_(codes),
            attendance_corrections.c.class_date >= term.start_date,
            attendance_corrections.c.class_date <= term.end_date,
        )
    result = []
    for row in enrolled:
        min_pct, _ = _min_pct(row.min_attendance_pct, default_min_pct)
        sessions = by_course.get(row.course_code, [])
        plain = [s.session for s in sessions]
        enrolment = Enrolment(row.valid_from, row.valid_to)
        marks = _marks_by_date(recorded, usn, row.course_code)
        result.append(
            StudentCourse(
                course_code=row.course_code,
                course_title=row.title,
                min_pct=min_pct,
                sessions=tuple(sessions),
                cells=tuple(rule.cell(s, marks.get(s.session_date), enrolment, now) for s in plain),
                standing=Standing(rule.tally(plain, marks, enrolment, now), min_pct),
            )
        )
    return StudentRegister(
        term=term,
        usn=usn,
        name=student.name,
        courses=tuple(result),
        recorded={(code, day): value for (_usn, code, day), value in recorded.items()},
        corrections={(code, day): value for (_usn, code, day), value in corrections.items()},
        now=now,
    )
