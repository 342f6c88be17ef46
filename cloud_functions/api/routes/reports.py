"""Term reports: percentages and shortage lists, registers (JSON, CSV, XLSX, printable HTML).

A teacher reads only the courses they teach (403 otherwise), and of a student only those
courses; admins read everything. A course's own minimum attendance is set by admins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from cloud_functions.api import exports
from cloud_functions.api.crud import reports as crud
from cloud_functions.api.crud.reports import CourseRegister, StudentRegister
from cloud_functions.api.crud.students import get_student
from cloud_functions.api.deps import AdminUser, ConnectionDep, CurrentUser, SettingsDep
from cloud_functions.api.errors import PermissionDeniedError
from cloud_functions.api.ownership import require_course, visible_courses
from cloud_functions.api.report_schemas import (
    CourseMinimumPublic,
    CourseMinimumUpdate,
    CourseTermReportPublic,
    RegisterPublic,
    ShortageListPublic,
    StudentTermReportPublic,
)
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.routes.params import CourseCodePath, UsnPath
from cloud_functions.core.db.rosters import courses_of_student

router = APIRouter(tags=["reports"], responses=AUTHENTICATED)

TermIdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]
_COURSE = "/reports/terms/{term_id}/courses/{course_code}"
_STUDENT = "/reports/terms/{term_id}/students/{usn}"
# The printable page runs no script and loads nothing: its only style is inline.
_HTML_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


def _file(content: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        content=content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv(content: str, filename: str) -> Response:
    return _file(content, "text/csv; charset=utf-8", filename)


def _xlsx(content: bytes, filename: str) -> Response:
    return _file(content, exports.XLSX_MEDIA_TYPE, filename)


def _html(content: str) -> Response:
    return Response(content=content, media_type="text/html; charset=utf-8", headers=_HTML_HEADERS)


_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
_XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {exports.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
}
_HTML_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}}
}


# --- a course over a term -------------------------------------------------------------------------


def _course_register(
    term_id: TermIdPath,
    course_code: CourseCodePath,
    request: Request,
    connection: ConnectionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> CourseRegister:
    """The course's register over the term, once the caller may read the course (403 otherwise)."""
    require_course(connection, user, course_code)
    return crud.course_register(connection, settings, term_id, course_code, request.app.state.clock())


CourseRegisterDep = Annotated[CourseRegister, Depends(_course_register)]


@router.get(_COURSE, response_model=CourseTermReportPublic, responses=documented(403, 404, 422))
def course_report(register: CourseRegisterDep, settings: SettingsDep) -> CourseTermReportPublic:
    """Each roster student's sessions held, marks, percentage and how many more they may miss."""
    return crud.course_report(register, settings.late_weight)


@router.get(f"{_COURSE}/shortage", response_model=ShortageListPublic, responses=documented(403, 404, 422))
def shortage_list(register: CourseRegisterDep) -> ShortageListPublic:
    """The students under the course's minimum attendance, lowest percentage first."""
    return crud.shortage_list(register)


@router.get(f"{_COURSE}/register", response_model=RegisterPublic, responses=documented(403, 404, 422))
def course_register(register: CourseRegisterDep, settings: SettingsDep) -> RegisterPublic:
    """The register: students × sessions with marks P/L/A/E, totals and percentage."""
    return crud.register_public(register, settings.late_weight)


@router.get(
    f"{_COURSE}/register.csv",
    response_class=Response,
    responses={**_CSV_RESPONSE, **documented(403, 404, 422)},
)
def register_csv(
    term_id: TermIdPath, course_code: CourseCodePath, register: CourseRegisterDep, settings: SettingsDep
) -> Response:
    """The register as CSV (one line per roster student, corrections in the last column)."""
    return _csv(exports.course_register_csv(register), f"register_{course_code}_term{term_id}.csv")


@router.get(
    f"{_COURSE}/register.xlsx",
    response_class=Response,
    responses={**_XLSX_RESPONSE, **documented(403, 404, 422)},
)
def register_xlsx(
    term_id: TermIdPath, course_code: CourseCodePath, register: CourseRegisterDep, settings: SettingsDep
) -> Response:
    """The register as a workbook: Register, Sessions, Corrections and Legend sheets."""
    return _xlsx(
        exports.course_register_xlsx(register, settings.late_weight),
        f"register_{course_code}_term{term_id}.xlsx",
    )


@router.get(
    f"{_COURSE}/register.html",
    response_class=Response,
    responses={**_HTML_RESPONSE, **documented(403, 404, 422)},
)
def register_html(register: CourseRegisterDep, settings: SettingsDep) -> Response:
    """The register as a printable page (A4 landscape, with signature lines)."""
    return _html(exports.course_register_html(register, settings.late_weight))


# --- a student over a term ------------------------------------------------------------------------


def _student_courses(connection: ConnectionDep, user: CurrentUser, usn: str) -> set[str] | None:
    """The student's courses the caller may read (None: all); 403 for a teacher of none of them."""
    allowed = visible_courses(connection, user)
    if allowed is None:
        return None
    shared = allowed & courses_of_student(connection, usn)
    if not shared:
        raise PermissionDeniedError(f"{user.name} teaches no course of {usn}")
    return shared


def _student_register(
    term_id: TermIdPath,
    usn: UsnPath,
    request: Request,
    connection: ConnectionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> StudentRegister:
    """The student's register over the term, in the courses the caller may read, with details."""
    get_student(connection, usn)
    only = _student_courses(connection, user, usn)
    return crud.student_register(
        connection, settings, term_id, usn, request.app.state.clock(), only_courses=only
    )


StudentRegisterDep = Annotated[StudentRegister, Depends(_student_register)]


@router.get(_STUDENT, response_model=StudentTermReportPublic, responses=documented(403, 404, 422))
def student_report(
    term_id: TermIdPath,
    usn: UsnPath,
    request: Request,
    connection: ConnectionDep,
    settings: SettingsDep,
    user: CurrentUser,
) -> StudentTermReportPublic:
    """The student's percentage in each course over the term (a teacher: the courses they teach)."""
    get_student(connection, usn)
    only = _student_courses(connection, user, usn)
    register = crud.student_register(
        connection, settings, term_id, usn, request.app.state.clock(), only_courses=only, details=False
    )
    return crud.student_report(register, settings.late_weight)


@router.get(
    f"{_STUDENT}/register.csv",
    response_class=Response,
    responses={**_CSV_RESPONSE, **documented(403, 404, 422)},
)
def student_register_csv(
    term_id: TermIdPath, usn: UsnPath, register: StudentRegisterDep, settings: SettingsDep
) -> Response:
    """The student's register as CSV: one line per session of each course."""
    return _csv(exports.student_register_csv(register), f"register_{usn}_term{term_id}.csv")


@router.get(
    f"{_STUDENT}/register.xlsx",
    response_class=Response,
    responses={**_XLSX_RESPONSE, **documented(403, 404, 422)},
)
def student_register_xlsx(
    term_id: TermIdPath, usn: UsnPath, register: StudentRegisterDep, settings: SettingsDep
) -> Response:
    """The student's register as a workbook: Summary, Sessions, Corrections and Legend sheets."""
    return _xlsx(
        exports.student_register_xlsx(register, settings.late_weight), f"register_{usn}_term{term_id}.xlsx"
    )


@router.get(
    f"{_STUDENT}/register.html",
    response_class=Response,
    responses={**_HTML_RESPONSE, **documented(403, 404, 422)},
)
def student_register_html(register: StudentRegisterDep, settings: SettingsDep) -> Response:
    """The student's register as a printable page."""
    return _html(exports.student_register_html(register, settings.late_weight))


# --- a course's minimum -----------------------------------------------------------------------------


@router.get(
    "/courses/{course_code}/minimum-attendance",
    response_model=CourseMinimumPublic,
    responses=documented(403, 404, 422),
)
def get_course_minimum(
    course_code: CourseCodePath, connection: ConnectionDep, settings: SettingsDep, user: CurrentUser
) -> CourseMinimumPublic:
    """The course's own minimum attendance (null: the setting) and the one in force."""
    require_course(connection, user, course_code)
    return crud.course_minimum(connection, course_code, settings.min_attendance_pct)


@router.put(
    "/courses/{course_code}/minimum-attendance",
    response_model=CourseMinimumPublic,
    responses={**WITH_BODY, **documented(403, 404)},
)
def set_course_minimum(
    course_code: CourseCodePath,
    body: CourseMinimumUpdate,
    connection: ConnectionDep,
    settings: SettingsDep,
    admin: AdminUser,
) -> CourseMinimumPublic:
    """Set a course's own minimum attendance (0-100), or clear it with null (admins); audited."""
    return crud.set_course_minimum(connection, course_code, body, admin, settings.min_attendance_pct)
