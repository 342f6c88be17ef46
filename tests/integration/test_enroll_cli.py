"""``python -m infra.enroll --folder DIR`` on real photos and real databases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import dispose_engines
from cloud_functions.core.db.schema import enrollments, faceprints, students
from infra.enroll import main
from infra.seed import lfw_people, seed_students
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset"
PEOPLE = lfw_people(LFW)[:2]


@pytest.fixture(autouse=True)
def _close_cli_engines() -> Iterator[None]:
    yield
    dispose_engines()


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """The download command's layout, <dest>/<usn>/<pose>.<ext>: JPEG and PNG, one bad file, one bad name."""
    folder = tmp_path / "enrollment_photos"
    first, second = PEOPLE
    (folder / first.usn).mkdir(parents=True)
    (folder / second.usn).mkdir()
    shutil.copy(first.photos[1], folder / first.usn / "front.jpg")
    shutil.copy(first.photos[2], folder / first.usn / "left.jpg")
    cv2.imwrite(str(folder / second.usn / "front.png"), cv2.imread(str(second.photos[1])))
    (folder / second.usn / "left.jpg").write_bytes(b"<html>404 Not Found</html>")
    shutil.copy(second.photos[2], folder / second.usn / "bad!name.jpg")
    (folder / second.usn / "notes.txt").write_text("not a photo, ignored")
    return folder


def table(engine: Engine, t: sa.Table) -> list[sa.Row]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(t).order_by(t.c.usn)))


def test_folder_enrollment_reports_every_photo_and_stores_outcomes(
    engine: Engine, database_url: str, photo_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two consenting students and their photo folder
    seed_students(engine, PEOPLE)
    first, second = PEOPLE
    # WHEN the folder is enrolled
    status = main(["--folder", str(photo_folder), "--database-url", database_url, "--no-progress"])
    # THEN the report has a line per photo, and exits 1 because some photos were rejected
    report = capsys.readouterr().out
    assert status == 1
    assert "5 photos: 3 accepted, 2 rejected" in report
    assert "undecodable: not an image" in report
    assert "invalid_name" in report
    # AND the database holds the three faceprints and each stored photo's outcome
    assert sorted((f.usn, f.pose) for f in table(engine, faceprints)) == [
        (first.usn, "front"),
        (first.usn, "left"),
        (second.usn, "front"),
    ]
    assert sorted((r.usn, r.pose, r.status) for r in table(engine, enrollments)) == [
        (first.usn, "front", "accepted"),
        (first.usn, "left", "accepted"),
        (second.usn, "front", "accepted"),
        (second.usn, "left", "rejected"),
    ]


def test_consent_recorded_by_the_operator_creates_students_and_allows_enrollment(
    engine: Engine, database_url: str, photo_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no student rows yet WHEN enrolling with consent recorded by the registrar
    main(
        [
            "--folder",
            str(photo_folder),
            "--database-url",
            database_url,
            "--no-progress",
            "--consent-recorded-by",
            "registrar",
        ]
    )
    # THEN both students exist with that consent, and their good photos are enrolled
    assert [(s.usn, s.consent_given_by) for s in table(engine, students)] == [
        (p.usn, "registrar") for p in PEOPLE
    ]
    assert len(table(engine, faceprints)) == 3
    assert "consent recorded by registrar for 2 students" in capsys.readouterr().out


def test_without_consent_nothing_is_enrolled(
    engine: Engine, database_url: str, photo_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the students exist but consent was never recorded
    with engine.begin() as connection:
        connection.execute(students.insert(), [{"usn": p.usn, "name": p.name} for p in PEOPLE])
    # WHEN the folder is enrolled
    status = main(["--folder", str(photo_folder), "--database-url", database_url, "--no-progress"])
    # THEN no faceprint is stored and every photo says why
    assert status == 1
    assert table(engine, faceprints) == []
    assert {r.reason.split(":")[0] for r in table(engine, enrollments)} == {"no_consent"}
    assert "0 accepted" in capsys.readouterr().out


def test_unreachable_database_is_a_clear_error_not_a_traceback(
    photo_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a database URL nobody listens on WHEN the folder is enrolled
    status = main(
        [
            "--folder",
            str(photo_folder),
            "--database-url",
            "mysql+pymysql://root@127.0.0.1:9/x",
            "--no-progress",
        ]
    )
    # THEN the command exits 2 and says the database is unavailable
    assert status == 2
    assert "database unavailable" in capsys.readouterr().err
