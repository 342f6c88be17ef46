"""Bodies of the term reports: percentages, shortage lists, registers, a course's minimum."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from cloud_functions.api.schemas import LocalTime, _In
from cloud_functions.core.marks import CellState, Mark
from cloud_functions.core.registers import SessionInfo, Standing, Term


class StandingPublic(BaseModel):
    """A student's counts in a course over the term and where they stand against its minimum.

    ``held`` counts sessions held within the student's roster dates; ``counted`` (the
    denominator) leaves out excused and pending ones; ``pending`` sessions ended less than the
    grace ago with no mark. ``can_still_miss`` is None when the minimum cannot be reached.
    """

    held: int
    counted: int
    present: int
    late: int
    absent: int
    excused: int
    pending: int
    remaining: int
    percentage: float | None = Field(description="rounded to 2 decimals; None while nothing counts")
    min_pct: float
    short: bool
    can_still_miss: int | None
    can_reach_minimum: bool

    @classmethod
    def of(cls, standing: Standing) -> dict[str, object]:
        """The fields of ``standing``, for the subclasses' constructors."""
        tally = standing.tally
        percentage = standing.percentage
        can_miss = standing.can_still_miss
        return {
            "held": tally.held,
            "counted": tally.counted,
            "present": tally.present,
            "late": tally.late,
            "absent": tally.absent,
            "excused": tally.excused,
            "pending": tally.pending,
            "remaining": tally.remaining,
            "percentage": None if percentage is None else round(percentage, 2),
            "min_pct": standing.min_pct,
            "short": standing.short,
            "can_still_miss": can_miss,
            "can_reach_minimum": can_miss is not None,
        }


class StudentStandingPublic(StandingPublic):
    usn: str
    name: str
    section: str | None


class TermRef(BaseModel):
    term_id: int
    name: str
    start_date: date
    end_date: date

    @classmethod
    def of(cls, term: Term) -> TermRef:
        return cls(term_id=term.term_id, name=term.name, start_date=term.start_date, end_date=term.end_date)


class CourseTermReportPublic(BaseModel):
    """Every roster student's percentage in the course over the term, and the shortage list."""

    term: TermRef
    course_code: str
    course_title: str
    min_pct: float
    min_pct_from: Literal["course", "setting"]
    late_weight: float
    sessions_held: int
    sessions_remaining: int
    students: list[StudentStandingPublic]
    shortage: list[str] = Field(description="USNs under the minimum, lowest percentage first")


class ShortageListPublic(BaseModel):
    """The roster students under the course's minimum, lowest percentage first."""

    term: TermRef
    course_code: str
    course_title: str
    min_pct: float
    students: list[StudentStandingPublic]


class RegisterSessionPublic(BaseModel):
    session_id: int
    session_date: date = Field(description="room-local date")
    start_time: LocalTime
    end_time: LocalTime
    room_id: str
    timezone: str
    status: str
    held: bool

    @classmethod
    def of(cls, info: SessionInfo, held: bool) -> RegisterSessionPublic:
        return cls(
            session_id=info.session_id,
            session_date=info.session_date,
            start_time=info.start_time,
            end_time=info.end_time,
            room_id=info.room_id,
            timezone=info.timezone,
            status=info.status,
            held=held,
        )


class RegisterLinePublic(StudentStandingPublic):
    """One student: a mark per session (None: none to show) and its state, and the totals."""

    marks: list[Mark | None]
    states: list[CellState]


class RegisterPublic(BaseModel):
    """A course's register over the term: students × sessions with marks P/L/A/E and totals."""

    term: TermRef
    course_code: str
    course_title: str
    min_pct: float
    late_weight: float
    sessions: list[RegisterSessionPublic]
    lines: list[RegisterLinePublic]


class StudentCourseStandingPublic(StandingPublic):
    course_code: str
    course_title: str


class StudentTermReportPublic(BaseModel):
    """A student's percentage in each of their courses over the term."""

    term: TermRef
    usn: str
    name: str
    late_weight: float
    courses: list[StudentCourseStandingPublic]


class CourseMinimumUpdate(_In):
    """A course's own minimum attendance; null falls back to the setting (default 75)."""

    min_attendance_pct: float | None = Field(..., ge=0.0, le=100.0)


class CourseMinimumPublic(BaseModel):
    course_code: str
    min_attendance_pct: float | None = Field(description="the course's own minimum; null: the setting")
    effective_min_pct: float
