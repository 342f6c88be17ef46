"""The counting rule: attendance marks, sessions held, percentages and how many more may be missed.

Plain functions over plain values (no database, no clock: ``now`` is passed in), shared by the
API's reports and registers, the exports and the daily teacher notification.

The rule, per student and course over a term:

- A row's status becomes a mark: ``entered`` and ``present`` → **P**, ``late`` → **L**,
  ``absent`` → **A**, ``excused`` → **E**.
- A session is **held** once it has ended (room-local end time, compared in UTC with ``now``)
  and was not cancelled. Only sessions within the student's roster dates (``valid_from`` ..
  ``valid_to``, inclusive, open ends open) count for that student.
- A held session with no mark counts as **A** once ``absent_after_end_grace`` has passed since
  its end (the absent sweep writes that mark then); before that it is *pending* and not counted.
- Attendance is keyed by date, so when a course meets twice on one day, the day's mark counts
  for each of that day's sessions.
- **E** leaves the denominator. **L** counts ``late_weight`` (1.0: as present; 0.5: half).
- percentage = 100 × (P + late_weight × L) / (P + L + A); none while nothing is counted.
- A student is **short** when the percentage is under the course's minimum.
- **Can still miss**, given R = the sessions of the term still to be held for the student
  (pending ones included, ones already excused in advance left out), C = P + L + A and
  W = P + late_weight × L: the student must attend at least
  x = max(0, ⌈m·(C + R) − W⌉) of the R (m = minimum / 100; future sessions attended count as P),
  so they can miss R − x more. When x > R the minimum **cannot be reached** (None).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

Mark = Literal["P", "L", "A", "E"]
CellState = Literal["counted", "pending", "upcoming", "not_enrolled", "cancelled"]

MARK_OF_STATUS: Mapping[str, Mark] = {
    "entered": "P",
    "present": "P",
    "late": "L",
    "absent": "A",
    "excused": "E",
}
MARK_WORDS: Mapping[Mark, str] = {"P": "present", "L": "late", "A": "absent", "E": "excused"}

# Percentages are compared with this much slack, so 75.0 computed as 74.99999999 still meets 75.
_EPSILON = 1e-9


def mark_of(status: str) -> Mark:
    """The register mark of an attendance status; ``ValueError`` for an unknown status."""
    try:
        return MARK_OF_STATUS[status]
    except KeyError:
        raise ValueError(f"unknown attendance status {status!r}") from None


@dataclass(frozen=True)
class Session:
    """One class meeting as the rule needs it: its room-local date and its UTC start and end."""

    session_id: int
    session_date: date
    starts_at: datetime
    ends_at: datetime
    cancelled: bool = False


@dataclass(frozen=True)
class Enrolment:
    """A student's roster dates in a course (inclusive; None is open)."""

    valid_from: date | None = None
    valid_to: date | None = None

    def covers(self, day: date) -> bool:
        """True if the student is on the roster on ``day``."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True)
class Cell:
    """One student × session cell of a register.

    ``mark`` is what the register shows (an unmarked held session past the grace shows A with
    ``recorded`` False); ``state`` says whether it counts.
    """

    mark: Mark | None
    state: CellState
    recorded: bool


@dataclass(frozen=True)
class CountingRule:
    """The knobs of the rule (settings ``late_weight`` and ``sweep_grace``)."""

    late_weight: float = 1.0
    absent_after_end_grace: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if not 0.0 <= self.late_weight <= 1.0:
            raise ValueError("late_weight must be between 0 and 1")
        if self.absent_after_end_grace < timedelta(0):
            raise ValueError("absent_after_end_grace must not be negative")

    def cell(self, session: Session, mark: Mark | None, enrolment: Enrolment, now: datetime) -> Cell:
        """What ``session`` is for a student with ``mark`` (None: no row) at ``now``."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if session.cancelled:
            return Cell(mark, "cancelled", mark is not None)
        if not enrolment.covers(session.session_date):
            return Cell(mark, "not_enrolled", mark is not None)
        if now < session.ends_at:
            return Cell(mark, "upcoming", mark is not None)
        if mark is not None:
            return Cell(mark, "counted", True)
        if now < session.ends_at + self.absent_after_end_grace:
            return Cell(None, "pending", False)
        return Cell("A", "counted", False)

    def tally(
        self,
        sessions: Iterable[Session],
        marks: Mapping[date, Mark],
        enrolment: Enrolment,
        now: datetime,
    ) -> Tally:
        """The student's counts over ``sessions`` with their marks by class date."""
        counts = {"P": 0, "L": 0, "A": 0, "E": 0}
        pending = remaining = 0
        for session in sessions:
            cell = self.cell(session, marks.get(session.session_date), enrolment, now)
            if cell.state == "counted" and cell.mark is not None:
                counts[cell.mark] += 1
            elif cell.state == "pending":
                pending += 1
            elif cell.state == "upcoming" and cell.mark != "E":
                remaining += 1
        return Tally(
            present=counts["P"],
            late=counts["L"],
            absent=counts["A"],
            excused=counts["E"],
            pending=pending,
            remaining=remaining,
            late_weight=self.late_weight,
        )


@dataclass(frozen=True)
class Tally:
    """A student's counts in one course over a term, and what follows from them."""

    present: int
    late: int
    absent: int
    excused: int
    pending: int
    """Held sessions still within the grace with no mark: not counted yet."""
    remaining: int
    """Sessions of the term still to be held (not cancelled, not excused in advance)."""
    late_weight: float = 1.0

    @property
    def held(self) -> int:
        """Sessions held within the student's roster dates (counted, excused or pending)."""
        return self.present + self.late + self.absent + self.excused + self.pending

    @property
    def counted(self) -> int:
        """The denominator: held sessions with a mark other than E (pending ones left out)."""
        return self.present + self.late + self.absent

    @property
    def attended(self) -> float:
        """The numerator: P + late_weight × L."""
        return self.present + self.late_weight * self.late

    @property
    def percentage(self) -> float | None:
        """100 × attended / counted, or None while nothing counts."""
        if self.counted == 0:
            return None
        return 100.0 * self.attended / self.counted

    def is_short(self, min_pct: float) -> bool:
        """True if the percentage is under ``min_pct`` (nothing counted yet is not short)."""
        percentage = self.percentage
        return percentage is not None and percentage < min_pct - _EPSILON

    def sessions_needed(self, min_pct: float) -> int:
        """Of the sessions still to come, how many the student must attend to end at ``min_pct``."""
        still_to_come = self.remaining + self.pending
        required = min_pct / 100.0 * (self.counted + still_to_come) - self.attended
        return max(0, math.ceil(required - _EPSILON))

    def can_still_miss(self, min_pct: float) -> int | None:
        """How many more sessions may be missed and ``min_pct`` still be met; None: cannot reach it."""
        still_to_come = self.remaining + self.pending
        needed = self.sessions_needed(min_pct)
        if needed > still_to_come:
            return None
        return still_to_come - needed
