"""Camera health per room: when the cloud last heard from each room's door and room camera.

The cloud sees a camera only through what it sends: cam1 uploads a face crop when someone
stands at the door (``recognition_events.captured_at``), cam2 a presence report every few
seconds while it runs (``presence_reports.reported_at``). A door camera is naturally quiet
between classes; a room camera that is quiet during a class is not running.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.api.rules import classes_of_day, room_local_date
from cloud_functions.api.schemas import CameraHealthPublic, CameraState, RoomCamerasPublic
from cloud_functions.core.db.schema import presence_reports, recognition_events, rooms, timetable
from cloud_functions.core.timetable import TimetableEntry

# A camera heard from within this long is "recent". Longer flags cameras that merely paused
# (no one at the door for a while); shorter hides a room camera that stopped mid-class.
QUIET_AFTER = timedelta(minutes=10)


def _state(camera_id: str | None, last_seen_at: datetime | None, now: datetime) -> CameraState:
    if camera_id is None:
        return "not_set"
    if last_seen_at is None:
        return "never"
    return "recent" if now - last_seen_at <= QUIET_AFTER else "quiet"


def _last_seen(
    connection: Connection,
    column: sa.ColumnElement[datetime],
    camera: sa.ColumnElement[str | None],
    camera_id: str | None,
) -> datetime | None:
    if camera_id is None:
        return None
    value: datetime | None = connection.execute(
        sa.select(sa.func.max(column)).where(camera == camera_id)
    ).scalar()
    return value


def room_cameras(connection: Connection, now: datetime) -> list[RoomCamerasPublic]:
    """Every room with its cam1 (door) and cam2 (room) health at ``now``, by room id."""
    result: list[RoomCamerasPublic] = []
    for room in connection.execute(sa.select(rooms).order_by(rooms.c.room_id)).mappings():
        door_seen = _last_seen(
            connection, recognition_events.c.captured_at, recognition_events.c.camera_id, room["cam1_id"]
        )
        room_seen = _last_seen(
            connection, presence_reports.c.reported_at, presence_reports.c.camera_id, room["cam2_id"]
        )
        entries = [
            TimetableEntry(r.course_code, r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_to)
            for r in connection.execute(sa.select(timetable).where(timetable.c.room_id == room["room_id"]))
        ]
        today = room_local_date(now, room["timezone"])
        in_session = any(
            c.state == "in_session"
            for c in classes_of_day(room["room_id"], room["timezone"], entries, today, now)
        )
        result.append(
            RoomCamerasPublic(
                room_id=room["room_id"],
                name=room["name"],
                timezone=room["timezone"],
                in_session=in_session,
                quiet_after_s=int(QUIET_AFTER.total_seconds()),
                cameras=[
                    CameraHealthPublic(
                        role="door",
                        camera_id=room["cam1_id"],
                        last_seen_at=door_seen,
                        state=_state(room["cam1_id"], door_seen, now),
                    ),
                    CameraHealthPublic(
                        role="room",
                        camera_id=room["cam2_id"],
                        last_seen_at=room_seen,
                        state=_state(room["cam2_id"], room_seen, now),
                    ),
                ],
            )
        )
    return result
