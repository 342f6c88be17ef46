"""Attendance: class reports, CSV export, manual overrides, and today's classes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from cloud_functions.api.crud import attendance as crud
from cloud_functions.api.deps import ConnectionDep, CurrentUser
from cloud_functions.api.ownership import require_course, visible_courses
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.routes.params import CourseCodePath, UsnPath
from cloud_functions.api.schemas import (
    CODE_PATTERN,
    AttendanceOverride,
    AttendancePublic,
    AttendanceReport,
    IsoDate,
    ScheduledClassPublic,
)

router = APIRouter(tags=["attendance"], responses=AUTHENTICATED)


@router.get(
    "/attendance/{course_code}/{class_date}",
    response_model=AttendanceReport,
    responses=documented(403, 404, 422),
)
def class_report(
    course_code: CourseCodePath, class_date: IsoDate, connection: ConnectionDep, user: CurrentUser
) -> AttendanceReport:
    """Every student recorded for the class, with the count per status (its teachers and admins)."""
    require_course(connection, user, course_code)
    return crud.class_report(connection, course_code, class_date)


@router.get(
    "/attendance/{course_code}/{class_date}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **documented(403, 404, 422)},
)
def class_report_csv(
    course_code: CourseCodePath, class_date: IsoDate, connection: ConnectionDep, user: CurrentUser
) -> Response:
    """The class report as CSV; text cells that a spreadsheet would run as formulas are quoted."""
    require_course(connection, user, course_code)
    body = crud.class_report_csv(connection, course_code, class_date)
    filename = f"attendance_{course_code}_{class_date.isoformat()}.csv"
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.put(
    "/attendance/{course_code}/{class_date}/{usn}",
    response_model=AttendancePublic,
    responses={**WITH_BODY, **documented(403, 404, 409)},
)
def override(
    course_code: CourseCodePath,
    class_date: IsoDate,
    usn: UsnPath,
    body: AttendanceOverride,
    connection: ConnectionDep,
    user: CurrentUser,
) -> AttendancePublic:
    """Set a student's status by hand; the reason, the caller and the values before and after are audited.

    A new row needs ``room_id`` when the course meets in several rooms that day (else 422).
    A teacher corrects only the courses they teach (else 403). ``wrong_person: true`` says the
    door took someone else for this student: that capture becomes a negative for them (422 when
    the mark did not come from a door recognition of this student).
    """
    require_course(connection, user, course_code)
    return crud.override(connection, course_code, class_date, usn, body, user)


@router.get("/classes/today", response_model=list[ScheduledClassPublic], responses=documented(404, 422))
def todays_classes(
    request: Request,
    connection: ConnectionDep,
    user: CurrentUser,
    room_id: Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=32)] = None,
    on: Annotated[IsoDate | None, Query(description="Room-local date; default: each room's today")] = None,
) -> list[ScheduledClassPublic]:
    """Every room's classes today (room-local) and whether each is upcoming, in session or ended.

    A teacher sees only the classes of the courses they teach.
    """
    classes = crud.todays_classes(connection, request.app.state.clock(), room_id=room_id, day=on)
    allowed = visible_courses(connection, user)
    return [c for c in classes if allowed is None or c.course_code in allowed]
