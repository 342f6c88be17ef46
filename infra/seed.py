"""Seed data for the demo, the benchmarks and the tests: rooms, courses, a timetable, and
students built from the LFW photos in ``../shared/data`` (real faces, public data).

Every student seeded here has consent recorded, as enrollment requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import (
    course_rosters,
    course_teachers,
    courses,
    rooms,
    students,
    teachers,
    term_days_off,
    terms,
    timetable,
)
from cloud_functions.core.db.sessions import generate_term_sessions


@dataclass(frozen=True)
class Person:
    """A student made from one LFW identity: a USN, a name and their photos (sorted)."""

    usn: str
    name: str
    photos: tuple[Path, ...]


@dataclass(frozen=True)
class Slot:
    """A weekly timetable slot (room-local times)."""

    course_code: str
    room_id: str
    weekday: int
    start: time
    end: time


DEFAULT_ROOMS = (
    {"room_id": "R101", "name": "Room 101", "cam1_id": "R101-door", "cam2_id": "R101-room"},
    {"room_id": "R102", "name": "Room 102", "cam1_id": "R102-door", "cam2_id": "R102-room"},
)
DEFAULT_COURSES = (
    {"course_code": "CS501", "title": "Computer Vision", "teacher_email": "cv.teacher@example.edu"},
    {"course_code": "CS502", "title": "Cloud Systems", "teacher_email": "cloud.teacher@example.edu"},
)


def lfw_people(lfw_dir: Path) -> list[Person]:
    """One person per ``known/<Name>/`` folder, USNs ``1MS21CS000``... in name order."""
    folders = sorted(p for p in (lfw_dir / "known").iterdir() if p.is_dir())
    return [
        Person(
            usn=f"1MS21CS{i:03d}",
            name=folder.name.replace("_", " "),
            photos=tuple(sorted(folder.glob("*.jpg"))),
        )
        for i, folder in enumerate(folders)
    ]


def seed_campus(engine: Engine, slots: Sequence[Slot], *, timezone: str = "Asia/Kolkata") -> None:
    """Insert the default rooms (in ``timezone``) and courses, and ``slots`` as the timetable."""
    with engine.begin() as connection:
        connection.execute(rooms.insert(), [{**room, "timezone": timezone} for room in DEFAULT_ROOMS])
        connection.execute(courses.insert(), list(DEFAULT_COURSES))
        if slots:
            connection.execute(
                timetable.insert(),
                [
                    {
                        "course_code": s.course_code,
                        "room_id": s.room_id,
                        "weekday": s.weekday,
                        "start_time": s.start,
                        "end_time": s.end,
                    }
                    for s in slots
                ],
            )


def seed_students(engine: Engine, people: Sequence[Person], *, consent_by: str = "registrar") -> None:
    """Insert ``people`` as students with consent recorded now."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [
                {
                    "usn": p.usn,
                    "name": p.name,
                    "email": f"{p.usn.lower()}@example.edu",
                    "section": "A",
                    "consent_given_at": now,
                    "consent_given_by": consent_by,
                    "created_at": now,
                }
                for p in people
            ],
        )


def seed_teachers(engine: Engine, teaching: Sequence[tuple[str, str]]) -> None:
    """A teacher per distinct username of ``(username, course_code)`` pairs, linked to those courses."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for username in dict.fromkeys(username for username, _ in teaching):
            connection.execute(teachers.insert().values(username=username, name=username, created_at=now))
        ids = {u: i for u, i in connection.execute(sa.select(teachers.c.username, teachers.c.teacher_id))}
        connection.execute(
            course_teachers.insert(),
            [{"course_code": code, "teacher_id": ids[username]} for username, code in teaching],
        )


def seed_roster(engine: Engine, course_code: str, usns: Sequence[str], *, section: str | None = "A") -> None:
    """Enrol ``usns`` in ``course_code`` (no dates: for the whole course)."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            course_rosters.insert(),
            [{"course_code": course_code, "usn": usn, "section": section, "updated_at": now} for usn in usns],
        )


def seed_term(
    engine: Engine, name: str, start: date, end: date, days_off: Mapping[date, str] | None = None
) -> int:
    """A term with its days off, and its sessions generated from the timetable; returns its id."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        inserted = connection.execute(
            terms.insert().values(name=name, start_date=start, end_date=end, created_at=now)
        ).inserted_primary_key
        assert inserted is not None
        term_id = int(inserted[0])
        if days_off:
            connection.execute(
                term_days_off.insert(),
                [{"term_id": term_id, "day": day, "reason": reason} for day, reason in days_off.items()],
            )
        # Seeding lays out the whole term, past included: every session counts as changeable.
        generate_term_sessions(connection, term_id, datetime(1970, 1, 1, tzinfo=UTC))
    return term_id
