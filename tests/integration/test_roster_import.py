"""Importing students, rosters and teachers on real databases: validation, one transaction,
idempotent upserts, dry runs, and the CLI."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.engine import Engine

from cloud_functions.core.db.rosters import courses_taught_by, roster_on, teachers_of
from cloud_functions.core.db.schema import course_rosters, students, teachers
from cloud_functions.core.roster_import import ImportReport, import_file
from infra import roster as roster_cli
from tests.integration.test_api_helpers import seed

STUDENTS_CSV = b"usn,name,email,section\n1MS21CS100,Kiran Rao,kiran@example.edu,A\n1ms21cs101,Meera Das,,B\n"


def _run(engine: Engine, kind: str, data: bytes, fmt: str = "csv", **kwargs: object) -> ImportReport:
    with engine.begin() as connection:
        return import_file(connection, kind, data, fmt, dry_run=bool(kwargs.pop("dry_run", False)), **kwargs)  # type: ignore[arg-type]


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_students_import_is_an_idempotent_upsert(engine: Engine) -> None:
    seed(engine)
    before = _count(engine, students)
    # WHEN the file is imported
    first = _run(engine, "students", STUDENTS_CSV)
    # THEN both rows are created, the USN in canonical case
    assert (first.created, first.updated, first.unchanged, first.written) == (2, 0, 0, True)
    assert _count(engine, students) == before + 2
    # WHEN it is imported again THEN nothing changes
    again = _run(engine, "students", STUDENTS_CSV)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    # WHEN a name changes THEN that row is updated
    changed = _run(engine, "students", STUDENTS_CSV.replace(b"Meera Das", b"Meera Dasgupta"))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    with engine.connect() as connection:
        name = connection.execute(
            sa.select(students.c.name).where(students.c.usn == "1MS21CS101")
        ).scalar_one()
    assert name == "Meera Dasgupta"


def test_a_dry_run_counts_and_writes_nothing(engine: Engine) -> None:
    seed(engine)
    before = _count(engine, students)
    report = _run(engine, "students", STUDENTS_CSV, dry_run=True)
    assert (report.created, report.written, report.errors) == (2, False, [])
    assert _count(engine, students) == before


@pytest.mark.parametrize(
    ("kind", "data", "row", "column", "reason_part"),
    [
        ("students", b"usn,name\n1MS21CS100,A\n1ms21cs100,B\n", 3, "usn", "duplicate USN 1MS21CS100"),
        ("students", b'usn,name\n1MS21CS100,=HYPERLINK("x")\n', 2, "name", "formula"),
        ("students", b"usn,name\n1MS21CS100,Jos\xe9\n", 2, None, "not UTF-8"),
        ("students", b"usn,name,phone\n1MS21CS100,A,1\n", 1, "phone", "unknown column"),
        ("students", b"usn\n1MS21CS100\n", 1, "name", "required column missing"),
        ("students", b"usn,name\n1MS21CS100,\n", 2, "name", "required"),
        ("students", b"usn,name\nno spaces allowed,A\n", 2, "usn", "not a valid USN"),
        ("rosters", b"usn,course_code\n1MS21CS000,CS999\n", 2, "course_code", "unknown course CS999"),
        ("rosters", b"usn,course_code\n1MS21CS999,CS501\n", 2, "usn", "no student with USN"),
        (
            "rosters",
            b"usn,course_code,valid_from\n1MS21CS000,CS501,24/11/2026\n",
            2,
            "valid_from",
            "YYYY-MM-DD",
        ),
        (
            "rosters",
            b"usn,course_code,valid_from\n1MS21CS000,CS501,2026-02-30\n",
            2,
            "valid_from",
            "no such date",
        ),
        (
            "rosters",
            b"usn,course_code,valid_from,valid_to\n1MS21CS000,CS501,2026-12-01,2026-11-01\n",
            2,
            "valid_to",
            "before valid_from",
        ),
        ("rosters", b"usn,course_code\n1MS21CS000,CS501\n1MS21CS000,CS501\n", 3, "usn", "twice"),
        ("teachers", b"username,name,courses\ntom,Tom,CS501;CS777\n", 2, "courses", "unknown course CS777"),
        ("teachers", b"username,name\ntom,Tom\ntom,Tim\n", 3, "username", "duplicate username"),
    ],
)
def test_bad_rows_are_reported_and_nothing_is_written(
    engine: Engine, kind: str, data: bytes, row: int, column: str | None, reason_part: str
) -> None:
    # GIVEN a file with one good row before the bad one (where the case has a good row)
    seed(engine)
    counts = {t.name: _count(engine, t) for t in (students, course_rosters, teachers)}
    report = _run(engine, kind, data)
    # THEN the problem names its row, column and reason, and nothing at all was written
    assert any(e.row == row and e.column == column and reason_part in e.reason for e in report.errors), (
        report.errors
    )
    assert not report.written
    assert {t.name: _count(engine, t) for t in (students, course_rosters, teachers)} == counts


def test_one_bad_row_keeps_the_good_rows_out_too(engine: Engine) -> None:
    seed(engine)
    report = _run(engine, "rosters", b"usn,course_code\n1MS21CS000,CS501\n1MS21CS001,CS999\n")
    assert report.created == 1 and not report.written
    assert _count(engine, course_rosters) == 0


def test_a_teacher_imports_rosters_only_for_their_courses(engine: Engine) -> None:
    seed(engine)
    report = _run(
        engine, "rosters", b"usn,course_code\n1MS21CS000,CS501\n1MS21CS000,CS502\n", allowed_courses={"CS501"}
    )
    assert [(e.row, e.column) for e in report.errors] == [(3, "course_code")]
    assert "you do not teach CS502" in report.errors[0].reason
    assert _count(engine, course_rosters) == 0


def test_roster_dates_decide_who_is_enrolled_on_a_day(engine: Engine) -> None:
    # GIVEN a late joiner, a student who dropped, and one enrolled all term, in section A or B
    seed(engine)
    data = (
        b"usn,course_code,section,valid_from,valid_to\n"
        b"1MS21CS000,CS501,A,,\n"
        b"1MS21CS001,CS501,B,2026-11-20,\n"
        b"1MS21CS002,CS501,A,,2026-11-10\n"
    )
    assert _run(engine, "rosters", data).written
    with engine.connect() as connection:
        assert roster_on(connection, "CS501", date(2026, 11, 5)) == ["1MS21CS000", "1MS21CS002"]
        assert roster_on(connection, "CS501", date(2026, 11, 24)) == ["1MS21CS000", "1MS21CS001"]
        assert roster_on(connection, "CS501", date(2026, 11, 24), section="B") == ["1MS21CS001"]
        assert roster_on(connection, "CS502", date(2026, 11, 24)) == []
    # AND re-importing with a changed date updates that one row
    report = _run(engine, "rosters", data.replace(b"2026-11-10", b"2026-11-12"))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)


def test_teachers_import_links_courses_idempotently(engine: Engine) -> None:
    seed(engine)
    data = b"username,name,email,courses\nmaya,Maya Iyer,maya@example.edu,CS501;CS502/B\nravi,Ravi K,,CS502\n"
    first = _run(engine, "teachers", data)
    assert (first.created, first.written) == (2, True)
    again = _run(engine, "teachers", data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with engine.connect() as connection:
        assert courses_taught_by(connection, "maya") == {"CS501", "CS502"}
        assert courses_taught_by(connection, "ravi") == {"CS502"}
        assert courses_taught_by(connection, "nobody") == set()
        assert teachers_of(connection, "CS502") == ["Cleo Teacher", "maya", "ravi"]


def test_xlsx_imports_like_csv_and_refuses_formula_cells(engine: Engine) -> None:
    seed(engine)
    good = _xlsx(
        [["USN", "Name", "Email"], ["1MS21CS100", "Kiran Rao", "kiran@example.edu"], [None, None, None]]
    )
    report = _run(engine, "students", good, "xlsx")
    assert (report.rows, report.created, report.written) == (1, 1, True)
    formula = _xlsx([["usn", "name"], ["1MS21CS101", '=CONCAT("a","b")']])
    bad = _run(engine, "students", formula, "xlsx")
    assert [(e.row, e.column) for e in bad.errors] == [(2, "name")] and not bad.written
    garbage = _run(engine, "students", b"not a zip", "xlsx")
    assert garbage.errors[0].row == 0 and "XLSX" in garbage.errors[0].reason


def test_xlsx_dates_are_read_as_dates(engine: Engine) -> None:
    seed(engine)
    data = _xlsx([["usn", "course_code", "valid_from"], ["1MS21CS000", "CS501", date(2026, 11, 20)]])
    assert _run(engine, "rosters", data, "xlsx").written
    with engine.connect() as connection:
        assert roster_on(connection, "CS501", date(2026, 11, 19)) == []
        assert roster_on(connection, "CS501", date(2026, 11, 20)) == ["1MS21CS000"]


def test_cli_previews_imports_and_reports_problems(
    engine: Engine, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)
    path = tmp_path / "students.csv"
    path.write_bytes(STUDENTS_CSV)
    assert roster_cli.main(["students", str(path), "--dry-run", "--database-url", database_url]) == 0
    assert "2 would be created" in capsys.readouterr().out
    assert roster_cli.main(["students", str(path), "--database-url", database_url]) == 0
    assert "written" in capsys.readouterr().out
    bad = tmp_path / "rosters.csv"
    bad.write_bytes(b"usn,course_code\n1MS21CS100,CS999\n")
    assert roster_cli.main(["rosters", str(bad), "--database-url", database_url]) == 1
    out = capsys.readouterr().out
    assert "row 2, column course_code: unknown course CS999" in out and "nothing written" in out
    assert roster_cli.main(["rosters", str(tmp_path / "x.txt"), "--database-url", database_url]) == 2
