"""Seed data for the demo, the benchmarks and the tests: rooms, courses, a timetable, and
students built from the LFW photos in ``../shared/data`` (real faces, public data).

Every student seeded here has consent recorded, as enrollment requires.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import (
    attendance,
    attendance_corrections,
    class_sessions,
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


# --- a realistic term for the demo: several courses, rosters of 30-60, weeks of past classes ------

TERM_ROOMS = (
    {"room_id": "R103", "name": "Room 103", "cam1_id": None, "cam2_id": None},
    {"room_id": "R104", "name": "Room 104", "cam1_id": None, "cam2_id": None},
)
TERM_COURSES = (
    {"course_code": "CS503", "title": "Machine Learning", "teacher_email": "ml.teacher@example.edu"},
    {"course_code": "CS504", "title": "Database Systems", "teacher_email": "db.teacher@example.edu"},
)
TERM_TEACHERS = (("t.rao", "CS501"), ("t.rao", "CS503"), ("m.iyer", "CS502"), ("m.iyer", "CS504"))
_FIRST_NAMES = [
    "Aarav",
    "Aditi",
    "Akash",
    "Ananya",
    "Arjun",
    "Bhavna",
    "Chetan",
    "Deepa",
    "Dev",
    "Divya",
    "Farhan",
    "Gauri",
    "Harsh",
    "Isha",
    "Jatin",
    "Kavya",
    "Kiran",
    "Lakshmi",
    "Manish",
    "Meera",
    "Nikhil",
    "Nisha",
    "Omkar",
    "Pooja",
    "Pranav",
    "Priya",
    "Rahul",
    "Riya",
    "Rohan",
    "Sahana",
    "Sameer",
    "Sanjana",
    "Shreya",
    "Siddharth",
    "Sneha",
    "Tanvi",
    "Tarun",
    "Uma",
    "Varun",
    "Vidya",
    "Yash",
    "Zoya",
]
_LAST_NAMES = [
    "Acharya",
    "Bhat",
    "Chopra",
    "Desai",
    "Gowda",
    "Hegde",
    "Iyer",
    "Joshi",
    "Kamath",
    "Kulkarni",
    "Menon",
    "Nair",
    "Pai",
    "Patil",
    "Rao",
    "Reddy",
    "Shetty",
    "Sharma",
    "Srinivasan",
    "Verma",
]


@dataclass(frozen=True)
class TermSeed:
    """What :func:`seed_realistic_term` laid out."""

    term_id: int
    rosters: dict[str, list[str]]
    sessions_held: int
    marks: dict[str, int]


def named_students(count: int, *, first_usn: int = 101) -> list[Person]:
    """Students with plausible names and no photos (USNs 1MS21CS101 ...)."""
    people = []
    for i in range(count):
        first = _FIRST_NAMES[(i * 7) % len(_FIRST_NAMES)]
        last = _LAST_NAMES[(i * 3 + i // len(_FIRST_NAMES)) % len(_LAST_NAMES)]
        people.append(Person(f"1MS21CS{first_usn + i:03d}", f"{first} {last}", ()))
    return people


def _weekdays_besides(taken: int, count: int, offset: int) -> list[int]:
    """``count`` weekdays (Monday-Friday where possible) other than ``taken``."""
    days = [d for d in range(5) if d != taken]
    return sorted({days[(offset + i * 2) % len(days)] for i in range(count)})


def seed_realistic_term(
    engine: Engine,
    *,
    today: date,
    timezone: str,
    live: Sequence[Slot],
    photographed: Sequence[Person],
    weeks_past: int = 6,
    weeks_ahead: int = 4,
    seed: int = 11,
) -> TermSeed:
    """A term running for ``weeks_past`` weeks before ``today``: four courses with rosters of 30-60
    (the ``photographed`` students, whom the demo enrolls, and named students without photos), a
    weekly timetable around the ``live`` slots (the class running now), a day off, a cancelled
    class, and for every session before today varied marks: door and room captures for students
    with photos, roll-call marks (corrections) for those without, late arrivals, absences written
    by the sweep (sessions marked swept), excused absences with a correction. Bulk inserts; the
    ``live`` slots and today's sessions get no marks, so the live class comes on top.

    Call after :func:`seed_campus` (with ``live`` as its slots) and :func:`seed_students` of
    ``photographed``; the random draws are fixed by ``seed``.
    """
    rng = random.Random(seed)
    zone = ZoneInfo(timezone)
    now = datetime.now(UTC)
    named = named_students(60)
    live_weekday = today.weekday()
    with engine.begin() as connection:
        connection.execute(rooms.insert(), [{**room, "timezone": timezone} for room in TERM_ROOMS])
        connection.execute(courses.insert(), list(TERM_COURSES))
        extra_slots = [
            *(Slot("CS501", "R101", d, time(9), time(10)) for d in _weekdays_besides(live_weekday, 2, 0)),
            *(Slot("CS502", "R102", d, time(11), time(12)) for d in _weekdays_besides(live_weekday, 2, 1)),
            *(Slot("CS503", "R103", d, time(10), time(11)) for d in range(5) if d % 2 == 0),
            *(Slot("CS504", "R104", d, time(14), time(15, 30)) for d in (1, 3)),
        ]
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
                for s in extra_slots
            ],
        )
    seed_students(engine, named)
    seed_teachers(engine, list(TERM_TEACHERS))
    lfw = [p.usn for p in photographed]
    rosters = {
        "CS501": lfw + [p.usn for p in named[:40]],
        "CS502": lfw + [p.usn for p in named[10:42]],
        "CS503": [p.usn for p in named[:45]],
        "CS504": [p.usn for p in named[25:60]],
    }
    for course_code, usns in rosters.items():
        seed_roster(engine, course_code, usns)

    start = today - timedelta(days=7 * weeks_past + today.weekday())
    end = today + timedelta(days=7 * weeks_ahead)
    holiday = today - timedelta(days=21)  # the live class's weekday three weeks ago
    term_id = seed_term(engine, f"Term {start:%Y-%m}", start, end, {holiday: "Founders' Day"})

    # Each student comes with their own regularity: most nearly always, some below the minimum.
    regularity = {}
    for usn in sorted({u for usns in rosters.values() for u in usns}):
        band = rng.random()
        regularity[usn] = (
            rng.uniform(0.86, 0.99)
            if band < 0.7
            else rng.uniform(0.62, 0.8)
            if band < 0.9
            else rng.uniform(0.35, 0.6)
        )
    with_photos = set(lfw)
    teacher_of = {code: username for username, code in TERM_TEACHERS}
    marks: Counter[str] = Counter()
    with engine.begin() as connection:
        past = list(
            connection.execute(
                sa.select(class_sessions)
                .where(
                    class_sessions.c.term_id == term_id,
                    class_sessions.c.session_date < today,
                    class_sessions.c.status == "scheduled",
                )
                .order_by(class_sessions.c.session_date, class_sessions.c.start_time)
            )
        )
        # A teacher cancelled one class in the second week.
        cancelled = next(
            s for s in past if s.course_code == "CS503" and s.session_date >= start + timedelta(days=7)
        )
        connection.execute(
            class_sessions.update()
            .where(class_sessions.c.session_id == cancelled.session_id)
            .values(status="cancelled", cancelled_by=teacher_of["CS503"], note="teacher at a conference")
        )
        held = [s for s in past if s.session_id != cancelled.session_id]
        rows: list[dict[str, object]] = []
        corrections: list[dict[str, object]] = []
        marked: set[tuple[str, str, date]] = set()
        for session in held:
            begins = datetime.combine(session.session_date, session.start_time, tzinfo=zone).astimezone(UTC)
            ends = datetime.combine(session.session_date, session.end_time, tzinfo=zone).astimezone(UTC)
            for usn in rosters[session.course_code]:
                key = (usn, session.course_code, session.session_date)
                if key in marked:  # one mark per student, course and day
                    continue
                marked.add(key)
                base = {
                    "usn": usn,
                    "course_code": session.course_code,
                    "class_date": session.session_date,
                    "room_id": session.room_id,
                }
                if rng.random() < regularity[usn]:
                    late = rng.random() < 0.08
                    arrived = begins + timedelta(minutes=rng.uniform(25, 40) if late else rng.uniform(-6, 12))
                    status = "late" if late else "entered"
                    if usn in with_photos:
                        row = {
                            **base,
                            "first_seen_at": arrived,
                            "confirmed_at": arrived + timedelta(minutes=10),
                            "status": status,
                            "source": "face",
                            "similarity": round(rng.uniform(0.45, 0.78), 4),
                            "capture_id": f"seed-{session.session_id}-{usn}",
                            "updated_at": arrived + timedelta(minutes=10),
                        }
                    else:
                        status = "late" if late else "present"
                        row = {**base, "status": status, "source": "manual", "updated_at": ends}
                        corrections.append(
                            {
                                **{k: base[k] for k in ("usn", "course_code", "class_date")},
                                "old_status": None,
                                "new_status": status,
                                "reason": "roll call (no photo enrolled)",
                                "corrected_by": teacher_of[session.course_code],
                                "corrected_at": ends,
                            }
                        )
                elif rng.random() < 0.12:
                    status = "excused"
                    row = {
                        **base,
                        "status": status,
                        "source": "manual",
                        "updated_at": ends + timedelta(days=1),
                    }
                    corrections.append(
                        {
                            **{k: base[k] for k in ("usn", "course_code", "class_date")},
                            "old_status": "absent",
                            "new_status": "excused",
                            "reason": "medical certificate",
                            "corrected_by": teacher_of[session.course_code],
                            "corrected_at": ends + timedelta(days=1),
                        }
                    )
                else:
                    status = "absent"
                    row = {
                        **base,
                        "status": status,
                        "source": "sweep",
                        "updated_at": ends + timedelta(minutes=15),
                    }
                marks[status] += 1
                rows.append(row)
        columns = ("first_seen_at", "confirmed_at", "similarity", "capture_id")
        connection.execute(attendance.insert(), [{c: None for c in columns} | r for r in rows])
        if corrections:
            connection.execute(attendance_corrections.insert(), corrections)
        for session in held:
            ends = datetime.combine(session.session_date, session.end_time, tzinfo=zone).astimezone(UTC)
            connection.execute(
                class_sessions.update()
                .where(class_sessions.c.session_id == session.session_id)
                .values(swept_at=min(ends + timedelta(minutes=15), now))
            )
    return TermSeed(term_id=term_id, rosters=rosters, sessions_held=len(held), marks=dict(marks))
