"""Enrollment screens every new faceprint for double enrollments and course-mate look-alikes.

Real LFW photos through the real enrollment service (YuNet + ONNX ArcFace) on SQLite and MariaDB.
"""

from __future__ import annotations

from datetime import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import enrollment_flags
from cloud_functions.core.faces import EnrollmentPhoto, EnrollmentService
from cloud_functions.core.faces.enrollment import enrollment_service
from cloud_functions.core.settings import FaceModelSettings
from infra.seed import Person, Slot, seed_campus, seed_roster, seed_students
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset" / "known"
COLIN, COLIN_AGAIN, LAURA, KOFI, HUGO = "1MS21CS001", "1MS21CS099", "1MS21CS002", "1MS21CS003", "1MS21CS004"


def photo(name: str, number: int) -> bytes:
    return (LFW / name / f"{name}_{number:04d}.jpg").read_bytes()


def enroll(service: EnrollmentService, usn: str, name: str, numbers: range) -> None:
    outcomes = service.enroll_batch([EnrollmentPhoto(usn, f"p{n}", photo(name, n)) for n in numbers])
    assert any(o.accepted for o in outcomes), outcomes  # a group photo is refused, never flagged


def flags(engine: Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as connection:
        query = sa.select(enrollment_flags.c.usn, enrollment_flags.c.other_usn, enrollment_flags.c.kind)
        return {(r.usn, r.other_usn, r.kind) for r in connection.execute(query)}


def campus(engine: Engine) -> None:
    """Colin Powell, Laura Bush and Kofi Annan take CS501; Hugo Chavez takes nothing with them."""
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    people = [
        (COLIN, "Colin Powell"),
        (COLIN_AGAIN, "C. Powell"),
        (LAURA, "Laura Bush"),
        (KOFI, "Kofi Annan"),
    ]
    seed_students(engine, [Person(usn, name, ()) for usn, name in [*people, (HUGO, "Hugo Chavez")]])
    seed_roster(engine, "CS501", [COLIN, LAURA, KOFI])


def test_the_same_person_enrolled_under_a_second_usn_is_flagged_once_as_a_duplicate(engine: Engine) -> None:
    # GIVEN Colin Powell enrolled (3 photos) and three other people with their own photos
    campus(engine)
    service = enrollment_service(FaceModelSettings(), engine)
    enroll(service, COLIN, "Colin_Powell", range(1, 4))
    enroll(service, LAURA, "Laura_Bush", range(1, 3))
    enroll(service, HUGO, "Hugo_Chavez", range(1, 3))

    # WHEN other photos of Colin Powell are enrolled under a second USN, one of them delivered twice
    enroll(service, COLIN_AGAIN, "Colin_Powell", range(4, 7))
    enroll(service, COLIN_AGAIN, "Colin_Powell", range(4, 5))

    # THEN exactly one duplicate flag names the pair, at a similarity over the duplicate bar;
    # distinct people (course mates or not) raise none at the default bars
    assert flags(engine) == {(COLIN_AGAIN, COLIN, "duplicate")}
    with engine.connect() as connection:
        [similarity] = connection.execute(sa.select(enrollment_flags.c.similarity)).scalars()
    assert similarity >= FaceModelSettings().duplicate_similarity


def test_a_course_mate_above_the_lookalike_bar_is_flagged_and_a_student_of_no_shared_course_is_not(
    engine: Engine,
) -> None:
    # GIVEN a look-alike bar of -1 (every course mate counts as a look-alike), and Colin Powell
    # (CS501) and Hugo Chavez (no shared course) enrolled
    campus(engine)
    service = enrollment_service(FaceModelSettings(lookalike_similarity=-1.0), engine)
    enroll(service, COLIN, "Colin_Powell", range(1, 3))
    enroll(service, HUGO, "Hugo_Chavez", range(1, 3))

    # WHEN Laura Bush, on CS501's roster, is enrolled
    enroll(service, LAURA, "Laura_Bush", range(1, 3))

    # THEN her course mate is flagged as a look-alike; Hugo Chavez, sharing no course, is not
    # (unless his face were a near-duplicate, which it is not)
    assert {f for f in flags(engine) if f[0] == LAURA} == {(LAURA, COLIN, "lookalike")}
