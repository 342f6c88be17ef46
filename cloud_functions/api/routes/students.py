"""Students, their consent, enrollment photos and biometric data, and their attendance history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cloud_functions.api.crud import attendance as attendance_crud
from cloud_functions.api.crud import students as crud
from cloud_functions.api.deps import AdminUser, ConnectionDep, CurrentUser, PhotoBucketDep, SettingsDep
from cloud_functions.api.ownership import visible_courses
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.routes.params import Limit, Offset, PosePath, UsnPath
from cloud_functions.api.schemas import (
    BiometricCheckPublic,
    BiometricDeletionPublic,
    ConsentCreate,
    EnrollmentStatusPublic,
    IsoDate,
    PhotoLinkPublic,
    StudentCreate,
    StudentHistory,
    StudentPage,
    StudentPublic,
    StudentUpdate,
    UploadPublic,
)

router = APIRouter(prefix="/students", tags=["students"], responses=AUTHENTICATED)


@router.get("", response_model=StudentPage, responses=documented(422))
def list_students(
    connection: ConnectionDep,
    _user: CurrentUser,
    q: Annotated[str | None, Query(max_length=100, description="Part of a USN or name")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> StudentPage:
    """Students by USN, optionally those whose USN or name contains ``q``."""
    rows, total = crud.list_students(connection, query=q, limit=limit, offset=offset)
    return StudentPage(
        items=[StudentPublic.model_validate(dict(r)) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post(
    "",
    response_model=StudentPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 409)},
)
def create_student(body: StudentCreate, connection: ConnectionDep, admin: AdminUser) -> StudentPublic:
    """Add a student (consent is recorded separately)."""
    return StudentPublic.model_validate(dict(crud.create_student(connection, body, admin)))


@router.get("/{usn}", response_model=StudentPublic, responses=documented(404, 422))
def get_student(usn: UsnPath, connection: ConnectionDep, _user: CurrentUser) -> StudentPublic:
    """One student."""
    return StudentPublic.model_validate(dict(crud.get_student(connection, usn)))


@router.patch("/{usn}", response_model=StudentPublic, responses={**WITH_BODY, **documented(403, 404, 409)})
def update_student(
    usn: UsnPath, body: StudentUpdate, connection: ConnectionDep, admin: AdminUser
) -> StudentPublic:
    """Change a student's name, email or section."""
    return StudentPublic.model_validate(dict(crud.update_student(connection, usn, body, admin)))


@router.delete("/{usn}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(403, 404, 422, 502))
def delete_student(
    usn: UsnPath, connection: ConnectionDep, bucket: PhotoBucketDep, admin: AdminUser
) -> Response:
    """Delete a student: biometric data first (verified gone), then every row of theirs."""
    crud.delete_student(connection, bucket, usn, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{usn}/consent", response_model=StudentPublic, responses={**WITH_BODY, **documented(403, 404)})
def record_consent(
    usn: UsnPath, body: ConsentCreate, connection: ConnectionDep, admin: AdminUser
) -> StudentPublic:
    """Record consent to biometric enrollment: who gave it and when (``given_at`` not in the future)."""
    return StudentPublic.model_validate(dict(crud.record_consent(connection, usn, body, admin)))


@router.get("/{usn}/enrollment", response_model=EnrollmentStatusPublic, responses=documented(404, 422))
def enrollment_status(usn: UsnPath, connection: ConnectionDep, _user: CurrentUser) -> EnrollmentStatusPublic:
    """Each pose's photo outcome (missing, pending, accepted, rejected) and faceprint."""
    return crud.enrollment_status(connection, usn)


@router.post(
    "/{usn}/enrollment/{pose}/upload",
    response_model=UploadPublic,
    responses=documented(403, 404, 409, 422, 502),
)
def enrollment_upload(
    usn: UsnPath,
    pose: PosePath,
    connection: ConnectionDep,
    bucket: PhotoBucketDep,
    settings: SettingsDep,
    admin: AdminUser,
) -> UploadPublic:
    """A presigned POST for ``enrollment/<usn>/<pose>.jpg``; 409 without recorded consent."""
    upload = crud.enrollment_upload(
        connection,
        bucket,
        usn,
        pose,
        max_bytes=settings.enrollment_photo_max_bytes,
        expires_in_s=settings.upload_url_expiry_s,
        actor=admin,
    )
    return UploadPublic(
        url=upload.url,
        fields=upload.fields,
        object_key=upload.object_key,
        max_bytes=upload.max_bytes,
        expires_in_s=upload.expires_in_s,
    )


@router.get(
    "/{usn}/enrollment/{pose}/photo",
    response_model=PhotoLinkPublic,
    responses=documented(403, 404, 422, 502),
)
def enrollment_photo(
    usn: UsnPath, pose: PosePath, connection: ConnectionDep, bucket: PhotoBucketDep, admin: AdminUser
) -> PhotoLinkPublic:
    """A five-minute link to the pose's enrollment photo (the portal's thumbnail); audited."""
    return crud.enrollment_photo(connection, bucket, usn, pose, admin)


@router.delete(
    "/{usn}/biometrics", response_model=BiometricDeletionPublic, responses=documented(403, 404, 422, 502)
)
def delete_biometrics(
    usn: UsnPath,
    connection: ConnectionDep,
    bucket: PhotoBucketDep,
    admin: AdminUser,
    withdraw_consent: Annotated[bool, Query(description="Also clear the recorded consent")] = True,
) -> BiometricDeletionPublic:
    """Delete faceprints, enrollment photos and enrollment rows; verified gone and audited."""
    return crud.delete_biometrics(connection, bucket, usn, withdraw_consent=withdraw_consent, actor=admin)


@router.get(
    "/{usn}/biometrics", response_model=BiometricCheckPublic, responses=documented(403, 404, 422, 502)
)
def biometric_check(
    usn: UsnPath, connection: ConnectionDep, bucket: PhotoBucketDep, _admin: AdminUser
) -> BiometricCheckPublic:
    """Re-check, now, that no faceprint, body print, photo or crop of the student exists."""
    return crud.biometric_check(connection, bucket, usn)


@router.get("/{usn}/attendance", response_model=StudentHistory, responses=documented(404, 422))
def student_history(
    usn: UsnPath,
    connection: ConnectionDep,
    user: CurrentUser,
    date_from: IsoDate | None = None,
    date_to: IsoDate | None = None,
) -> StudentHistory:
    """The student's attendance, oldest first, optionally between two dates (inclusive).

    A teacher sees only the rows of the courses they teach.
    """
    return attendance_crud.student_history(
        connection, usn, date_from=date_from, date_to=date_to, courses=visible_courses(connection, user)
    )
