"""The door photo behind a mark: the crop the door camera took when it recognised the student.

It is the evidence in a dispute, so the course's teacher (and an admin) may open it, one mark at
a time and never in a list; each viewing is audited, like the door photo of a flag.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.errors import RecordNotFoundError
from cloud_functions.api.photos import PhotoBucket
from cloud_functions.api.schemas import PhotoLinkPublic
from cloud_functions.core.db.schema import attendance, recognition_events

# How long the link works: long enough to open it, short enough not to be passed around.
PHOTO_LINK_S = 300


def door_photo(
    connection: Connection,
    bucket: PhotoBucket,
    course_code: str,
    class_date: date,
    usn: str,
    actor: Principal,
) -> PhotoLinkPublic:
    """A short-lived link to the door crop that marked ``usn`` for the class; audited."""
    capture_id = connection.execute(
        sa.select(attendance.c.capture_id).where(
            attendance.c.usn == usn,
            attendance.c.course_code == course_code,
            attendance.c.class_date == class_date,
        )
    ).scalar()
    if capture_id is None:
        raise RecordNotFoundError(f"no door capture marked {usn} for {course_code} on {class_date}")
    object_key = connection.execute(
        sa.select(recognition_events.c.object_key)
        .where(recognition_events.c.capture_id == capture_id, recognition_events.c.usn == usn)
        .order_by(recognition_events.c.id)
        .limit(1)
    ).scalar()
    if object_key is None or not bucket.exists(object_key):
        raise RecordNotFoundError(f"the door photo that marked {usn} is no longer stored")
    audit.record(
        connection,
        actor=actor.name,
        action="view_door_photo",
        entity="attendance",
        entity_id=f"{usn}/{course_code}/{class_date.isoformat()}",
        object_key=object_key,
    )
    return PhotoLinkPublic(url=bucket.presigned_download(object_key, PHOTO_LINK_S), expires_in_s=PHOTO_LINK_S)
