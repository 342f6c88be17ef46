"""Importing students, course rosters and teachers from CSV or XLSX files.

A file is read whole (csv module, openpyxl), every row is validated against the file itself and
the database, and only a file with no problem at all is written: in the caller's transaction, as
an upsert on each kind's natural key (a student's USN, a roster's course and USN, a teacher's
username), so importing the same file twice changes nothing the second time. Every problem is
reported with its spreadsheet row number (the header is row 1), its column and a reason.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import course_rosters, course_teachers, courses, students, teachers
from contracts.ids import COURSE_CODE_PATTERN, USN_MAX_CHARS, USN_PATTERN, normalise_usn

ImportKind = Literal["students", "rosters", "teachers"]
FileFormat = Literal["csv", "xlsx"]
Outcome = Literal["created", "updated", "unchanged"]

# Columns each kind requires and those it may have. Header names are matched case-insensitively.
REQUIRED_COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    "students": ("usn", "name"),
    "rosters": ("usn", "course_code"),
    "teachers": ("username", "name"),
}
OPTIONAL_COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    "students": ("email", "section"),
    "rosters": ("section", "valid_from", "valid_to"),
    "teachers": ("email", "courses"),
}
# Rows beyond this are refused: a registrar's file has a few thousand, not millions.
MAX_ROWS = 50_000

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets; a
# value that would run when the data is exported again is refused, not stored.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_USN = re.compile(USN_PATTERN)
_COURSE_CODE = re.compile(COURSE_CODE_PATTERN)
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,127}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_SECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,31}$")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


@dataclass(frozen=True)
class RowError:
    """One problem: the spreadsheet row (1 = header; 0 = the file as a whole), the column, why."""

    row: int
    column: str | None
    reason: str


@dataclass
class ImportReport:
    """What an import found and did (or, in a dry run, would do)."""

    kind: ImportKind
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False


@dataclass(frozen=True)
class _Row:
    number: int
    values: dict[str, str]


class _Sheet:
    def __init__(self) -> None:
        self.header: list[str] = []
        self.rows: list[_Row] = []
        self.errors: list[RowError] = []


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_csv(data: bytes, sheet: _Sheet) -> list[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        sheet.errors.append(
            RowError(line, None, f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as CSV UTF-8")
        )
        return []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            records.append((reader.line_num, [c.strip() for c in cells]))
            if len(records) > MAX_ROWS + 1:
                break
    except csv.Error as e:
        sheet.errors.append(RowError(reader.line_num, None, f"malformed CSV: {e}"))
    return records


def _read_xlsx(data: bytes, sheet: _Sheet) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # the api extra; only imports need it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        sheet.errors.append(RowError(0, None, f"not an XLSX workbook ({type(e).__name__})"))
        return []
    records: list[tuple[int, list[str]]] = []
    try:
        worksheet = workbook.worksheets[0]
        for number, cells in enumerate(worksheet.iter_rows(), start=1):
            # A formula cell's value is its formula text ("=..."), refused below like a CSV formula.
            texts = [_cell_text(cell.value) for cell in cells]
            records.append((number, texts))
            if len(records) > MAX_ROWS + 1:
                break
    finally:
        workbook.close()
    return records


def read_sheet(data: bytes, file_format: FileFormat, kind: ImportKind) -> _Sheet:
    """The file's header and non-blank rows, with the problems of reading it (encoding, formulas, columns)."""
    sheet = _Sheet()
    records = _read_csv(data, sheet) if file_format == "csv" else _read_xlsx(data, sheet)
    if not records:
        if not sheet.errors:
            sheet.errors.append(RowError(0, None, "the file is empty; the first row names the columns"))
        return sheet
    header_number, raw_header = records[0]
    sheet.header = [name.strip().lower() for name in raw_header]
    while sheet.header and not sheet.header[-1]:
        sheet.header.pop()
    allowed = REQUIRED_COLUMNS[kind] + OPTIONAL_COLUMNS[kind]
    for name in sheet.header:
        if name not in allowed:
            sheet.errors.append(
                RowError(header_number, name or None, f"unknown column; expected {', '.join(allowed)}")
            )
    for name in REQUIRED_COLUMNS[kind]:
        if name not in sheet.header:
            sheet.errors.append(RowError(header_number, name, "required column missing"))
    if len(sheet.header) != len(set(sheet.header)):
        sheet.errors.append(RowError(header_number, None, "a column is named twice"))
    if len(records) - 1 > MAX_ROWS:
        sheet.errors.append(RowError(0, None, f"more than {MAX_ROWS} rows; split the file"))
        return sheet
    for number, cells in records[1:]:
        if not any(cells):
            continue
        if len(cells) > len(sheet.header) and any(cells[len(sheet.header) :]):
            sheet.errors.append(RowError(number, None, "more cells than the header has columns"))
        values = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(sheet.header)}
        for name, value in values.items():
            if value.startswith(_FORMULA_PREFIXES):
                sheet.errors.append(RowError(number, name, "starts like a spreadsheet formula (= + - @)"))
            elif _UNPRINTABLE.search(value):
                sheet.errors.append(RowError(number, name, "contains control or invisible characters"))
        sheet.rows.append(_Row(number, values))
    return sheet


# --- validation of the values ---------------------------------------------------------------


class _Checker:
    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        self.failed = False

    def error(self, row: _Row, column: str | None, reason: str) -> None:
        self.errors.append(RowError(row.number, column, reason))
        self.failed = True

    def text(self, row: _Row, column: str, *, required: bool, max_chars: int) -> str | None:
        value = row.values.get(column, "")
        if not value:
            if required:
                self.error(row, column, "required")
            return None
        if len(value) > max_chars:
            self.error(row, column, f"longer than {max_chars} characters")
            return None
        return value

    def pattern(
        self, row: _Row, column: str, regex: re.Pattern[str], what: str, *, required: bool
    ) -> str | None:
        value = self.text(row, column, required=required, max_chars=254)
        if value is not None and not regex.match(value):
            self.error(row, column, f"not a valid {what}: {value[:40]!r}")
            return None
        return value

    def day(self, row: _Row, column: str) -> date | None:
        value = row.values.get(column, "")
        if not value:
            return None
        if not _ISO_DATE.match(value):
            self.error(row, column, f"not a date as YYYY-MM-DD: {value[:40]!r}")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.error(row, column, f"no such date: {value!r}")
            return None


def _usn(check: _Checker, row: _Row) -> str | None:
    value = check.pattern(row, "usn", _USN, "USN", required=True)
    if value is not None and len(value) > USN_MAX_CHARS:
        check.error(row, "usn", f"longer than {USN_MAX_CHARS} characters")
        return None
    return normalise_usn(value) if value is not None else None


def _existing(connection: Connection, table: sa.Table, key: str, values: Iterable[object]) -> dict[Any, Any]:
    found: dict[Any, Any] = {}
    wanted = sorted(set(values), key=str)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in connection.execute(sa.select(table).where(table.c[key].in_(chunk))).mappings():
            found[row[key]] = dict(row)
    return found


def _outcome(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> Outcome:
    if before is None:
        return "created"
    return "unchanged" if all(before.get(k) == v for k, v in after.items()) else "updated"


def _count(report: ImportReport, outcome: Outcome) -> None:
    setattr(report, outcome, getattr(report, outcome) + 1)


def _import_students(
    connection: Connection, sheet: _Sheet, report: ImportReport
) -> list[tuple[str, dict[str, Any], Outcome]]:
    check = _Checker(report.errors)
    parsed: list[tuple[str, dict[str, Any]]] = []
    first_row: dict[str, int] = {}
    for row in sheet.rows:
        check.failed = False
        usn = _usn(check, row)
        name = check.text(row, "name", required=True, max_chars=200)
        email = check.pattern(row, "email", _EMAIL, "email address", required=False)
        section = check.pattern(row, "section", _SECTION, "section", required=False)
        if usn is not None:
            if usn in first_row:
                check.error(row, "usn", f"duplicate USN {usn} (first on row {first_row[usn]})")
            else:
                first_row[usn] = row.number
        if not check.failed and usn is not None:
            values: dict[str, Any] = {"name": name}
            if "email" in sheet.header:
                values["email"] = email
            if "section" in sheet.header:
                values["section"] = section
            parsed.append((usn, values))
    stored = _existing(connection, students, "usn", (usn for usn, _ in parsed))
    return [(usn, values, _outcome(stored.get(usn), values)) for usn, values in parsed]


def _import_rosters(
    connection: Connection, sheet: _Sheet, report: ImportReport, allowed_courses: set[str] | None
) -> list[tuple[tuple[str, str], dict[str, Any], Outcome]]:
    check = _Checker(report.errors)
    known_courses = {row.course_code for row in connection.execute(sa.select(courses.c.course_code))}
    candidates: list[tuple[_Row, str | None, str | None, dict[str, Any]]] = []
    for row in sheet.rows:
        check.failed = False
        usn = _usn(check, row)
        course_code = check.pattern(row, "course_code", _COURSE_CODE, "course code", required=True)
        section = check.pattern(row, "section", _SECTION, "section", required=False)
        valid_from, valid_to = check.day(row, "valid_from"), check.day(row, "valid_to")
        if valid_from and valid_to and valid_from > valid_to:
            check.error(row, "valid_to", "before valid_from")
        if course_code is not None and course_code not in known_courses:
            check.error(row, "course_code", f"unknown course {course_code}")
        elif course_code is not None and allowed_courses is not None and course_code not in allowed_courses:
            check.error(row, "course_code", f"you do not teach {course_code}")
        values = {"section": section, "valid_from": valid_from, "valid_to": valid_to}
        candidates.append(
            (row, usn if not check.failed else None, course_code if not check.failed else None, values)
        )
    known_students = _existing(connection, students, "usn", (usn for _, usn, _, _ in candidates if usn))
    first_row: dict[tuple[str, str], int] = {}
    parsed: list[tuple[tuple[str, str], dict[str, Any]]] = []
    for row, usn, course_code, values in candidates:
        if usn is None or course_code is None:
            continue
        if usn not in known_students:
            check.error(row, "usn", f"no student with USN {usn}; import the students first")
            continue
        key = (course_code, usn)
        if key in first_row:
            check.error(row, "usn", f"{usn} is on {course_code} twice (first on row {first_row[key]})")
            continue
        first_row[key] = row.number
        parsed.append((key, values))
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for code in {code for (code, _), _ in parsed}:
        query = sa.select(course_rosters).where(course_rosters.c.course_code == code)
        for r in connection.execute(query).mappings():
            stored[(r["course_code"], r["usn"])] = dict(r)
    return [(key, values, _outcome(stored.get(key), values)) for key, values in parsed]


def _parse_courses(check: _Checker, row: _Row, known: set[str]) -> list[tuple[str, str | None]]:
    links: list[tuple[str, str | None]] = []
    for item in filter(None, (part.strip() for part in row.values.get("courses", "").split(";"))):
        code, _, section = (p.strip() for p in item.partition("/"))
        if not _COURSE_CODE.match(code):
            check.error(row, "courses", f"not a valid course code: {code[:40]!r}")
        elif code not in known:
            check.error(row, "courses", f"unknown course {code}")
        elif section and not _SECTION.match(section):
            check.error(row, "courses", f"not a valid section: {section[:40]!r}")
        elif (code, section or None) not in links:
            links.append((code, section or None))
    return links


def _import_teachers(
    connection: Connection, sheet: _Sheet, report: ImportReport
) -> list[tuple[str, dict[str, Any], list[tuple[str, str | None]], Outcome]]:
    check = _Checker(report.errors)
    known_courses = {row.course_code for row in connection.execute(sa.select(courses.c.course_code))}
    first_row: dict[str, int] = {}
    parsed: list[tuple[str, dict[str, Any], list[tuple[str, str | None]]]] = []
    for row in sheet.rows:
        check.failed = False
        username = check.pattern(row, "username", _USERNAME, "username", required=True)
        name = check.text(row, "name", required=True, max_chars=200)
        email = check.pattern(row, "email", _EMAIL, "email address", required=False)
        links = _parse_courses(check, row, known_courses)
        if username is not None:
            if username in first_row:
                check.error(
                    row, "username", f"duplicate username {username} (first on row {first_row[username]})"
                )
            else:
                first_row[username] = row.number
        if not check.failed and username is not None:
            values: dict[str, Any] = {"name": name}
            if "email" in sheet.header:
                values["email"] = email
            parsed.append((username, values, links))
    stored = _existing(connection, teachers, "username", (u for u, _, _ in parsed))
    linked: set[tuple[int, str, str | None]] = {
        (r.teacher_id, r.course_code, r.section) for r in connection.execute(sa.select(course_teachers))
    }
    result = []
    for username, values, links in parsed:
        before = stored.get(username)
        outcome = _outcome(before, values)
        new_links = [
            link for link in links if before is None or (before["teacher_id"], link[0], link[1]) not in linked
        ]
        if outcome == "unchanged" and new_links:
            outcome = "updated"
        result.append((username, values, new_links, outcome))
    return result


def import_file(
    connection: Connection,
    kind: ImportKind,
    data: bytes,
    file_format: FileFormat,
    *,
    dry_run: bool,
    allowed_courses: set[str] | None = None,
) -> ImportReport:
    """Validate ``data``; unless ``dry_run`` or a row has a problem, upsert it in the caller's transaction.

    ``allowed_courses`` limits a roster import to those courses (a teacher's own); None allows all.
    """
    report = ImportReport(kind=kind, dry_run=dry_run)
    sheet = read_sheet(data, file_format, kind)
    report.errors.extend(sheet.errors)
    report.rows = len(sheet.rows)
    if any(e.row <= 1 for e in sheet.errors):  # the file or its header is unusable
        report.errors.sort(key=lambda e: (e.row, e.column or ""))
        return report
    now = datetime.now(UTC)
    writes: list[Any] = []
    if kind == "students":
        for usn, values, outcome in _import_students(connection, sheet, report):
            _count(report, outcome)
            if outcome == "created":
                writes.append(students.insert().values(usn=usn, **values, created_at=now))
            elif outcome == "updated":
                writes.append(students.update().where(students.c.usn == usn).values(**values))
    elif kind == "rosters":
        for (code, usn), values, outcome in _import_rosters(connection, sheet, report, allowed_courses):
            _count(report, outcome)
            key = (course_rosters.c.course_code == code) & (course_rosters.c.usn == usn)
            if outcome == "created":
                writes.append(
                    course_rosters.insert().values(course_code=code, usn=usn, **values, updated_at=now)
                )
            elif outcome == "updated":
                writes.append(course_rosters.update().where(key).values(**values, updated_at=now))
    else:
        for username, values, new_links, outcome in _import_teachers(connection, sheet, report):
            _count(report, outcome)
            writes.append((username, values, new_links, outcome))
    report.errors.sort(key=lambda e: (e.row, e.column or ""))
    if report.errors or dry_run:
        return report
    for write in writes:
        if kind == "teachers":
            _write_teacher(connection, *write, now=now)
        else:
            connection.execute(write)
    report.written = True
    return report


def _write_teacher(
    connection: Connection,
    username: str,
    values: dict[str, Any],
    new_links: list[tuple[str, str | None]],
    outcome: Outcome,
    *,
    now: datetime,
) -> None:
    if outcome == "created":
        connection.execute(teachers.insert().values(username=username, **values, created_at=now))
    elif outcome == "updated":
        connection.execute(teachers.update().where(teachers.c.username == username).values(**values))
    teacher_id = connection.execute(
        sa.select(teachers.c.teacher_id).where(teachers.c.username == username)
    ).scalar_one()
    for code, section in new_links:
        connection.execute(
            course_teachers.insert().values(course_code=code, teacher_id=teacher_id, section=section)
        )
