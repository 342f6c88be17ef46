"""Where a capture or report came from, and which class it belongs to.

Every function that receives something from a classroom camera asks the same questions first:
is the room known, is the camera that room's door (cam1) or room (cam2) camera, and which class
is running there at that moment. The answers that stop the work are a ``Refusal`` whose
``outcome`` is an ``Outcome`` that every function records as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.engine import Connection

from cloud_functions.core.db.rooms import Room, get_room, timetable_for_room
from cloud_functions.core.outcomes import Outcome
from cloud_functions.core.timetable import (
    AmbiguousTimetableError,
    ClassSession,
    GraceWindows,
    NoClassInSessionError,
    TimetableEntry,
    UnknownTimeZoneError,
    resolve_class,
)

CameraRole = Literal["door", "room"]


@dataclass(frozen=True)
class Refusal:
    """Why the work stops here: ``unknown_room``, ``camera_not_in_room``, ``no_class_in_session``
    or ``ambiguous_timetable``, with a detail for the record."""

    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class RoomContext:
    """A known room, seen by its own camera, with its timetable."""

    room: Room
    timetable: list[TimetableEntry]

    def class_at(self, at: datetime, grace: GraceWindows) -> ClassSession | Refusal:
        """The single class running at ``at``, or why there is none to attribute it to."""
        try:
            return resolve_class(self.timetable, at, self.room.timezone, grace)
        except NoClassInSessionError as e:
            return Refusal(Outcome.NO_CLASS_IN_SESSION, str(e))
        except (AmbiguousTimetableError, UnknownTimeZoneError) as e:
            return Refusal(Outcome.AMBIGUOUS_TIMETABLE, str(e))


def room_context(
    connection: Connection, room_id: str, camera_id: str, role: CameraRole
) -> RoomContext | Refusal:
    """The room and its timetable, if the room exists and ``camera_id`` is its ``role`` camera.

    A room with no camera registered for that role accepts any camera (rooms being set up).
    """
    room = get_room(connection, room_id)
    if room is None:
        return Refusal(Outcome.UNKNOWN_ROOM, f"no room {room_id!r}")
    expected = room.cam1_id if role == "door" else room.cam2_id
    if expected is not None and expected != camera_id:
        return Refusal(
            Outcome.CAMERA_NOT_IN_ROOM, f"camera {camera_id!r} is not the {role} camera of {room.room_id}"
        )
    return RoomContext(room, timetable_for_room(connection, room_id))


@dataclass(frozen=True)
class LocatedClass:
    """The room a capture or report came from and the class running there at the time."""

    context: RoomContext
    session: ClassSession


def locate_class(
    connection: Connection, room_id: str, camera_id: str, role: CameraRole, at: datetime, grace: GraceWindows
) -> LocatedClass | Refusal:
    """``room_context`` and then ``class_at``: the class something seen at ``at`` belongs to."""
    context = room_context(connection, room_id, camera_id, role)
    if isinstance(context, Refusal):
        return context
    session = context.class_at(at, grace)
    if isinstance(session, Refusal):
        return session
    return LocatedClass(context, session)
