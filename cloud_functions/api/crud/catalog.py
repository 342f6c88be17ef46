"""Courses, rooms and the timetable."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection, RowMapping

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.errors import ConflictError, RecordNotFoundError
from cloud_functions.api.rules import Slot, overlapping_slots
from cloud_functions.api.schemas import (
    CourseCreate,
    CourseUpdate,
    RoomCreate,
    RoomUpdate,
    TimetableEntryCreate,
)
from cloud_functions.core.db.schema import courses, rooms, timetable


def _one(
    connection: Connection, table: sa.Table, key: sa.Column[Any], value: object, what: str
) -> RowMapping:
    row = connection.execute(sa.select(table).where(key == value)).mappings().one_or_none()
    if row is None:
        raise RecordNotFoundError(f"no {what} {value}")
    return row


# --- courses ---------------------------------------------------------------------------------


def list_courses(connection: Connection) -> list[RowMapping]:
    """Every course, by code."""
    return list(connection.execute(sa.select(courses).order_by(courses.c.course_code)).mappings())


def get_course(connection: Connection, course_code: str) -> RowMapping:
    """The course, or ``RecordNotFoundError``."""
    return _one(connection, courses, courses.c.course_code, course_code, "course")


def create_course(connection: Connection, body: CourseCreate, actor: Principal) -> RowMapping:
    """Insert a course; ``ConflictError`` if the code exists."""
    if connection.execute(
        sa.select(courses.c.course_code).where(courses.c.course_code == body.course_code)
    ).first():
        raise ConflictError(f"course {body.course_code} exists")
    connection.execute(courses.insert().values(**body.model_dump()))
    audit.record(
        connection,
        actor=actor.name,
        action="create",
        entity="course",
        entity_id=body.course_code,
        after=body.model_dump(),
    )
    return get_course(connection, body.course_code)


def update_course(
    connection: Connection, course_code: str, body: CourseUpdate, actor: Principal
) -> RowMapping:
    """Change the given fields of a course."""
    return _update(connection, courses, courses.c.course_code, course_code, "course", body, actor)


def delete_course(connection: Connection, course_code: str, actor: Principal) -> None:
    """Delete a course with its timetable entries and attendance."""
    _delete(connection, courses, courses.c.course_code, course_code, "course", actor)


# --- rooms -----------------------------------------------------------------------------------


def list_rooms(connection: Connection) -> list[RowMapping]:
    """Every room, by id."""
    return list(connection.execute(sa.select(rooms).order_by(rooms.c.room_id)).mappings())


def get_room(connection: Connection, room_id: str) -> RowMapping:
    """The room, or ``RecordNotFoundError``."""
    return _one(connection, rooms, rooms.c.room_id, room_id, "room")


def _check_cameras_free(
    connection: Connection, room_id: str, cam1_id: str | None, cam2_id: str | None
) -> None:
    """A camera belongs to one room: refuse ids another room already uses (either slot)."""
    wanted = {cam for cam in (cam1_id, cam2_id) if cam}
    if not wanted:
        return
    taken = connection.execute(
        sa.select(rooms.c.room_id).where(
            rooms.c.room_id != room_id, sa.or_(rooms.c.cam1_id.in_(wanted), rooms.c.cam2_id.in_(wanted))
        )
    ).first()
    if taken is not None:
        raise ConflictError(f"camera id already used by room {taken.room_id}")


def create_room(connection: Connection, body: RoomCreate, actor: Principal) -> RowMapping:
    """Insert a room; ``ConflictError`` if the id or a camera id is taken."""
    if connection.execute(sa.select(rooms.c.room_id).where(rooms.c.room_id == body.room_id)).first():
        raise ConflictError(f"room {body.room_id} exists")
    _check_cameras_free(connection, body.room_id, body.cam1_id, body.cam2_id)
    connection.execute(rooms.insert().values(**body.model_dump()))
    audit.record(
        connection,
        actor=actor.name,
        action="create",
        entity="room",
        entity_id=body.room_id,
        after=body.model_dump(),
    )
    return get_room(connection, body.room_id)


def update_room(connection: Connection, room_id: str, body: RoomUpdate, actor: Principal) -> RowMapping:
    """Change the given fields of a room."""
    current = get_room(connection, room_id)
    changes = body.model_dump(exclude_unset=True)
    cam1 = changes.get("cam1_id", current["cam1_id"])
    cam2 = changes.get("cam2_id", current["cam2_id"])
    if cam1 is not None and cam1 == cam2:
        raise ConflictError("cam1_id and cam2_id must differ")
    _check_cameras_free(connection, room_id, cam1, cam2)
    return _update(connection, rooms, rooms.c.room_id, room_id, "room", body, actor)


def delete_room(connection: Connection, room_id: str, actor: Principal) -> None:
    """Delete a room with its timetable entries; refused while attendance refers to it."""
    _delete(connection, rooms, rooms.c.room_id, room_id, "room", actor)


def _update(
    connection: Connection,
    table: sa.Table,
    key: sa.Column[Any],
    value: str,
    what: str,
    body: BaseModel,
    actor: Principal,
) -> RowMapping:
    before = _one(connection, table, key, value, what)
    changes = body.model_dump(exclude_unset=True)
    if changes:
        connection.execute(table.update().where(key == value).values(**changes))
        audit.record(
            connection,
            actor=actor.name,
            action="update",
            entity=what,
            entity_id=value,
            before={name: before[name] for name in changes},
            after=changes,
        )
    return _one(connection, table, key, value, what)


def _delete(
    connection: Connection, table: sa.Table, key: sa.Column[Any], value: str, what: str, actor: Principal
) -> None:
    before = _one(connection, table, key, value, what)
    connection.execute(table.delete().where(key == value))
    audit.record(
        connection, actor=actor.name, action="delete", entity=what, entity_id=value, before=dict(before)
    )


# --- timetable -------------------------------------------------------------------------------


def list_timetable(
    connection: Connection, *, room_id: str | None = None, course_code: str | None = None
) -> list[RowMapping]:
    """Timetable entries, optionally of one room or course, by room, weekday and start."""
    query = sa.select(timetable)
    if room_id is not None:
        query = query.where(timetable.c.room_id == room_id)
    if course_code is not None:
        query = query.where(timetable.c.course_code == course_code)
    query = query.order_by(timetable.c.room_id, timetable.c.weekday, timetable.c.start_time, timetable.c.id)
    return list(connection.execute(query).mappings())


def get_timetable_entry(connection: Connection, entry_id: int) -> RowMapping:
    """The entry, or ``RecordNotFoundError``."""
    return _one(connection, timetable, timetable.c.id, entry_id, "timetable entry")


def _check_slot(connection: Connection, body: TimetableEntryCreate, entry_id: int | None) -> None:
    get_course(connection, body.course_code)
    get_room(connection, body.room_id)
    candidate = Slot(
        entry_id, body.room_id, body.weekday, body.start_time, body.end_time, body.valid_from, body.valid_to
    )
    same_day = connection.execute(
        sa.select(timetable).where(timetable.c.room_id == body.room_id, timetable.c.weekday == body.weekday)
    ).mappings()
    stored = [
        Slot(
            r["id"],
            r["room_id"],
            r["weekday"],
            r["start_time"],
            r["end_time"],
            r["valid_from"],
            r["valid_to"],
        )
        for r in same_day
    ]
    clashes = overlapping_slots(candidate, stored)
    if clashes:
        ids = ", ".join(str(c.id) for c in clashes)
        raise ConflictError(f"overlaps timetable entries {ids} in room {body.room_id}")


def create_timetable_entry(
    connection: Connection, body: TimetableEntryCreate, actor: Principal
) -> RowMapping:
    """Insert a slot; ``ConflictError`` if it overlaps another in the same room and weekday."""
    _check_slot(connection, body, None)
    result = connection.execute(timetable.insert().values(**body.model_dump()))
    primary_key = result.inserted_primary_key
    assert primary_key is not None
    entry_id = int(primary_key[0])
    audit.record(
        connection,
        actor=actor.name,
        action="create",
        entity="timetable",
        entity_id=str(entry_id),
        after=body.model_dump(),
    )
    return get_timetable_entry(connection, entry_id)


def replace_timetable_entry(
    connection: Connection, entry_id: int, body: TimetableEntryCreate, actor: Principal
) -> RowMapping:
    """Replace a slot's fields, with the same overlap check as on creation."""
    before = get_timetable_entry(connection, entry_id)
    _check_slot(connection, body, entry_id)
    connection.execute(timetable.update().where(timetable.c.id == entry_id).values(**body.model_dump()))
    audit.record(
        connection,
        actor=actor.name,
        action="update",
        entity="timetable",
        entity_id=str(entry_id),
        before=dict(before),
        after=body.model_dump(),
    )
    return get_timetable_entry(connection, entry_id)


def delete_timetable_entry(connection: Connection, entry_id: int, actor: Principal) -> None:
    """Delete a slot."""
    before = get_timetable_entry(connection, entry_id)
    connection.execute(timetable.delete().where(timetable.c.id == entry_id))
    audit.record(
        connection,
        actor=actor.name,
        action="delete",
        entity="timetable",
        entity_id=str(entry_id),
        before=dict(before),
    )
