"""Enrollment flags for an admin ("possible twin or double enrollment"), one row per pair and kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import enrollment_flags
from cloud_functions.core.faces.lookalikes import FlagKind, LookalikeFlag


def record_flags(connection: Connection, flags: Sequence[LookalikeFlag]) -> None:
    """Store each flag once per (usn, other_usn, kind); a repeat keeps the highest similarity.

    Re-enrolling the same photo (a redelivered event) leaves one row, not two.
    """
    for flag in flags:
        key = (
            (enrollment_flags.c.usn == flag.usn)
            & (enrollment_flags.c.other_usn == flag.other_usn)
            & (enrollment_flags.c.kind == flag.kind.value)
        )
        existing = connection.execute(
            sa.select(enrollment_flags.c.similarity).where(key)
        ).scalar_one_or_none()
        if existing is None:
            connection.execute(
                enrollment_flags.insert().values(
                    usn=flag.usn,
                    other_usn=flag.other_usn,
                    kind=flag.kind.value,
                    similarity=flag.similarity,
                    created_at=datetime.now(UTC),
                )
            )
        elif flag.similarity > existing:
            connection.execute(enrollment_flags.update().where(key).values(similarity=flag.similarity))


def open_flags(connection: Connection) -> list[LookalikeFlag]:
    """Every unresolved flag, highest similarity first."""
    query = (
        sa.select(
            enrollment_flags.c.usn,
            enrollment_flags.c.other_usn,
            enrollment_flags.c.kind,
            enrollment_flags.c.similarity,
        )
        .where(enrollment_flags.c.resolved_at.is_(None))
        .order_by(enrollment_flags.c.similarity.desc())
    )
    return [
        LookalikeFlag(r.usn, r.other_usn, FlagKind(r.kind), float(r.similarity))
        for r in connection.execute(query)
    ]


def lookalike_partners(connection: Connection) -> dict[str, frozenset[str]]:
    """Each flagged student's partners, both ways round, resolved flags included.

    A resolved flag still counts: resolving "twins, both genuine" does not make them look less
    alike, and the margin it keeps costs a genuine match nothing when the two differ.
    """
    partners: dict[str, set[str]] = {}
    for row in connection.execute(sa.select(enrollment_flags.c.usn, enrollment_flags.c.other_usn)):
        partners.setdefault(row.usn, set()).add(row.other_usn)
        partners.setdefault(row.other_usn, set()).add(row.usn)
    return {usn: frozenset(others) for usn, others in partners.items()}
