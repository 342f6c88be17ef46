"""Camera health: each room's door (cam1) and room (cam2) camera, and when each was last heard from."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cloud_functions.api.crud import cameras as crud
from cloud_functions.api.deps import AdminUser, ConnectionDep
from cloud_functions.api.responses import AUTHENTICATED, documented
from cloud_functions.api.schemas import RoomCamerasPublic

router = APIRouter(prefix="/cameras", tags=["rooms"], responses=AUTHENTICATED)


@router.get("", response_model=list[RoomCamerasPublic], responses=documented(403))
def camera_health(request: Request, connection: ConnectionDep, _admin: AdminUser) -> list[RoomCamerasPublic]:
    """Every room's cameras: the newest door capture and room presence report, and whether a
    class is in session now (admins)."""
    return crud.room_cameras(connection, request.app.state.clock())
