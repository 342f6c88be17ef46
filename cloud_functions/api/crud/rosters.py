"""Teachers, the courses they teach, course rosters, and file imports of them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.crud.catalog import get_course
from cloud_functions.api.crud.students import get_student
from cloud_functions.api.errors import (
    ConflictError,
    PermissionDeniedError,
    RecordNotFoundError,
    RowsInvalidError,
)
from cloud_functions.api.ownership import require_course, visible_courses
from cloud_functions.api.schemas import (
    CourseTeacherLink,
    ImportReportPublic,
    RosterEntryPublic,
    RosterEntryUpdate,
    RosterPublic,
    TeacherCreate,
    TeacherPublic,
)
from cloud_functions.core.db.schema import course_rosters, course_teachers, students, teachers
from cloud_functions.core.roster_import import FileFormat, ImportKind, import_file


def _teacher_public(connection: Connection, row: sa.RowMapping) -> TeacherPublic:
    codes = connection.execute(
        sa.select(course_teachers.c.course_code)
        .where(course_teachers.c.teacher_id == row["teacher_id"])
        .distinct()
        .order_by(course_teachers.c.course_code)
    ).scalars()
    return TeacherPublic(
        teacher_id=row["teacher_id"],
        username=row["username"],
        name=row["name"],
        email=row["email"],
        courses=list(codes),
    )


def _teacher_row(connection: Connection, username: str) -> sa.RowMapping:
    row = (
        connection.execute(sa.select(teachers).where(teachers.c.username == username))
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise RecordNotFoundError(f"no teacher {username}")
    return row


def list_teachers(connection: Connection) -> list[TeacherPublic]:
    """Every teacher with their courses, by username."""
    rows = connection.execute(sa.select(teachers).order_by(teachers.c.username)).mappings()
    return [_teacher_public(connection, row) for row in rows]


def get_teacher(connection: Connection, username: str) -> TeacherPublic:
    """One teacher, or ``RecordNotFoundError``."""
    return _teacher_public(connection, _teacher_row(connection, username))


def create_teacher(connection: Connection, body: TeacherCreate, actor: Principal) -> TeacherPublic:
    """Add a teacher account; ``ConflictError`` if the username exists."""
    if connection.execute(
        sa.select(teachers.c.teacher_id).where(teachers.c.username == body.username)
    ).first():
        raise ConflictError(f"teacher {body.username} exists")
    connection.execute(teachers.insert().values(**body.model_dump()))
    audit.record(
        connection,
        actor=actor.name,
        action="create",
        entity="teacher",
        entity_id=body.username,
        after=body.model_dump(),
    )
    return get_teacher(connection, body.username)


def link_teacher(
    connection: Connection, course_code: str, username: str, body: CourseTeacherLink, actor: Principal
) -> TeacherPublic:
    """Make ``username`` a teacher of the course (or one section of it); linking twice is a no-op."""
    get_course(connection, course_code)
    teacher = _teacher_row(connection, username)
    key = (
        (course_teachers.c.course_code == course_code)
        & (course_teachers.c.teacher_id == teacher["teacher_id"])
        & (
            course_teachers.c.section.is_(None)
            if body.section is None
            else course_teachers.c.section == body.section
        )
    )
    if connection.execute(sa.select(course_teachers.c.id).where(key)).first() is None:
        connection.execute(
            course_teachers.insert().values(
                course_code=course_code, teacher_id=teacher["teacher_id"], section=body.section
            )
        )
        audit.record(
            connection,
            actor=actor.name,
            action="link",
            entity="course_teacher",
            entity_id=f"{course_code}/{username}",
            after=body.model_dump(),
        )
    return _teacher_public(connection, teacher)


def unlink_teacher(connection: Connection, course_code: str, username: str, actor: Principal) -> None:
    """``username`` no longer teaches the course (any section); ``RecordNotFoundError`` if they did not."""
    teacher = _teacher_row(connection, username)
    deleted = connection.execute(
        course_teachers.delete().where(
            course_teachers.c.course_code == course_code,
            course_teachers.c.teacher_id == teacher["teacher_id"],
        )
    ).rowcount
    if not deleted:
        raise RecordNotFoundError(f"{username} does not teach {course_code}")
    audit.record(
        connection,
        actor=actor.name,
        action="unlink",
        entity="course_teacher",
        entity_id=f"{course_code}/{username}",
    )


def get_roster(connection: Connection, course_code: str, on: date | None, actor: Principal) -> RosterPublic:
    """The course's students (those enrolled on ``on`` when given), by USN."""
    get_course(connection, course_code)
    require_course(connection, actor, course_code)
    query = (
        sa.select(course_rosters, students.c.name)
        .select_from(course_rosters.join(students, students.c.usn == course_rosters.c.usn))
        .where(course_rosters.c.course_code == course_code)
        .order_by(course_rosters.c.usn)
    )
    if on is not None:
        query = query.where(
            sa.or_(course_rosters.c.valid_from.is_(None), course_rosters.c.valid_from <= on),
            sa.or_(course_rosters.c.valid_to.is_(None), course_rosters.c.valid_to >= on),
        )
    entries = [
        RosterEntryPublic(
            course_code=r["course_code"],
            usn=r["usn"],
            name=r["name"],
            section=r["section"],
            valid_from=r["valid_from"],
            valid_to=r["valid_to"],
        )
        for r in connection.execute(query).mappings()
    ]
    return RosterPublic(course_code=course_code, on=on, students=entries)


def put_roster_entry(
    connection: Connection, course_code: str, usn: str, body: RosterEntryUpdate, actor: Principal
) -> RosterEntryPublic:
    """Enrol the student in the course, or change their section and dates (audited)."""
    get_course(connection, course_code)
    require_course(connection, actor, course_code)
    student = get_student(connection, usn)
    key = (course_rosters.c.course_code == course_code) & (course_rosters.c.usn == usn)
    before = connection.execute(sa.select(course_rosters).where(key)).mappings().one_or_none()
    values = body.model_dump()
    if before is None:
        connection.execute(course_rosters.insert().values(course_code=course_code, usn=usn, **values))
    else:
        connection.execute(course_rosters.update().where(key).values(**values))
    audit.record(
        connection,
        actor=actor.name,
        action="enrol",
        entity="course_roster",
        entity_id=f"{course_code}/{usn}",
        before=None if before is None else {k: before[k] for k in values},
        after=values,
    )
    return RosterEntryPublic(course_code=course_code, usn=usn, name=student["name"], **values)


def delete_roster_entry(connection: Connection, course_code: str, usn: str, actor: Principal) -> None:
    """Take the student off the course's roster (their attendance stays); audited."""
    get_course(connection, course_code)
    require_course(connection, actor, course_code)
    deleted = connection.execute(
        course_rosters.delete().where(
            course_rosters.c.course_code == course_code, course_rosters.c.usn == usn
        )
    ).rowcount
    if not deleted:
        raise RecordNotFoundError(f"{usn} is not on the roster of {course_code}")
    audit.record(
        connection,
        actor=actor.name,
        action="unenrol",
        entity="course_roster",
        entity_id=f"{course_code}/{usn}",
    )


def run_import(
    connection: Connection,
    kind: ImportKind,
    data: bytes,
    file_format: FileFormat,
    *,
    dry_run: bool,
    actor: Principal,
) -> ImportReportPublic:
    """Import a file as ``actor``: admins anything, a teacher only rosters of their own courses.

    A file with any problem raises ``RowsInvalidError`` (422, one entry per problem at
    ``["body", row, column]``), dry run or not, and nothing is written.
    """
    if not actor.is_admin and kind != "rosters":
        raise PermissionDeniedError(f"only an admin may import {kind}")
    allowed = visible_courses(connection, actor)
    report = import_file(connection, kind, data, file_format, dry_run=dry_run, allowed_courses=allowed)
    if report.errors:
        raise RowsInvalidError([(("body", e.row, e.column or ""), e.reason) for e in report.errors[:1000]])
    if report.written:
        audit.record(
            connection,
            actor=actor.name,
            action="import",
            entity=kind,
            entity_id=file_format,
            after={"rows": report.rows, "created": report.created, "updated": report.updated},
        )
    public = asdict(report)
    del public["errors"]
    return ImportReportPublic(**public)
