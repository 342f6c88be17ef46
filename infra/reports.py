"""Term reports from the command line: a course's minimum, registers, shortage lists.

    python -m infra.reports minimum CS501                 # the course's own minimum and the one in force
    python -m infra.reports minimum CS501 80              # set it (audited as cli:<user>)
    python -m infra.reports minimum CS501 --clear         # back to CLASSSIGHT_MIN_ATTENDANCE_PCT
    python -m infra.reports shortage 1 CS501              # term 1: students under the minimum
    python -m infra.reports register 1 CS501 -o cs501.xlsx          # .csv, .xlsx or .html by suffix
    python -m infra.reports student 1 1MS21CS001 -o alan.csv

The counting rule comes from the same settings as the API's (CLASSSIGHT_LATE_WEIGHT,
CLASSSIGHT_SWEEP_GRACE, CLASSSIGHT_MIN_ATTENDANCE_PCT). Exit status: 0 done, 1 unknown term,
course or student, or a value out of bounds, 2 invalid settings or no database.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from cloud_functions.api import exports
from cloud_functions.api.auth import Principal
from cloud_functions.api.crud import reports
from cloud_functions.api.errors import RecordNotFoundError
from cloud_functions.api.report_schemas import CourseMinimumUpdate
from cloud_functions.core.db.engine import get_engine, transaction
from cloud_functions.core.errors import ConfigurationError, DatabaseUnavailableError
from cloud_functions.core.settings import ReportSettings, load_settings
from contracts.ids import normalise_usn

FORMATS = (".csv", ".xlsx", ".html")


def _settings(database_url: str | None) -> ReportSettings:
    if database_url is None:
        return load_settings(ReportSettings)
    try:
        return ReportSettings(database_url=database_url)
    except ValidationError as e:
        raise ConfigurationError(f"invalid settings: {e}") from None


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")


def _percentage(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def main(argv: list[str] | None = None, *, now: datetime | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m infra.reports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="overrides CLASSSIGHT_DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    minimum = commands.add_parser("minimum", help="show or set a course's own minimum attendance")
    minimum.add_argument("course_code")
    minimum.add_argument("pct", nargs="?", type=float, help="0-100")
    minimum.add_argument("--clear", action="store_true", help="fall back to the setting")
    shortage = commands.add_parser("shortage", help="students under a course's minimum in a term")
    shortage.add_argument("term_id", type=int)
    shortage.add_argument("course_code")
    register = commands.add_parser("register", help="a course's register over a term")
    register.add_argument("term_id", type=int)
    register.add_argument("course_code")
    register.add_argument("-o", "--output", type=Path, required=True, help="a .csv, .xlsx or .html file")
    student = commands.add_parser("student", help="a student's register across courses over a term")
    student.add_argument("term_id", type=int)
    student.add_argument("usn")
    student.add_argument("-o", "--output", type=Path, required=True, help="a .csv, .xlsx or .html file")
    args = parser.parse_args(argv)
    at = now or datetime.now(UTC)
    output: Path | None = getattr(args, "output", None)
    if output is not None and output.suffix.lower() not in FORMATS:
        print(f"error: {output.name}: expected a .csv, .xlsx or .html file", file=sys.stderr)
        return 2
    try:
        settings = _settings(args.database_url)
        engine = get_engine(settings.database_url)
        with transaction(engine) as connection:
            if args.command == "minimum":
                if args.clear or args.pct is not None:
                    body = CourseMinimumUpdate(min_attendance_pct=None if args.clear else args.pct)
                    actor = Principal(name=f"cli:{getpass.getuser()}", role="admin")
                    result = reports.set_course_minimum(
                        connection, args.course_code, body, actor, settings.min_attendance_pct
                    )
                else:
                    result = reports.course_minimum(connection, args.course_code, settings.min_attendance_pct)
                own = (
                    "none (the setting)"
                    if result.min_attendance_pct is None
                    else f"{result.min_attendance_pct:g}%"
                )
                print(f"{result.course_code}: own minimum {own}; in force {result.effective_min_pct:g}%")
            elif args.command == "shortage":
                course = reports.course_register(connection, settings, args.term_id, args.course_code, at)
                short = course.shortage()
                print(
                    f"{course.course_code} {course.course_title}, {course.term.name}: "
                    f"minimum {course.min_pct:g}%, {course.held} sessions held, {course.remaining} to come; "
                    f"{len(short)} under the minimum"
                )
                for line in short:
                    can_miss = line.standing.can_still_miss
                    print(
                        f"  {line.usn}  {line.name:<30} {_percentage(line.standing.percentage):>8}  "
                        + ("cannot reach the minimum" if can_miss is None else f"may miss {can_miss} more")
                    )
            elif args.command == "register":
                assert output is not None
                course = reports.course_register(connection, settings, args.term_id, args.course_code, at)
                suffix = output.suffix.lower()
                _write(
                    output,
                    exports.course_register_csv(course)
                    if suffix == ".csv"
                    else exports.course_register_xlsx(course, settings.late_weight)
                    if suffix == ".xlsx"
                    else exports.course_register_html(course, settings.late_weight),
                )
                print(f"{output}: {len(course.lines)} students x {len(course.sessions)} sessions")
            else:
                assert output is not None
                usn = normalise_usn(args.usn)
                record = reports.student_register(
                    connection, settings, args.term_id, usn, at, only_courses=None
                )
                suffix = output.suffix.lower()
                _write(
                    output,
                    exports.student_register_csv(record)
                    if suffix == ".csv"
                    else exports.student_register_xlsx(record, settings.late_weight)
                    if suffix == ".xlsx"
                    else exports.student_register_html(record, settings.late_weight),
                )
                print(f"{output}: {usn}, {len(record.courses)} courses")
    except (RecordNotFoundError, ValidationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except (ConfigurationError, DatabaseUnavailableError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
