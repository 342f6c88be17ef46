"""Courses."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from cloud_functions.api.crud import catalog as crud
from cloud_functions.api.deps import AdminUser, ConnectionDep, CurrentUser
from cloud_functions.api.ownership import require_course, visible_courses
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.routes.params import CourseCodePath
from cloud_functions.api.schemas import CourseCreate, CoursePublic, CourseUpdate

router = APIRouter(prefix="/courses", tags=["courses"], responses=AUTHENTICATED)


@router.get("", response_model=list[CoursePublic])
def list_courses(connection: ConnectionDep, user: CurrentUser) -> list[CoursePublic]:
    """Every course (admins), or the courses the calling teacher teaches."""
    allowed = visible_courses(connection, user)
    return [
        CoursePublic.model_validate(dict(r))
        for r in crud.list_courses(connection)
        if allowed is None or r["course_code"] in allowed
    ]


@router.post(
    "",
    response_model=CoursePublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 409)},
)
def create_course(body: CourseCreate, connection: ConnectionDep, admin: AdminUser) -> CoursePublic:
    """Add a course."""
    return CoursePublic.model_validate(dict(crud.create_course(connection, body, admin)))


@router.get("/{course_code}", response_model=CoursePublic, responses=documented(403, 404, 422))
def get_course(course_code: CourseCodePath, connection: ConnectionDep, user: CurrentUser) -> CoursePublic:
    """One course (its teachers and admins)."""
    require_course(connection, user, course_code)
    return CoursePublic.model_validate(dict(crud.get_course(connection, course_code)))


@router.patch(
    "/{course_code}", response_model=CoursePublic, responses={**WITH_BODY, **documented(403, 404, 409)}
)
def update_course(
    course_code: CourseCodePath, body: CourseUpdate, connection: ConnectionDep, admin: AdminUser
) -> CoursePublic:
    """Change a course's title or teacher."""
    return CoursePublic.model_validate(dict(crud.update_course(connection, course_code, body, admin)))


@router.delete(
    "/{course_code}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(403, 404, 409, 422)
)
def delete_course(course_code: CourseCodePath, connection: ConnectionDep, admin: AdminUser) -> Response:
    """Delete a course with its timetable entries and attendance."""
    crud.delete_course(connection, course_code, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
