"""Recognition events for the live room view."""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.api.crud.catalog import get_room
from cloud_functions.api.schemas import RecognitionEventPage, RecognitionEventPublic
from cloud_functions.core.db.schema import recognition_events
from contracts.keys import BODIES_PREFIX, FACES_PREFIX, GALLERY_PREFIX

EventCamera = Literal["door", "room"]
# Which objects each camera's events come from (the object keys of contracts.keys).
_PREFIXES: dict[str, tuple[str, ...]] = {"door": (FACES_PREFIX,), "room": (BODIES_PREFIX, GALLERY_PREFIX)}


def recent_events(
    connection: Connection,
    room_id: str,
    *,
    limit: int,
    before_id: int | None = None,
    camera: EventCamera | None = None,
) -> RecognitionEventPage:
    """The room's newest events first; a page ends at ``limit``, the next starts below its last id.

    Keyset pagination by id: new events arriving while someone pages do not shift the pages.
    """
    get_room(connection, room_id)
    query = sa.select(recognition_events).where(recognition_events.c.room_id == room_id)
    if before_id is not None:
        query = query.where(recognition_events.c.id < before_id)
    if camera is not None:
        query = query.where(
            sa.or_(
                *(recognition_events.c.object_key.startswith(p, autoescape=True) for p in _PREFIXES[camera])
            )
        )
    rows = (
        connection.execute(query.order_by(recognition_events.c.id.desc()).limit(limit + 1)).mappings().all()
    )
    items = [RecognitionEventPublic.model_validate(dict(row)) for row in rows[:limit]]
    next_before_id = items[-1].id if len(rows) > limit else None
    return RecognitionEventPage(items=items, next_before_id=next_before_id)
