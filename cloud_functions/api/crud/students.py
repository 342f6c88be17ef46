"""Students: search, create, update, consent, enrollment status and biometric deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.errors import (
    ConflictError,
    ConsentRequiredError,
    DeletionNotVerifiedError,
    InvalidRequestError,
    RecordNotFoundError,
)
from cloud_functions.api.photos import PhotoBucket
from cloud_functions.api.schemas import (
    EXPECTED_POSES,
    BiometricCheckPublic,
    BiometricDeletionPublic,
    ConsentCreate,
    EnrollmentPosePublic,
    EnrollmentStatusPublic,
    PhotoLinkPublic,
    StudentCreate,
    StudentUpdate,
)
from cloud_functions.core.db.schema import (
    body_prints,
    enrollments,
    face_negatives,
    faceprints,
    recognition_events,
    students,
)
from cloud_functions.core.storage import PresignedUpload
from contracts.ids import same_usn
from contracts.keys import (
    ENROLLMENT_PREFIX,
    GALLERY_PREFIX,
    enrollment_photo_key,
    enrollment_prefix,
    gallery_crop_usn,
)

_LIKE_ESCAPE = "\\"
_CLOCK_SKEW = timedelta(minutes=5)


def _is_gallery_crop_of(key: str, usn: str) -> bool:
    # The USN in the key is compared as the database compares USNs (case-insensitively): the
    # bucket would keep .../1ms21cs004/... apart from .../1MS21CS004/...
    found = gallery_crop_usn(key)
    return found is not None and same_usn(found, usn)


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards in ``text`` matched literally."""
    escaped = text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", r"\%").replace("_", r"\_")
    return f"%{escaped}%"


def get_student(connection: Connection, usn: str) -> RowMapping:
    """The student's row, or ``RecordNotFoundError``."""
    row = connection.execute(sa.select(students).where(students.c.usn == usn)).mappings().one_or_none()
    if row is None:
        raise RecordNotFoundError(f"no student with USN {usn}")
    return row


def list_students(
    connection: Connection, *, query: str | None, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """Students whose USN or name contains ``query`` (case-insensitive), by USN, and the total."""
    condition: sa.ColumnElement[bool] = sa.true()
    if query:
        pattern = like_pattern(query)
        condition = sa.or_(
            students.c.usn.ilike(pattern, escape=_LIKE_ESCAPE),
            students.c.name.ilike(pattern, escape=_LIKE_ESCAPE),
        )
    total = connection.execute(sa.select(sa.func.count()).select_from(students).where(condition)).scalar_one()
    rows = (
        connection.execute(
            sa.select(students).where(condition).order_by(students.c.usn).limit(limit).offset(offset)
        )
        .mappings()
        .all()
    )
    return list(rows), int(total)


def create_student(connection: Connection, body: StudentCreate, actor: Principal) -> RowMapping:
    """Insert a student (no consent yet); ``ConflictError`` if the USN exists."""
    exists = connection.execute(sa.select(students.c.usn).where(students.c.usn == body.usn)).first()
    if exists is not None:
        raise ConflictError(f"a student with USN {body.usn} exists")
    values = body.model_dump()
    connection.execute(students.insert().values(**values, created_at=datetime.now(UTC)))
    audit.record(
        connection, actor=actor.name, action="create", entity="student", entity_id=body.usn, after=values
    )
    return get_student(connection, body.usn)


def update_student(connection: Connection, usn: str, body: StudentUpdate, actor: Principal) -> RowMapping:
    """Change the given fields of a student."""
    before = get_student(connection, usn)
    changes = body.model_dump(exclude_unset=True)
    if changes:
        connection.execute(students.update().where(students.c.usn == usn).values(**changes))
        audit.record(
            connection,
            actor=actor.name,
            action="update",
            entity="student",
            entity_id=usn,
            before={key: before[key] for key in changes},
            after=changes,
        )
    return get_student(connection, usn)


def record_consent(connection: Connection, usn: str, body: ConsentCreate, actor: Principal) -> RowMapping:
    """Record the student's consent to biometric enrollment: who gave it and when."""
    before = get_student(connection, usn)
    now = datetime.now(UTC)
    given_at = body.given_at or now
    given_at = given_at.replace(tzinfo=UTC) if given_at.tzinfo is None else given_at.astimezone(UTC)
    if given_at > now + _CLOCK_SKEW:
        raise InvalidRequestError("consent cannot be given in the future", loc=("body", "given_at"))
    connection.execute(
        students.update()
        .where(students.c.usn == usn)
        .values(consent_given_at=given_at, consent_given_by=body.given_by)
    )
    audit.record(
        connection,
        actor=actor.name,
        action="consent",
        entity="student",
        entity_id=usn,
        before={
            "consent_given_at": before["consent_given_at"],
            "consent_given_by": before["consent_given_by"],
        },
        after={"consent_given_at": given_at, "consent_given_by": body.given_by},
    )
    return get_student(connection, usn)


def enrollment_status(connection: Connection, usn: str) -> EnrollmentStatusPublic:
    """Each expected pose (and any other stored one) with its photo's outcome and faceprint."""
    student = get_student(connection, usn)
    rows = {
        row.pose: row
        for row in connection.execute(
            sa.select(
                enrollments.c.pose,
                enrollments.c.status,
                enrollments.c.reason,
                enrollments.c.object_key,
                enrollments.c.updated_at,
            ).where(enrollments.c.usn == usn)
        )
    }
    with_faceprint = set(
        connection.execute(sa.select(faceprints.c.pose).where(faceprints.c.usn == usn).distinct()).scalars()
    )
    poses = []
    for pose in [*EXPECTED_POSES, *sorted(set(rows) - set(EXPECTED_POSES))]:
        row = rows.get(pose)
        if row is None:
            poses.append(
                EnrollmentPosePublic(pose=pose, status="missing", has_faceprint=pose in with_faceprint)
            )
            continue
        poses.append(
            EnrollmentPosePublic(
                pose=pose,
                status=row.status,
                reason=row.reason,
                object_key=row.object_key,
                has_faceprint=pose in with_faceprint,
                updated_at=row.updated_at,
            )
        )
    return EnrollmentStatusPublic(usn=usn, consent_given_at=student["consent_given_at"], poses=poses)


def enrollment_upload(
    connection: Connection,
    bucket: PhotoBucket,
    usn: str,
    pose: str,
    *,
    max_bytes: int,
    expires_in_s: int,
    actor: Principal,
) -> PresignedUpload:
    """A presigned upload of the pose's photo; ``ConsentRequiredError`` without recorded consent."""
    student = get_student(connection, usn)
    if student["consent_given_at"] is None:
        raise ConsentRequiredError(f"student {usn} has no recorded consent to biometric enrollment")
    upload = bucket.presigned_upload(enrollment_photo_key(usn, pose), max_bytes, expires_in_s)
    audit.record(
        connection,
        actor=actor.name,
        action="enrollment_upload_url",
        entity="student",
        entity_id=usn,
        pose=pose,
        object_key=upload.object_key,
    )
    return upload


# How long a link to view an enrollment photo works: long enough to load a thumbnail.
PHOTO_LINK_S = 300


def enrollment_photo(
    connection: Connection, bucket: PhotoBucket, usn: str, pose: str, actor: Principal
) -> PhotoLinkPublic:
    """A short-lived link to the pose's enrollment photo (a thumbnail for the admin); audited."""
    get_student(connection, usn)
    key = enrollment_photo_key(usn, pose)
    if not bucket.exists(key):
        raise RecordNotFoundError(f"no {pose} photo is stored for {usn}")
    audit.record(
        connection,
        actor=actor.name,
        action="view_enrollment_photo",
        entity="student",
        entity_id=usn,
        pose=pose,
        object_key=key,
    )
    return PhotoLinkPublic(url=bucket.presigned_download(key, PHOTO_LINK_S), expires_in_s=PHOTO_LINK_S)


def _biometric_counts(connection: Connection, usn: str) -> dict[str, int]:
    """Rows of biometric data the student still has, per table."""
    return {
        table.name: int(
            connection.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.usn == usn)
            ).scalar_one()
        )
        for table in (faceprints, body_prints, enrollments, face_negatives)
    }


def _remaining_images(connection: Connection, bucket: PhotoBucket, usn: str, known: list[str]) -> list[str]:
    """Keys of the student's images still in the bucket: enrollment photos, gallery crops, the
    crops recognised as them, and ``known`` keys (what a deletion just removed)."""
    recognised = connection.execute(
        sa.select(recognition_events.c.object_key).where(recognition_events.c.usn == usn)
    ).scalars()
    listed = bucket.keys_under(enrollment_prefix(usn)) + [
        key for key in bucket.keys_under(GALLERY_PREFIX) if _is_gallery_crop_of(key, usn)
    ]
    checked = sorted({*recognised, *known} - set(listed))
    return sorted(set(listed)) + [key for key in checked if bucket.exists(key)]


def biometric_check(connection: Connection, bucket: PhotoBucket, usn: str) -> BiometricCheckPublic:
    """What of the student's biometric data exists now (after a deletion: nothing, even when a
    photo uploaded before the deletion arrived after it, since the enroll function deletes
    photos of students without consent)."""
    get_student(connection, usn)
    images = _remaining_images(connection, bucket, usn, [])
    rows = _biometric_counts(connection, usn)
    photos = sum(1 for key in images if key.startswith(ENROLLMENT_PREFIX))
    result = BiometricCheckPublic(
        usn=usn,
        checked_at=datetime.now(UTC),
        faceprints=rows[faceprints.name],
        body_prints=rows[body_prints.name],
        photos=photos,
        captures=len(images) - photos,
        negatives=rows[face_negatives.name],
        none_left=not images
        and not rows[faceprints.name]
        and not rows[body_prints.name]
        and not rows[face_negatives.name],
    )
    return result


def delete_biometrics(
    connection: Connection,
    bucket: PhotoBucket,
    usn: str,
    *,
    withdraw_consent: bool,
    actor: Principal,
) -> BiometricDeletionPublic:
    """Delete a student's faceprints, body prints, enrollment photos and rows, and check they are gone.

    The crops recognised as the student (``recognition_events`` naming them: door faces, bodies)
    and cam2's gallery crops of the student are deleted from the bucket too; the events stay as
    attendance evidence without their image.
    Objects go first: were the database rows removed first and the bucket then failed, nothing
    would record which objects remain. Every key under the student's enrollment prefix is
    deleted, plus any stored ``object_key`` elsewhere. A re-check of bucket and tables must find
    nothing, else ``DeletionNotVerifiedError`` (and the transaction rolls back, so a retry starts
    from the same rows).
    """
    student = get_student(connection, usn)
    stored_keys = [
        key
        for key in connection.execute(
            sa.select(enrollments.c.object_key).where(
                enrollments.c.usn == usn, enrollments.c.object_key.is_not(None)
            )
        ).scalars()
        if key
    ]
    keys = sorted(set(bucket.keys_under(enrollment_prefix(usn))) | set(stored_keys))
    recognised = connection.execute(
        sa.select(recognition_events.c.object_key).where(recognition_events.c.usn == usn)
    ).scalars()
    gallery = [key for key in bucket.keys_under(GALLERY_PREFIX) if _is_gallery_crop_of(key, usn)]
    capture_keys = sorted({*recognised, *gallery})
    if keys or capture_keys:
        bucket.delete_many(keys + capture_keys)
    faceprints_deleted = connection.execute(faceprints.delete().where(faceprints.c.usn == usn)).rowcount
    body_prints_deleted = connection.execute(body_prints.delete().where(body_prints.c.usn == usn)).rowcount
    # Negatives: faces of other people corrected as "not this student", kept only for them.
    negatives_deleted = connection.execute(
        face_negatives.delete().where(face_negatives.c.usn == usn)
    ).rowcount
    enrollments_deleted = connection.execute(enrollments.delete().where(enrollments.c.usn == usn)).rowcount
    consent_withdrawn = withdraw_consent and student["consent_given_at"] is not None
    if consent_withdrawn:
        connection.execute(
            students.update()
            .where(students.c.usn == usn)
            .values(consent_given_at=None, consent_given_by=None)
        )

    left_objects = _remaining_images(connection, bucket, usn, [*stored_keys, *capture_keys])
    left_rows = _biometric_counts(connection, usn)
    if left_objects or any(left_rows.values()):
        rows = ", ".join(f"{count} {table}" for table, count in left_rows.items())
        raise DeletionNotVerifiedError(
            f"biometric data of {usn} still present after deletion: {len(left_objects)} images, {rows}"
        )
    result = BiometricDeletionPublic(
        usn=usn,
        faceprints_deleted=faceprints_deleted,
        body_prints_deleted=body_prints_deleted,
        negatives_deleted=negatives_deleted,
        enrollments_deleted=enrollments_deleted,
        objects_deleted=len(keys),
        captures_deleted=len(capture_keys),
        consent_withdrawn=consent_withdrawn,
        verified=True,
    )
    audit.record(
        connection,
        actor=actor.name,
        action="delete_biometrics",
        entity="student",
        entity_id=usn,
        before={"consent_given_at": student["consent_given_at"]} if consent_withdrawn else None,
        after=result.model_dump(),
        object_keys=keys,
    )
    return result


def delete_student(connection: Connection, bucket: PhotoBucket, usn: str, actor: Principal) -> None:
    """Delete a student's biometric data (verified), then the student and every row of theirs."""
    student = get_student(connection, usn)
    delete_biometrics(connection, bucket, usn, withdraw_consent=True, actor=actor)
    connection.execute(students.delete().where(students.c.usn == usn))
    before: dict[str, Any] = {key: student[key] for key in ("name", "email", "section")}
    audit.record(
        connection, actor=actor.name, action="delete", entity="student", entity_id=usn, before=before
    )
