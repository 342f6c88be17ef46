"""Term reports: percentages, shortage lists and registers of a course or a student; course minimums."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import audit
from cloud_functions.api.crud.catalog import get_course
from cloud_functions.api.crud.students import get_student
from cloud_functions.api.errors import RecordNotFoundError
from cloud_functions.api.report_schemas import (
    CourseMinimumPublic,
    CourseMinimumUpdate,
    CourseTermReportPublic,
    RegisterLinePublic,
    RegisterPublic,
    RegisterSessionPublic,
    ShortageListPublic,
    StandingPublic,
    StudentCourseStandingPublic,
    StudentStandingPublic,
    StudentTermReportPublic,
    TermRef,
)
from cloud_functions.core import registers
from cloud_functions.core.db.schema import courses
from cloud_functions.core.marks import CountingRule
from cloud_functions.core.registers import CourseRegister, RegisterLine, StudentRegister, Term
from cloud_functions.core.settings import AttendanceRuleSettings


def counting_rule(settings: AttendanceRuleSettings) -> CountingRule:
    """The counting rule of these settings."""
    return CountingRule(
        late_weight=settings.late_weight,
        absent_after_end_grace=settings.sweep_grace,
    )


def get_term(connection: Connection, term_id: int) -> Term:
    """The term, or ``RecordNotFoundError``."""
    term = registers.get_term(connection, term_id)
    if term is None:
        raise RecordNotFoundError(f"no term {term_id}")
    return term


def course_register(
    connection: Connection, settings: AttendanceRuleSettings, term_id: int, course_code: str, now: datetime
) -> CourseRegister:
    """The course's register over the term at ``now``, or ``RecordNotFoundError``."""
    term = get_term(connection, term_id)
    get_course(connection, course_code)
    register = registers.course_register(
        connection, term, course_code, counting_rule(settings), settings.min_attendance_pct, now
    )
    if register is None:
        raise RecordNotFoundError(f"no course {course_code}")
    return register


def student_register(
    connection: Connection,
    settings: AttendanceRuleSettings,
    term_id: int,
    usn: str,
    now: datetime,
    *,
    only_courses: set[str] | None,
) -> StudentRegister:
    """The student's register over the term (optionally only ``only_courses``), or ``RecordNotFoundError``."""
    term = get_term(connection, term_id)
    get_student(connection, usn)
    register = registers.student_register(
        connection,
        term,
        usn,
        counting_rule(settings),
        settings.min_attendance_pct,
        now,
        only_courses=only_courses,
    )
    if register is None:
        raise RecordNotFoundError(f"no student with USN {usn}")
    return register


def _student_standing(line: RegisterLine) -> StudentStandingPublic:
    return StudentStandingPublic(
        usn=line.usn, name=line.name, section=line.section, **StandingPublic.of(line.standing)
    )


def course_report(register: CourseRegister, late_weight: float) -> CourseTermReportPublic:
    """Every roster student's standing in the course, and the shortage list."""
    return CourseTermReportPublic(
        term=TermRef.of(register.term),
        course_code=register.course_code,
        course_title=register.course_title,
        min_pct=register.min_pct,
        min_pct_from=register.min_pct_from,
        late_weight=late_weight,
        sessions_held=register.held,
        sessions_remaining=register.remaining,
        students=[_student_standing(line) for line in register.lines],
        shortage=[line.usn for line in register.shortage()],
    )


def shortage_list(register: CourseRegister) -> ShortageListPublic:
    """The students under the course's minimum, lowest first."""
    return ShortageListPublic(
        term=TermRef.of(register.term),
        course_code=register.course_code,
        course_title=register.course_title,
        min_pct=register.min_pct,
        students=[_student_standing(line) for line in register.shortage()],
    )


def register_public(register: CourseRegister, late_weight: float) -> RegisterPublic:
    """The register as JSON: sessions in order, and per student a mark and state per session."""
    return RegisterPublic(
        term=TermRef.of(register.term),
        course_code=register.course_code,
        course_title=register.course_title,
        min_pct=register.min_pct,
        late_weight=late_weight,
        sessions=[
            RegisterSessionPublic.of(
                info, not info.session.cancelled and info.session.ends_at <= register.now
            )
            for info in register.sessions
        ],
        lines=[
            RegisterLinePublic(
                usn=line.usn,
                name=line.name,
                section=line.section,
                marks=[cell.mark if cell.state in ("counted", "upcoming") else None for cell in line.cells],
                states=[cell.state for cell in line.cells],
                **StandingPublic.of(line.standing),
            )
            for line in register.lines
        ],
    )


def student_report(register: StudentRegister, late_weight: float) -> StudentTermReportPublic:
    """The student's standing in each of their courses."""
    return StudentTermReportPublic(
        term=TermRef.of(register.term),
        usn=register.usn,
        name=register.name,
        late_weight=late_weight,
        courses=[
            StudentCourseStandingPublic(
                course_code=c.course_code, course_title=c.course_title, **StandingPublic.of(c.standing)
            )
            for c in register.courses
        ],
    )


def course_minimum(connection: Connection, course_code: str, default_min_pct: float) -> CourseMinimumPublic:
    """The course's own minimum and the one in force."""
    own = get_course(connection, course_code)["min_attendance_pct"]
    return CourseMinimumPublic(
        course_code=course_code,
        min_attendance_pct=own,
        effective_min_pct=default_min_pct if own is None else float(own),
    )


def set_course_minimum(
    connection: Connection,
    course_code: str,
    body: CourseMinimumUpdate,
    actor: Principal,
    default_min_pct: float,
) -> CourseMinimumPublic:
    """Set (or with null clear) the course's own minimum attendance; audited."""
    before = get_course(connection, course_code)["min_attendance_pct"]
    connection.execute(
        sa.update(courses)
        .where(courses.c.course_code == course_code)
        .values(min_attendance_pct=body.min_attendance_pct)
    )
    audit.record(
        connection,
        actor=actor.name,
        action="set_min_attendance",
        entity="course",
        entity_id=course_code,
        before={"min_attendance_pct": before},
        after={"min_attendance_pct": body.min_attendance_pct},
    )
    return course_minimum(connection, course_code, default_min_pct)
