"""Registers as files a registrar accepts: CSV, XLSX and a printable HTML page.

A course register is students × sessions with one mark per cell (P present, L late, A absent,
E excused; ``C`` a cancelled session, ``NE`` not enrolled that day, ``?`` ended within the grace
with no mark yet, empty: not held yet), then the totals and the percentage under the counting
rule, then the corrections of the student's marks (who, when, old -> new, why). Sessions are
named by their room-local date, times and room; every time is the room's wall-clock time.
A student's register lists each course's sessions with the mark and the course's totals.

Text cells that a spreadsheet would run as a formula are neutralised the same way in CSV and
XLSX (a leading apostrophe, ``rules.csv_safe_cell``); XLSX cells are also stored as strings, so
nothing in a workbook is ever a formula.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cloud_functions.api.rules import csv_safe_cell, to_csv
from cloud_functions.core.marks import Cell
from cloud_functions.core.registers import (
    Correction,
    CourseRegister,
    Recorded,
    SessionInfo,
    Standing,
    StudentRegister,
)
from cloud_functions.core.timetable import room_zone

LEGEND = (
    ("P", "present (on time, or confirmed in the room)"),
    ("L", "late"),
    ("A", "absent (marked, or no mark once the session ended)"),
    ("E", "excused: left out of the percentage"),
    ("C", "session cancelled"),
    ("NE", "not enrolled in the course that day"),
    ("?", "ended within the grace, no mark yet"),
    ("", "not held yet"),
)
TOTALS_HEADER = (
    "P",
    "L",
    "A",
    "E",
    "held",
    "counted",
    "percentage",
    "minimum",
    "short",
    "can_still_miss",
)
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cell_text(cell: Cell) -> str:
    """The register's text for one cell."""
    if cell.state == "cancelled":
        return "C"
    if cell.state == "not_enrolled":
        return "NE"
    if cell.state == "pending":
        return "?"
    return cell.mark or ""


def session_label(info: SessionInfo) -> str:
    """``2026-11-24 09:00-11:00 R101``: the session's room-local date, times and room."""
    return f"{info.session_date.isoformat()} {info.start_time:%H:%M}-{info.end_time:%H:%M} {info.room_id}"


def local_text(moment: datetime | None, timezone_name: str) -> str:
    """A UTC moment as ``YYYY-MM-DD HH:MM:SS`` in the zone (empty for None)."""
    if moment is None:
        return ""
    local = moment.astimezone(room_zone(timezone_name)).replace(microsecond=0, tzinfo=None)
    return local.isoformat(sep=" ")


def _totals(standing: Standing) -> tuple[object, ...]:
    tally = standing.tally
    percentage = standing.percentage
    can_miss = standing.can_still_miss
    return (
        tally.present,
        tally.late,
        tally.absent,
        tally.excused,
        tally.held,
        tally.counted,
        "" if percentage is None else f"{percentage:.2f}",
        f"{standing.min_pct:g}",
        "yes" if standing.short else "no",
        "cannot reach" if can_miss is None else can_miss,
    )


def _zone_by_date(sessions: Sequence[SessionInfo]) -> dict[date, str]:
    zones: dict[date, str] = {}
    for info in sessions:
        zones.setdefault(info.session_date, info.timezone)
    return zones


def _correction_text(day: date, correction: Correction, timezone_name: str) -> str:
    old = correction.old_status or "no mark"
    when = local_text(correction.corrected_at, timezone_name)
    return (
        f"{day.isoformat()}: {old} -> {correction.new_status} by {correction.corrected_by} "
        f"at {when}: {correction.reason}"
    )


def _corrections_of(
    corrections: Mapping[tuple[str, date], tuple[Correction, ...]],
    key: str,
    zones: Mapping[date, str],
    fallback_zone: str,
) -> list[tuple[date, Correction, str]]:
    found = [
        (day, correction, zones.get(day, fallback_zone))
        for (who, day), items in corrections.items()
        if who == key
        for correction in items
    ]
    return sorted(found, key=lambda item: (item[0], item[1].corrected_at))


# --- a course register ---------------------------------------------------------------------------


def _course_rows(register: CourseRegister) -> tuple[list[str], list[list[object]]]:
    zones = _zone_by_date(register.sessions)
    fallback = register.sessions[0].timezone if register.sessions else "UTC"
    header = ["usn", "name", "section"]
    header += [session_label(s) for s in register.sessions]
    header += [*TOTALS_HEADER, "corrections"]
    rows: list[list[object]] = []
    for line in register.lines:
        corrections = _corrections_of(register.corrections, line.usn, zones, fallback)
        rows.append(
            [
                line.usn,
                line.name,
                line.section or "",
                *(cell_text(cell) for cell in line.cells),
                *_totals(line.standing),
                "; ".join(_correction_text(day, c, zone) for day, c, zone in corrections),
            ]
        )
    return header, rows


def course_register_csv(register: CourseRegister) -> str:
    """The course register as CSV: one line per roster student."""
    header, rows = _course_rows(register)
    return to_csv(header, rows)


def course_register_xlsx(register: CourseRegister, late_weight: float) -> bytes:
    """The course register as a workbook: Register, Sessions, Corrections and Legend sheets."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Register"
    _write(sheet, [f"{register.course_code} {register.course_title}", register.term.name], bold=True)
    header, rows = _course_rows(register)
    _write(sheet, header, bold=True)
    for row in rows:
        _write(sheet, row)
    sheet.freeze_panes = "D3"
    for index in range(4, 4 + len(register.sessions)):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = 6
        sheet[f"{letter}2"].alignment = Alignment(text_rotation=90)
    sheet.column_dimensions["B"].width = 28

    sessions = workbook.create_sheet("Sessions")
    _write(sessions, ["date", "start", "end", "room_id", "timezone", "status", "note"], bold=True)
    for info in register.sessions:
        _write(
            sessions,
            [
                info.session_date.isoformat(),
                f"{info.start_time:%H:%M}",
                f"{info.end_time:%H:%M}",
                info.room_id,
                info.timezone,
                info.status,
                info.note or "",
            ],
        )
    zones = _zone_by_date(register.sessions)
    fallback = register.sessions[0].timezone if register.sessions else "UTC"
    names = {line.usn: line.name for line in register.lines}
    _corrections_sheet(
        workbook,
        (
            (usn, names.get(usn, ""), register.course_code, day, correction, zones.get(day, fallback))
            for (usn, day), items in sorted(register.corrections.items())
            for correction in items
        ),
    )
    _legend_sheet(workbook, _rule_note(late_weight))
    return _saved(workbook)


def course_register_html(register: CourseRegister, late_weight: float) -> str:
    """The course register as a printable page (A4 landscape; header row repeated on each page)."""
    header, rows = _course_rows(register)
    session_count = len(register.sessions)
    head = "".join(
        f'<th class="{"s" if 3 <= i < 3 + session_count else ""}"><span>{_h(name)}</span></th>'
        for i, name in enumerate(header[:-1])
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{_mark_class(value) if 3 <= i < 3 + session_count else ""}">{_h(value)}</td>'
            for i, value in enumerate(row[:-1])
        )
        body.append(f"<tr>{cells}</tr>")
    corrections = [
        (line.usn, line.name, day, correction, zone)
        for line in register.lines
        for day, correction, zone in _corrections_of(
            register.corrections,
            line.usn,
            _zone_by_date(register.sessions),
            register.sessions[0].timezone if register.sessions else "UTC",
        )
    ]
    title = f"Attendance register: {register.course_code} {register.course_title}, {register.term.name}"
    facts = (
        f"Term {register.term.start_date.isoformat()} to {register.term.end_date.isoformat()}. "
        f"Sessions held {register.held}, still to come {register.remaining}. "
        f"Minimum {register.min_pct:g}%. Late counts {late_weight:g} of a session; excused sessions "
        "are left out. Times are the room's local times."
    )
    return _page(
        title,
        facts,
        f'<table class="register"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>',
        _corrections_table(
            [(usn, name, register.course_code, day, c, zone) for usn, name, day, c, zone in corrections]
        ),
    )


# --- a student's register across courses -------------------------------------------------------

STUDENT_HEADER = (
    "usn",
    "name",
    "course_code",
    "course_title",
    "session_date",
    "start",
    "end",
    "room_id",
    "timezone",
    "session_status",
    "mark",
    "status",
    "source",
    "first_seen_local",
    "confirmed_local",
    "corrected_by",
    "corrected_at_local",
    "correction_reason",
    "course_percentage",
    "course_minimum",
    "course_short",
)


def _student_rows(register: StudentRegister) -> list[list[object]]:
    rows: list[list[object]] = []
    for course in register.courses:
        percentage = course.standing.percentage
        for info, cell in zip(course.sessions, course.cells, strict=True):
            recorded: Recorded | None = register.recorded.get((course.course_code, info.session_date))
            corrections = register.corrections.get((course.course_code, info.session_date), ())
            latest = corrections[-1] if corrections else None
            rows.append(
                [
                    register.usn,
                    register.name,
                    course.course_code,
                    course.course_title,
                    info.session_date.isoformat(),
                    f"{info.start_time:%H:%M}",
                    f"{info.end_time:%H:%M}",
                    info.room_id,
                    info.timezone,
                    info.status,
                    cell_text(cell),
                    recorded.status if recorded else ("absent" if cell.mark == "A" else ""),
                    recorded.source if recorded else ("no mark" if cell.state == "counted" else ""),
                    local_text(recorded.first_seen_at if recorded else None, info.timezone),
                    local_text(recorded.confirmed_at if recorded else None, info.timezone),
                    latest.corrected_by if latest else "",
                    local_text(latest.corrected_at if latest else None, info.timezone),
                    latest.reason if latest else "",
                    "" if percentage is None else f"{percentage:.2f}",
                    f"{course.min_pct:g}",
                    "yes" if course.standing.short else "no",
                ]
            )
    return rows


def _student_summary(register: StudentRegister) -> tuple[list[str], list[list[object]]]:
    header = ["course_code", "course_title", *TOTALS_HEADER]
    rows = [[c.course_code, c.course_title, *_totals(c.standing)] for c in register.courses]
    return header, rows


def student_register_csv(register: StudentRegister) -> str:
    """The student's register as CSV: one line per session of each course, with the course's totals."""
    return to_csv(STUDENT_HEADER, _student_rows(register))


def student_register_xlsx(register: StudentRegister, late_weight: float) -> bytes:
    """The student's register as a workbook: Summary (per course), Sessions, Corrections, Legend."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Summary"
    _write(sheet, [f"{register.usn} {register.name}", register.term.name], bold=True)
    header, rows = _student_summary(register)
    _write(sheet, header, bold=True)
    for row in rows:
        _write(sheet, row)
    sessions = workbook.create_sheet("Sessions")
    _write(sessions, list(STUDENT_HEADER), bold=True)
    for row in _student_rows(register):
        _write(sessions, row)
    titles = {c.course_code: c.course_title for c in register.courses}
    zones = {(c.course_code, s.session_date): s.timezone for c in register.courses for s in c.sessions}
    _corrections_sheet(
        workbook,
        (
            (register.usn, register.name, code, day, correction, zones.get((code, day), "UTC"))
            for (code, day), items in sorted(register.corrections.items())
            if code in titles
            for correction in items
        ),
    )
    _legend_sheet(workbook, _rule_note(late_weight))
    return _saved(workbook)


def student_register_html(register: StudentRegister, late_weight: float) -> str:
    """The student's register as a printable page: per course totals, then each course's marks."""
    header, rows = _student_summary(register)
    summary = _table(header, rows)
    sections = []
    for course in register.courses:
        marks = "".join(
            f'<td class="{_mark_class(cell_text(cell))}">{_h(cell_text(cell))}</td>' for cell in course.cells
        )
        dates = "".join(
            f'<th class="s"><span>{_h(session_label(info))}</span></th>' for info in course.sessions
        )
        sections.append(
            f"<h2>{_h(course.course_code)} {_h(course.course_title)}</h2>"
            f'<table class="register"><thead><tr>{dates}</tr></thead><tbody><tr>{marks}</tr></tbody></table>'
        )
    zones = {(c.course_code, s.session_date): s.timezone for c in register.courses for s in c.sessions}
    corrections = [
        (register.usn, register.name, code, day, correction, zones.get((code, day), "UTC"))
        for (code, day), items in sorted(register.corrections.items())
        for correction in items
    ]
    title = f"Attendance record: {register.usn} {register.name}, {register.term.name}"
    facts = (
        f"Term {register.term.start_date.isoformat()} to {register.term.end_date.isoformat()}. "
        f"Late counts {late_weight:g} of a session; excused sessions are left out. "
        "Times are the room's local times."
    )
    return _page(title, facts, summary + "".join(sections), _corrections_table(corrections))


# --- the formats -------------------------------------------------------------------------------


def xlsx_safe_value(value: object) -> object:
    """A value for a worksheet cell: numbers pass, text is neutralised as in CSV."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) or value is None:
        return value
    return csv_safe_cell(value)


def _write(sheet: Any, values: Sequence[object], *, bold: bool = False) -> None:
    row = [xlsx_safe_value(value) for value in values]
    sheet.append(row)
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            # Stored as text whatever it starts with: openpyxl would otherwise write "=..." as a formula.
            cell.data_type = "s"
        if bold:
            cell.font = Font(bold=True)


def _corrections_sheet(
    workbook: Workbook, corrections: Iterable[tuple[str, str, str, date, Correction, str]]
) -> None:
    sheet = workbook.create_sheet("Corrections")
    _write(
        sheet,
        [
            "usn",
            "name",
            "course_code",
            "class_date",
            "old",
            "new",
            "corrected_by",
            "corrected_at_local",
            "reason",
        ],
        bold=True,
    )
    for usn, name, code, day, correction, zone in corrections:
        _write(
            sheet,
            [
                usn,
                name,
                code,
                day.isoformat(),
                correction.old_status or "no mark",
                correction.new_status,
                correction.corrected_by,
                local_text(correction.corrected_at, zone),
                correction.reason,
            ],
        )


def _rule_note(late_weight: float) -> str:
    return (
        f"Late counts {late_weight:g} of a session; excused sessions are left out of the percentage; "
        "times are the room's local times."
    )


def _legend_sheet(workbook: Workbook, note: str) -> None:
    sheet = workbook.create_sheet("Legend")
    _write(sheet, ["mark", "meaning"], bold=True)
    for mark, meaning in LEGEND:
        _write(sheet, [mark or "(empty)", meaning])
    _write(sheet, ["", note])
    grey = PatternFill("solid", fgColor="DDDDDD")
    for cell in sheet[1]:
        cell.fill = grey


def _saved(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _h(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _mark_class(text: object) -> str:
    return {"P": "p", "L": "l", "A": "a", "E": "e", "C": "c", "NE": "ne", "?": "q"}.get(str(text), "")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_h(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(f"<td>{_h(value)}</td>" for value in row) + "</tr>" for row in rows)
    return f'<table class="totals"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _corrections_table(rows: Sequence[tuple[str, str, str, date, Correction, str]]) -> str:
    if not rows:
        return "<h2>Corrections</h2><p>No mark was corrected.</p>"
    return "<h2>Corrections</h2>" + _table(
        ["USN", "Name", "Course", "Class date", "Old", "New", "Corrected by", "At (room time)", "Reason"],
        [
            [
                usn,
                name,
                code,
                day.isoformat(),
                c.old_status or "no mark",
                c.new_status,
                c.corrected_by,
                local_text(c.corrected_at, zone),
                c.reason,
            ]
            for usn, name, code, day, c, zone in rows
        ],
    )


_STYLE = """
body { font: 11px/1.3 system-ui, sans-serif; margin: 16px; color: #111; }
h1 { font-size: 16px; margin: 0 0 4px; } h2 { font-size: 13px; margin: 14px 0 4px; }
p.facts { margin: 0 0 8px; color: #333; }
table { border-collapse: collapse; margin-bottom: 8px; }
th, td { border: 1px solid #999; padding: 2px 4px; text-align: center; }
td:nth-child(2), th:nth-child(2) { text-align: left; white-space: nowrap; }
table.register th.s { height: 110px; vertical-align: bottom; }
table.register th.s span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
td.a { background: #f6d5d5; font-weight: bold; } td.l { background: #fbeccb; }
td.e { background: #dde8f6; } td.c, td.ne { color: #888; } td.q { color: #a60; }
dl.legend { display: flex; flex-wrap: wrap; gap: 2px 14px; } dl.legend dt { font-weight: bold; }
dl.legend dd { margin: 0; }
footer { margin-top: 16px; display: flex; justify-content: space-between; }
@media print {
  @page { size: A4 landscape; margin: 10mm; }
  body { margin: 0; font-size: 9px; }
  thead { display: table-header-group; }
  tr { page-break-inside: avoid; }
  td.a, td.l, td.e { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _page(title: str, facts: str, main: str, corrections: str) -> str:
    legend = "".join(f"<dt>{_h(mark or '(empty)')}</dt><dd>{_h(meaning)}</dd>" for mark, meaning in LEGEND)
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_h(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f'<h1>{_h(title)}</h1><p class="facts">{_h(facts)}</p>{main}'
        f'<dl class="legend">{legend}</dl>{corrections}'
        "<footer><span>Teacher's signature: ____________________</span>"
        "<span>Registrar's signature: ____________________</span></footer>"
        "</body></html>\n"
    )
