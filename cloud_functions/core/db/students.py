"""Students as the capture flows see them: do they exist, and is their consent recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import students


@dataclass(frozen=True)
class StudentConsent:
    """Whether a student exists and has recorded consent to biometric enrollment."""

    usn: str
    consent_given_at: datetime | None

    @property
    def has_consent(self) -> bool:
        return self.consent_given_at is not None


def student_consent(connection: Connection, usn: str) -> StudentConsent | None:
    """The student's consent record, or ``None`` if there is no such student."""
    row = connection.execute(sa.select(students.c.consent_given_at).where(students.c.usn == usn)).first()
    return None if row is None else StudentConsent(usn, row.consent_given_at)


def existing_students(connection: Connection, usns: Iterable[str]) -> set[str]:
    """Those of ``usns`` that are students."""
    wanted = sorted(set(usns))
    if not wanted:
        return set()
    return set(connection.execute(sa.select(students.c.usn).where(students.c.usn.in_(wanted))).scalars())
