"""Rooms (with their cameras and time zone) and their recognition events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cloud_functions.api.crud import catalog as crud
from cloud_functions.api.crud import events
from cloud_functions.api.deps import AdminUser, ConnectionDep, CurrentUser
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.routes.params import Limit, RoomIdPath
from cloud_functions.api.schemas import RecognitionEventPage, RoomCreate, RoomPublic, RoomUpdate

router = APIRouter(prefix="/rooms", tags=["rooms"], responses=AUTHENTICATED)


@router.get("", response_model=list[RoomPublic])
def list_rooms(connection: ConnectionDep, _user: CurrentUser) -> list[RoomPublic]:
    """Every room."""
    return [RoomPublic.model_validate(dict(r)) for r in crud.list_rooms(connection)]


@router.post(
    "",
    response_model=RoomPublic,
    status_code=status.HTTP_201_CREATED,
    responses={**WITH_BODY, **documented(403, 409)},
)
def create_room(body: RoomCreate, connection: ConnectionDep, admin: AdminUser) -> RoomPublic:
    """Add a room; camera ids are unique across rooms and differ within one, the time zone is IANA."""
    return RoomPublic.model_validate(dict(crud.create_room(connection, body, admin)))


@router.get("/{room_id}", response_model=RoomPublic, responses=documented(404, 422))
def get_room(room_id: RoomIdPath, connection: ConnectionDep, _user: CurrentUser) -> RoomPublic:
    """One room."""
    return RoomPublic.model_validate(dict(crud.get_room(connection, room_id)))


@router.patch("/{room_id}", response_model=RoomPublic, responses={**WITH_BODY, **documented(403, 404, 409)})
def update_room(
    room_id: RoomIdPath, body: RoomUpdate, connection: ConnectionDep, admin: AdminUser
) -> RoomPublic:
    """Change a room's name, cameras (``cam1_id`` and ``cam2_id`` differ) or time zone."""
    return RoomPublic.model_validate(dict(crud.update_room(connection, room_id, body, admin)))


@router.delete("/{room_id}", status_code=status.HTTP_204_NO_CONTENT, responses=documented(403, 404, 409, 422))
def delete_room(room_id: RoomIdPath, connection: ConnectionDep, admin: AdminUser) -> Response:
    """Delete a room and its timetable entries (refused while attendance refers to it)."""
    crud.delete_room(connection, room_id, admin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{room_id}/events", response_model=RecognitionEventPage, responses=documented(404, 422))
def recent_events(
    room_id: RoomIdPath,
    connection: ConnectionDep,
    _user: CurrentUser,
    limit: Limit = 20,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    camera: Annotated[
        events.EventCamera | None,
        Query(description="Only the door camera's faces, or only the room camera's body crops."),
    ] = None,
) -> RecognitionEventPage:
    """The room's recognition events, newest first (the live view polls this)."""
    return events.recent_events(connection, room_id, limit=limit, before_id=before_id, camera=camera)
