"""Timetable entries: weekly slots of courses in rooms (room-local times).

A change regenerates the sessions of every term that has not ended, in the same transaction: new
slots get sessions, slots gone are cancelled where still to come and unmarked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from cloud_functions.api.crud import catalog as crud
from cloud_functions.api.crud.calendar import regenerate_after_timetable_change
from cloud_functions.api.deps import AdminUser, ConnectionDep, CurrentUser
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.schemas import CODE_PATTERN, TimetableEntryCreate, TimetableEntryPublic

router = APIRouter(prefix="/timetable", tags=["timetable"], responses=AUTHENTICATED)

EntryId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", response_model=list[TimetableEntryPublic], responses=documented(422))
def list_entries(
    connection: ConnectionDep,
    _user: CurrentUser,
    room_id: Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=32)] = None,
    course_code: Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=32)] = None,
) -> list[TimetableEntryPublic]:
    """Entries by room, weekday and start, optionally of one room or course."""
    rows = crud.list_timetable(connection, room_id=room_id, course_code=course_code)
    return [TimetableEntryPublic.model_validate(dict(r)) for r in rows]


@router.post(
    "",
    response_model=TimetableEntryPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 404, 409)},
)
def create_entry(
    body: TimetableEntryCreate, request: Request, connection: ConnectionDep, admin: AdminUser
) -> TimetableEntryPublic:
    """Add a slot; 409 if it overlaps another slot of the room on that weekday.

    Rules the schema cannot state (422): ``start_time`` before ``end_time``, ``valid_from`` not
    after ``valid_to``.
    """
    entry = TimetableEntryPublic.model_validate(dict(crud.create_timetable_entry(connection, body, admin)))
    regenerate_after_timetable_change(connection, request.app.state.clock())
    return entry


@router.get("/{entry_id}", response_model=TimetableEntryPublic, responses=documented(404, 422))
def get_entry(entry_id: EntryId, connection: ConnectionDep, _user: CurrentUser) -> TimetableEntryPublic:
    """One slot."""
    return TimetableEntryPublic.model_validate(dict(crud.get_timetable_entry(connection, entry_id)))


@router.put(
    "/{entry_id}", response_model=TimetableEntryPublic, responses={**WITH_BODY, **documented(403, 404, 409)}
)
def replace_entry(
    entry_id: EntryId,
    body: TimetableEntryCreate,
    request: Request,
    connection: ConnectionDep,
    admin: AdminUser,
) -> TimetableEntryPublic:
    """Replace a slot (same overlap check and rules as on creation)."""
    entry = TimetableEntryPublic.model_validate(
        dict(crud.replace_timetable_entry(connection, entry_id, body, admin))
    )
    regenerate_after_timetable_change(connection, request.app.state.clock())
    return entry


@router.delete("/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(403, 404, 422))
def delete_entry(
    entry_id: EntryId, request: Request, connection: ConnectionDep, admin: AdminUser
) -> Response:
    """Delete a slot."""
    crud.delete_timetable_entry(connection, entry_id, admin)
    regenerate_after_timetable_change(connection, request.app.state.clock())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
