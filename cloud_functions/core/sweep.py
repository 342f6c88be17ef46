"""The absent sweep: at a session's end (plus a grace period), every roster student without a mark is absent.

For each scheduled session that ended more than ``grace`` ago and has no ``swept_at``: write
``absent`` (source ``sweep``) for every student on the course's roster on that date (their
``valid_from``/``valid_to``) who has no attendance row for the course that day, then set
``swept_at``. Each session is its own transaction, so a run that dies halfway keeps what it
finished and the next run does the rest.

Idempotent: the inserts ignore rows that exist (the attendance key is unique) and ``swept_at``
is set only where it is empty, so a redelivered schedule event, a re-run or two overlapping runs
add nothing. A later capture (door, room, body) or a correction replaces a sweep ``absent``;
the sweep never overwrites any mark. Attendance is one mark per student, course and day: where a
course meets twice on one day the first session's sweep marks the absentees, and coming to the
second replaces that ``absent``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from cloud_functions.core.calendar import sweep_due
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.sessions import mark_swept, unswept_sessions, write_absences


@dataclass(frozen=True)
class SweptSession:
    """One session this run swept, and how many absences it wrote."""

    session_id: int
    course_code: str
    session_date: str
    absences: int


@dataclass
class SweepReport:
    """What one run did."""

    at: datetime
    swept: list[SweptSession] = field(default_factory=list)

    @property
    def absences(self) -> int:
        """Absences written in this run."""
        return sum(s.absences for s in self.swept)

    def log_fields(self) -> dict[str, object]:
        """For the function's log line."""
        return {
            "at": self.at.isoformat(),
            "sessions_swept": len(self.swept),
            "absences_written": self.absences,
        }


def sweep_absences(engine: Engine, now: datetime, grace: timedelta) -> SweepReport:
    """Sweep every session due at ``now`` (aware); see the module docstring."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    report = SweepReport(at=now)
    # A session's room-local date is at most a day ahead of UTC's.
    with transaction(engine) as connection:
        candidates = unswept_sessions(connection, until=(now + timedelta(days=1)).date())
    for candidate in candidates:
        if not sweep_due(candidate.session, candidate.timezone, now, grace):
            continue
        session = candidate.session
        with transaction(engine) as connection:
            written = write_absences(connection, session, now)
            if not mark_swept(connection, session.session_id, now):
                # Another run swept it first; its absences and ours are the same rows.
                written = 0
        report.swept.append(
            SweptSession(session.session_id, session.course_code, session.session_date.isoformat(), written)
        )
    return report
