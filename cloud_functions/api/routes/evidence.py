"""The door photo behind one mark, on demand (the course's teachers and admins; audited)."""

from __future__ import annotations

from fastapi import APIRouter

from cloud_functions.api.crud import evidence as crud
from cloud_functions.api.deps import ConnectionDep, CurrentUser, PhotoBucketDep
from cloud_functions.api.ownership import require_course
from cloud_functions.api.responses import AUTHENTICATED, documented
from cloud_functions.api.routes.params import CourseCodePath, UsnPath
from cloud_functions.api.schemas import IsoDate, PhotoLinkPublic

router = APIRouter(tags=["attendance"], responses=AUTHENTICATED)


@router.get(
    "/attendance/{course_code}/{class_date}/{usn}/door-photo",
    response_model=PhotoLinkPublic,
    responses=documented(403, 404, 422, 502),
)
def door_photo(
    course_code: CourseCodePath,
    class_date: IsoDate,
    usn: UsnPath,
    connection: ConnectionDep,
    bucket: PhotoBucketDep,
    user: CurrentUser,
) -> PhotoLinkPublic:
    """A five-minute link to the door camera's crop that marked the student (the evidence in a
    dispute). A teacher opens only their courses' (else 403); every viewing is audited."""
    require_course(connection, user, course_code)
    return crud.door_photo(connection, bucket, course_code, class_date, usn, user)
