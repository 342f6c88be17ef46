"""Flags: suspected spoofs at the door and two-camera proxy rules, for a teacher or admin to resolve."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud_functions.api.crud import flags as crud
from cloud_functions.api.deps import ConnectionDep, CurrentUser, PhotoBucketDep
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.schemas import (
    CODE_PATTERN,
    DoorPhotoPublic,
    FlagKind,
    FlagPublic,
    FlagResolve,
    FlagResolvedPublic,
    FlagStatus,
    IsoDate,
)

router = APIRouter(prefix="/flags", tags=["flags"], responses=AUTHENTICATED)

FlagId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The flag's id.")]


@router.get("", response_model=list[FlagPublic], responses=documented(422))
def list_flags(
    connection: ConnectionDep,
    user: CurrentUser,
    status: FlagStatus | None = None,
    kind: FlagKind | None = None,
    course_code: Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=32)] = None,
    class_date: Annotated[IsoDate | None, Query(description="Room-local date of the class")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FlagPublic]:
    """Flags the caller may see (a teacher: their courses'), newest first, with their evidence."""
    return crud.list_flags(
        connection,
        user,
        status=status,
        kind=kind,
        course_code=course_code,
        class_date=class_date,
        limit=limit,
    )


@router.get("/{flag_id}", response_model=FlagPublic, responses=documented(404, 422))
def get_flag(flag_id: FlagId, connection: ConnectionDep, user: CurrentUser) -> FlagPublic:
    """One flag and its evidence."""
    return crud.get_flag(connection, flag_id, user)


@router.get("/{flag_id}/photo", response_model=DoorPhotoPublic, responses=documented(404, 422, 502))
def door_photo(
    flag_id: FlagId, connection: ConnectionDep, user: CurrentUser, bucket: PhotoBucketDep
) -> DoorPhotoPublic:
    """A five-minute link to the door crop behind a suspected spoof; each request is audited."""
    return crud.door_photo(connection, flag_id, user, bucket)


@router.post(
    "/{flag_id}/resolve", response_model=FlagResolvedPublic, responses={**WITH_BODY, **documented(404, 409)}
)
def resolve_flag(
    flag_id: FlagId, body: FlagResolve, connection: ConnectionDep, user: CurrentUser
) -> FlagResolvedPublic:
    """Resolve an open flag with a reason (audited). ``genuine`` on a suspected spoof records the
    attendance the capture would have given; ``proxy`` keeps it refused."""
    return crud.resolve(connection, flag_id, body, user)
