"""``python -m infra.calendar``: the API's calendar operations from the command line, on real databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import attendance, audit_log, class_sessions, terms
from infra import calendar
from infra.seed import Person, Slot, seed_campus, seed_roster, seed_students

# Monday 2026-11-23 08:00 in Asia/Kolkata.
NOW = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)


@pytest.fixture
def campus(engine: Engine) -> Engine:
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    seed_students(engine, [Person("1MS21CS001", "Ada", ()), Person("1MS21CS002", "Alan", ())])
    seed_roster(engine, "CS501", ["1MS21CS001", "1MS21CS002"])
    return engine


def _run(database_url: str, *argv: str, now: datetime = NOW) -> int:
    return calendar.main(["--database-url", database_url, *argv], now=now)


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_term_is_added_its_sessions_listed_cancelled_and_swept(
    campus: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN an admin adds a two-week term with a day off on the second Monday
    assert (
        _run(
            database_url,
            "terms",
            "add",
            "Odd 2026",
            "2026-11-23",
            "2026-12-06",
            "--day-off",
            "2026-11-30=Exam",
        )
        == 0
    )
    term = json.loads(capsys.readouterr().out)
    # THEN one session is scheduled, the audit log names the CLI user
    assert term["sessions"] == {"scheduled": 1, "cancelled": 0}
    with campus.connect() as connection:
        actors = (
            connection.execute(sa.select(audit_log.c.actor).where(audit_log.c.entity == "term"))
            .scalars()
            .all()
        )
    assert all(a.startswith("cli:") for a in actors) and actors
    # WHEN the sessions are listed
    assert _run(database_url, "sessions", "list", "--course", "CS501") == 0
    (session,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (session["session_date"], session["status"]) == ("2026-11-23", "scheduled")
    # AND the sweep runs after the class: both students absent
    assert _run(database_url, "sweep", now=datetime(2026, 11, 23, 5, 0, tzinfo=UTC)) == 0
    assert json.loads(capsys.readouterr().out)["absences_written"] == 2
    # WHEN the class is cancelled afterwards THEN the sweep's absences are withdrawn
    assert _run(database_url, "sessions", "cancel", str(session["session_id"]), "teacher unwell") == 0
    assert _count(campus, attendance) == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["terms", "add", "Bad", "2026-12-06", "2026-11-23"],  # end before start
        ["terms", "add", "Bad", "2026-11-23", "2026-12-06", "--day-off", "2027-01-01=New year"],
        ["terms", "add", "Bad", "2026-11-31", "2026-12-06"],  # no such date
        ["terms", "show", "99"],
        ["sessions", "extra", "NOPE", "R101", "2026-11-24", "09:00", "10:00", "x"],
    ],
)
def test_bad_commands_are_refused_with_status_1_and_write_nothing(
    campus: Engine, database_url: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(database_url, *argv) == 1
    assert "refused" in capsys.readouterr().err
    assert _count(campus, terms) == 0 and _count(campus, class_sessions) == 0


def test_no_database_is_status_2(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert calendar.main(["--database-url", "mysql+pymysql://nobody@127.0.0.1:1/none", "terms", "list"]) == 2
    assert "error" in capsys.readouterr().err
