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
