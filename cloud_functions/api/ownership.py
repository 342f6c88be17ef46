"""Who may see and change which course: admins every course, a teacher only those they teach.

A teacher is the caller whose ``Principal.name`` is a ``teachers.username``; the courses they
teach are their ``course_teachers`` rows. A teacher linked to no course sees none.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud.catalog import get_course
from cloud_functions.api.errors import PermissionDeniedError
from cloud_functions.core.db.rosters import courses_taught_by


def visible_courses(connection: Connection, principal: Principal) -> set[str] | None:
    """The course codes the caller may see; None means every course (an admin)."""
    if principal.is_admin:
        return None
    return courses_taught_by(connection, principal.name)


def require_course(connection: Connection, principal: Principal, course_code: str) -> None:
    """Nothing if the caller may see and correct ``course_code``, else ``PermissionDeniedError``.

    An unknown course is ``RecordNotFoundError`` first, for every caller.
    """
    get_course(connection, course_code)
    allowed = visible_courses(connection, principal)
    if allowed is not None and course_code not in allowed:
        raise PermissionDeniedError(f"{principal.name} does not teach {course_code}")
