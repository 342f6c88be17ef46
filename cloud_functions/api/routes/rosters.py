"""Teachers and the courses they teach, course rosters, and imports of students, rosters and teachers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from cloud_functions.api.crud import rosters as crud
from cloud_functions.api.deps import AdminUser, ConnectionDep, CurrentUser
from cloud_functions.api.errors import InvalidRequestError
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.routes.params import CourseCodePath, UsnPath
from cloud_functions.api.schemas import (
    TEACHER_USERNAME_PATTERN,
    CourseTeacherLink,
    ImportKind,
    ImportReportPublic,
    IsoDate,
    RosterEntryPublic,
    RosterEntryUpdate,
    RosterPublic,
    TeacherCreate,
    TeacherPublic,
)
from cloud_functions.core.roster_import import FileFormat

router = APIRouter(tags=["rosters"], responses=AUTHENTICATED)

UsernamePath = Annotated[str, Path(pattern=TEACHER_USERNAME_PATTERN, max_length=128)]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMATS: dict[str, FileFormat] = {"text/csv": "csv", XLSX_MEDIA_TYPE: "xlsx"}


@router.get("/teachers", response_model=list[TeacherPublic], responses=documented(403))
def list_teachers(connection: ConnectionDep, _admin: AdminUser) -> list[TeacherPublic]:
    """Every teacher account with the courses they teach."""
    return crud.list_teachers(connection)


@router.post(
    "/teachers",
    response_model=TeacherPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 409)},
)
def create_teacher(body: TeacherCreate, connection: ConnectionDep, admin: AdminUser) -> TeacherPublic:
    """Add a teacher account (``username`` is the sign-in name)."""
    return crud.create_teacher(connection, body, admin)


@router.put(
    "/courses/{course_code}/teachers/{username}",
    response_model=TeacherPublic,
    responses={**WITH_BODY, **documented(403, 404)},
)
def link_teacher(
    course_code: CourseCodePath,
    username: UsernamePath,
    body: CourseTeacherLink,
    connection: ConnectionDep,
    admin: AdminUser,
) -> TeacherPublic:
    """Make the teacher a teacher of the course (optionally one section); repeating it changes nothing."""
    return crud.link_teacher(connection, course_code, username, body, admin)


@router.delete(
    "/courses/{course_code}/teachers/{username}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(403, 404, 422),
)
def unlink_teacher(
    course_code: CourseCodePath, username: UsernamePath, connection: ConnectionDep, admin: AdminUser
) -> Response:
    """The teacher no longer teaches the course."""
    crud.unlink_teacher(connection, course_code, username, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/courses/{course_code}/roster", response_model=RosterPublic, responses=documented(403, 404, 422))
def get_roster(
    course_code: CourseCodePath,
    connection: ConnectionDep,
    user: CurrentUser,
    on: Annotated[IsoDate | None, Query(description="Only students enrolled on this date")] = None,
) -> RosterPublic:
    """The course's students with their sections and enrolment dates (its teachers and admins)."""
    return crud.get_roster(connection, course_code, on, user)


@router.put(
    "/courses/{course_code}/roster/{usn}",
    response_model=RosterEntryPublic,
    responses={**WITH_BODY, **documented(403, 404)},
)
def put_roster_entry(
    course_code: CourseCodePath,
    usn: UsnPath,
    body: RosterEntryUpdate,
    connection: ConnectionDep,
    user: CurrentUser,
) -> RosterEntryPublic:
    """Enrol a student in the course or change their section and dates (its teachers and admins)."""
    return crud.put_roster_entry(connection, course_code, usn, body, user)


@router.delete(
    "/courses/{course_code}/roster/{usn}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=documented(403, 404, 422),
)
def delete_roster_entry(
    course_code: CourseCodePath, usn: UsnPath, connection: ConnectionDep, user: CurrentUser
) -> Response:
    """Take a student off the course's roster; their attendance is kept."""
    crud.delete_roster_entry(connection, course_code, usn, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _file_body(request: Request) -> tuple[FileFormat, bytes]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    file_format = _FORMATS.get(media_type)
    if file_format is None:
        raise InvalidRequestError(
            f"send the file as text/csv (UTF-8) or {XLSX_MEDIA_TYPE}", loc=("header", "content-type")
        )
    return file_format, await request.body()


@router.post(
    "/imports/{kind}",
    response_model=ImportReportPublic,
    responses={**WITH_BODY, **documented(403)},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file: CSV (UTF-8, first row names the columns) or an XLSX workbook.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def import_file(
    kind: ImportKind,
    file: Annotated[tuple[FileFormat, bytes], Depends(_file_body)],
    connection: ConnectionDep,
    user: CurrentUser,
    dry_run: Annotated[bool, Query(description="Validate and count only; write nothing")] = False,
) -> ImportReportPublic:
    """Import students, rosters or teachers: validated row by row, written whole or not at all.

    Columns: students ``usn, name[, email, section]``; rosters ``usn, course_code[, section,
    valid_from, valid_to]``; teachers ``username, name[, email, courses]`` (``CS501;CS502/B``).
    Re-importing a file changes nothing. A file with any problem writes nothing and answers 422
    with one entry per problem at ``["body", row, column]`` (row 1 is the header, 0 the whole
    file); ``dry_run`` checks and counts without writing. Admins import anything; a teacher only
    rosters of the courses they teach.
    """
    file_format, data = file
    return crud.run_import(connection, kind, data, file_format, dry_run=dry_run, actor=user)
