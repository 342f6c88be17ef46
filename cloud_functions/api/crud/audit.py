"""The audit log: who changed what, with the values before and after."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import audit_log


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"cannot record {type(value).__name__} in the audit log")


def record(
    connection: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    **extra: Any,
) -> None:
    """Append one audit entry in the caller's transaction (so it commits with the change)."""
    detail = {"before": before, "after": after, **extra}
    connection.execute(
        audit_log.insert().values(
            at=datetime.now(UTC),
            actor=actor[:200],
            action=action,
            entity=entity,
            entity_id=entity_id[:128],
            detail=json.dumps(detail, default=_json_default, sort_keys=True),
        )
    )
