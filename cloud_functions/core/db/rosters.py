"""Course rosters and teachers: who takes a course on a given day, and who teaches what."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import course_rosters, course_teachers, teachers


def roster_on(
    connection: Connection, course_code: str, on_date: date, section: str | None = None
) -> list[str]:
    """USNs enrolled in ``course_code`` on ``on_date`` (inclusive dates), optionally one section, by USN."""
    query = sa.select(course_rosters.c.usn).where(
        course_rosters.c.course_code == course_code,
        sa.or_(course_rosters.c.valid_from.is_(None), course_rosters.c.valid_from <= on_date),
        sa.or_(course_rosters.c.valid_to.is_(None), course_rosters.c.valid_to >= on_date),
    )
    if section is not None:
        query = query.where(course_rosters.c.section == section)
    return [row.usn for row in connection.execute(query.order_by(course_rosters.c.usn))]


def matching_roster(connection: Connection, course_code: str, on_date: date) -> frozenset[str] | None:
    """The students a door face is matched against first: the course's roster on ``on_date``.

    ``None`` when the course has no roster rows at all (the whole gallery competes, as before
    rosters existed); an empty set when it has rows but none valid that day (everyone is off
    the roster).
    """
    has_rows = connection.execute(
        sa.select(course_rosters.c.usn).where(course_rosters.c.course_code == course_code).limit(1)
    ).first()
    if has_rows is None:
        return None
    return frozenset(roster_on(connection, course_code, on_date))


def course_mates(connection: Connection, usn: str, on_date: date) -> set[str]:
    """Everyone on a roster row valid on or after ``on_date`` of a course ``usn`` takes on or after it.

    Enrollment often comes before the term, so current and future roster rows count; past
    ones do not. ``usn`` itself is not in the answer.
    """
    current = sa.or_(course_rosters.c.valid_to.is_(None), course_rosters.c.valid_to >= on_date)
    own_courses = sa.select(course_rosters.c.course_code).where(course_rosters.c.usn == usn, current)
    query = (
        sa.select(course_rosters.c.usn)
        .where(course_rosters.c.course_code.in_(own_courses), current, course_rosters.c.usn != usn)
        .distinct()
    )
    return {row.usn for row in connection.execute(query)}


def courses_taught_by(connection: Connection, username: str) -> set[str]:
    """Codes of the courses the teacher signed in as ``username`` teaches (empty if none or unknown)."""
    query = (
        sa.select(course_teachers.c.course_code)
        .select_from(course_teachers.join(teachers, teachers.c.teacher_id == course_teachers.c.teacher_id))
        .where(teachers.c.username == username)
    )
    return {row.course_code for row in connection.execute(query)}


def teaches(connection: Connection, username: str, course_code: str) -> bool:
    """True if ``username`` teaches ``course_code`` (any section)."""
    return course_code in courses_taught_by(connection, username)


def teachers_of(connection: Connection, course_code: str) -> list[str]:
    """Usernames of the course's teachers, sorted."""
    query = (
        sa.select(teachers.c.username)
        .select_from(course_teachers.join(teachers, teachers.c.teacher_id == course_teachers.c.teacher_id))
        .where(course_teachers.c.course_code == course_code)
        .distinct()
        .order_by(teachers.c.username)
    )
    return [row.username for row in connection.execute(query)]


def courses_of_student(connection: Connection, usn: str) -> set[str]:
    """Codes of the courses whose roster lists ``usn`` (any dates)."""
    query = sa.select(course_rosters.c.course_code).where(course_rosters.c.usn == usn)
    return {row.course_code for row in connection.execute(query)}
