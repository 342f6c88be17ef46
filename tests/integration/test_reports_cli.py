"""``python -m infra.reports`` on real databases: a course's minimum, the shortage list, register files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from infra.reports import main
from tests.integration.test_api_helpers import audit_entries
from tests.integration.test_api_reports import ALAN, GRACE, NOW, term_of_cs501


@pytest.fixture
def term(engine: Engine) -> int:
    return term_of_cs501(engine)


def test_minimum_is_shown_set_audited_and_cleared(
    engine: Engine, database_url: str, term: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", database_url, "minimum", "CS501"]) == 0
    assert capsys.readouterr().out == "CS501: own minimum none (the setting); in force 75%\n"
    assert main(["--database-url", database_url, "minimum", "CS501", "60"]) == 0
    assert capsys.readouterr().out == "CS501: own minimum 60%; in force 60%\n"
    (entry,) = audit_entries(engine, "set_min_attendance")
    assert entry["actor"].startswith("cli:") and json.loads(entry["detail"])["after"] == {
        "min_attendance_pct": 60.0
    }
    assert main(["--database-url", database_url, "minimum", "CS501", "--clear"]) == 0
    assert "in force 75%" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["minimum", "CS501", "101"], 1),
        (["minimum", "NOPE", "50"], 1),
        (["shortage", "99", "CS501"], 1),
        (["student", "1", "1MS21CS999", "-o", "x.csv"], 1),
        (["register", "1", "CS501", "-o", "x.pdf"], 2),
    ],
)
def test_bad_names_and_values_exit_with_a_message(
    database_url: str, term: int, argv: list[str], status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", database_url, *argv], now=NOW) == status
    assert capsys.readouterr().err.startswith("error: ")


def test_shortage_and_register_files(
    database_url: str, term: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--database-url", database_url, "shortage", str(term), "CS501"], now=NOW) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "4 sessions held, 2 to come; 2 under the minimum" in lines[0]
    assert lines[1].split()[:2] == [ALAN, "Alan"] and lines[1].endswith("cannot reach the minimum")
    assert lines[2].split()[0] == GRACE and lines[2].endswith("may miss 0 more")
    for suffix in (".csv", ".xlsx", ".html"):
        path = tmp_path / f"cs501{suffix}"
        assert (
            main(["--database-url", database_url, "register", str(term), "CS501", "-o", str(path)], now=NOW)
            == 0
        )
    rows = list(csv.DictReader(io.StringIO((tmp_path / "cs501.csv").read_text(encoding="utf-8"))))
    assert [r["usn"] for r in rows] == ["1MS21CS000", ALAN, GRACE]
    assert load_workbook(tmp_path / "cs501.xlsx").sheetnames[0] == "Register"
    assert "@media print" in (tmp_path / "cs501.html").read_text(encoding="utf-8")
    student = tmp_path / "alan.xlsx"
    assert (
        main(
            ["--database-url", database_url, "student", str(term), ALAN.lower(), "-o", str(student)], now=NOW
        )
        == 0
    )
    assert [row[0] for row in load_workbook(student)["Summary"].iter_rows(min_row=3, values_only=True)] == [
        "CS501",
        "CS502",
    ]
