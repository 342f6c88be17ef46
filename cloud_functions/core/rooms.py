"""Where a capture or report came from, and which class it belongs to.

Every function that receives something from a classroom camera asks the same questions first:
is the room known, is the camera that room's door (cam1) or room (cam2) camera, and which class
is running there at that moment. The answers that stop the work are a ``Refusal`` whose
``outcome`` is an ``Outcome`` that every function records as it is.

Where a term covers the date, the class comes from the stored class sessions (a cancelled class
marks nobody: ``class_cancelled``; a moved one is found at its new slot). Where none does, the
weekly timetable decides, as before there were terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from sqlalchemy.engine import Connection

from cloud_functions.core.calendar import ClassCancelledError, StoredSession, resolve_session
from cloud_functions.core.db.rooms import Room, get_room, timetable_for_room
from cloud_functions.core.db.sessions import room_sessions, terms_covering
from cloud_functions.core.outcomes import Outcome
from cloud_functions.core.timetable import (
    AmbiguousTimetableError,
    ClassSession,
    GraceWindows,
    NoClassInSessionError,
    TimetableEntry,
    UnknownTimeZoneError,
    resolve_class,
    room_zone,
)

CameraRole = Literal["door", "room"]


@dataclass(frozen=True)
class Refusal:
    """Why the work stops here: ``unknown_room``, ``camera_not_in_room``, ``no_class_in_session``,
    ``class_cancelled`` or ``ambiguous_timetable``, with a detail for the record."""

    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class RoomContext:
    """A known room, seen by its own camera, with its timetable and, where a term covers the
    days around the moment asked about, that term's sessions in the room on those days."""

    room: Room
    timetable: list[TimetableEntry]
    sessions: list[StoredSession] | None = field(default=None)
    """None: no term covers those days, the weekly timetable decides."""

    def class_at(self, at: datetime, grace: GraceWindows) -> ClassSession | Refusal:
        """The single class running at ``at``, or why there is none to attribute it to."""
        try:
            if self.sessions is not None:
                return resolve_session(self.sessions, at, self.room.timezone, grace)
            return resolve_class(self.timetable, at, self.room.timezone, grace)
        except NoClassInSessionError as e:
            return Refusal(Outcome.NO_CLASS_IN_SESSION, str(e))
        except ClassCancelledError as e:
            return Refusal(Outcome.CLASS_CANCELLED, str(e))
        except (AmbiguousTimetableError, UnknownTimeZoneError) as e:
            return Refusal(Outcome.AMBIGUOUS_TIMETABLE, str(e))


def _days_around(at: datetime, timezone_name: str, grace: GraceWindows | None) -> list[date]:
    # The local day, and the next one when the grace reaches past midnight (as resolve_class does).
    local = at.astimezone(room_zone(timezone_name))
    before = grace.before_start if grace is not None else GraceWindows().before_start
    return sorted({local.date(), (local + before).date()})


def room_context(
    connection: Connection,
    room_id: str,
    camera_id: str,
    role: CameraRole,
    at: datetime | None = None,
    grace: GraceWindows | None = None,
) -> RoomContext | Refusal:
    """The room and its timetable, if the room exists and ``camera_id`` is its ``role`` camera.

    With ``at``, also the room's class sessions around it where a term covers those days. A room
    with no camera registered for that role accepts any camera (rooms being set up).
    """
    room = get_room(connection, room_id)
    if room is None:
        return Refusal(Outcome.UNKNOWN_ROOM, f"no room {room_id!r}")
    expected = room.cam1_id if role == "door" else room.cam2_id
    if expected is not None and expected != camera_id:
        return Refusal(
            Outcome.CAMERA_NOT_IN_ROOM, f"camera {camera_id!r} is not the {role} camera of {room.room_id}"
        )
    sessions = None
    if at is not None:
        try:
            days = _days_around(at, room.timezone, grace)
        except UnknownTimeZoneError:
            days = []  # class_at reports the zone
        if terms_covering(connection, days):
            sessions = room_sessions(connection, room_id, days)
    return RoomContext(room, timetable_for_room(connection, room_id), sessions)


@dataclass(frozen=True)
class LocatedClass:
    """The room a capture or report came from and the class running there at the time."""

    context: RoomContext
    session: ClassSession


def locate_class(
    connection: Connection, room_id: str, camera_id: str, role: CameraRole, at: datetime, grace: GraceWindows
) -> LocatedClass | Refusal:
    """``room_context`` and then ``class_at``: the class something seen at ``at`` belongs to."""
    context = room_context(connection, room_id, camera_id, role, at, grace)
    if isinstance(context, Refusal):
        return context
    session = context.class_at(at, grace)
    if isinstance(session, Refusal):
        return session
    return LocatedClass(context, session)
