"""The two cameras' cross-check on the real presence function: proxy rules on stored events.

Door recognitions are recorded as face_match records them (``recognition_events``); cam2's
reports, built with the ``PresenceReport`` contract, say which track each door capture named
and whether it walked in through the door zone. Reports travel through the local bucket and
SQS to the real handler, on SQLite and MariaDB.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.recognitions import RecognitionEvent, insert_event
from cloud_functions.core.db.schema import flags, room_tags, timetable
from contracts.presence import EarlierTag, PresentTrack
from infra.local_stack import LocalStack
from infra.seed import Slot, seed_campus, seed_students
from tests.integration import test_presence as presence_tests
from tests.integration.test_presence import (
    ASHA,
    BORIS,
    CLASS_DATE,
    CLASS_START,
    drain,
    minutes,
    report,
    room_at,
    rows,
)

# 09:20 local: twenty minutes into CS501 in R101.
T0 = CLASS_START + minutes(20)


@pytest.fixture(autouse=True)
def _leave_the_bucket_as_found(local_stack: LocalStack) -> Iterator[None]:
    """Delete the reports a test put: the session bucket is shared."""
    before = presence_tests._keys_under(local_stack, presence_tests.PREFIXES)
    yield
    for key in sorted(presence_tests._keys_under(local_stack, presence_tests.PREFIXES) - before):
        local_stack.client("s3").delete_object(Bucket=local_stack.bucket_name, Key=key)


@pytest.fixture
def campus(engine: Engine) -> Engine:
    """R101/R102, CS501 in R101 Mondays 09:00-10:00 (Kolkata), two students."""
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    seed_students(engine, [ASHA, BORIS])
    return engine


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def recognised_at_door(
    engine: Engine, usn: str, capture_id: str, at: datetime, room_id: str = "R101"
) -> None:
    with engine.begin() as connection:
        insert_event(
            connection,
            RecognitionEvent(
                object_key=f"captures/faces/{room_id}/{at.date()}/{capture_id}.jpg",
                outcome="recognised",
                capture_id=capture_id,
                camera_id=f"{room_id}-door",
                room_id=room_id,
                captured_at=at,
                usn=usn,
                similarity=0.7,
            ),
        )


def tagged(
    usn: str,
    tracker_id: int,
    capture_id: str | None,
    *,
    first_seen_at: datetime,
    last_seen_at: datetime,
    through_door: bool = True,
    tagged_at: datetime | None = None,
    earlier: list[EarlierTag] | None = None,
) -> PresentTrack:
    return PresentTrack(
        usn=usn,
        tracker_id=tracker_id,
        source="face",
        first_seen_at=first_seen_at,
        last_seen_at=last_seen_at,
        dwell_s=(last_seen_at - first_seen_at).total_seconds(),
        capture_id=capture_id,
        tagged_at=(tagged_at or first_seen_at - seconds(3)) if capture_id else None,
        entered_through_door=through_door,
        entered_at=first_seen_at,
        earlier_tags=earlier or [],
    )


def deliver(
    stack: LocalStack, database_url: str, at: datetime, present: list[PresentTrack], **kw: str
) -> None:
    room_at(stack, at, report(at, present, **kw), **kw)
    result = drain(stack, database_url)
    assert result.errors == [] and result.failed_message_ids == []


def open_flags(engine: Engine) -> list[tuple[str, str, str | None, str | None]]:
    return sorted((f.kind, f.usn, f.room_id, f.course_code) for f in rows(engine, flags))


def test_a_door_recognition_that_walks_in_is_not_flagged_and_one_that_never_does_is(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    stack = clean_local_stack
    # GIVEN cam2 of R101 reporting since before the door saw anyone
    deliver(stack, database_url, T0 - seconds(30), [])
    # AND Asha and Boris recognised at R101's door at T0
    recognised_at_door(campus, ASHA.usn, "cap-asha", T0)
    recognised_at_door(campus, BORIS.usn, "cap-boris", T0 + seconds(1))
    # WHEN cam2 reports, 40 s later, a track that walked in through the door named by Asha's
    # capture, and nothing for Boris's
    asha = tagged(ASHA.usn, 4, "cap-asha", first_seen_at=T0 + seconds(4), last_seen_at=T0 + seconds(40))
    deliver(stack, database_url, T0 + seconds(40), [asha])
    # THEN Asha's tag is stored, and only Boris is flagged: recognised, never walked in
    assert [(t.usn, t.tracker_id, t.capture_id, t.entered_through_door) for t in rows(campus, room_tags)] == [
        (ASHA.usn, 4, "cap-asha", True)
    ]
    assert open_flags(campus) == [("not_confirmed", BORIS.usn, "R101", "CS501")]
    [flag] = rows(campus, flags)
    evidence = json.loads(flag.evidence)
    assert flag.capture_id == "cap-boris" and flag.class_date == CLASS_DATE
    assert evidence["entry_window_s"] == 30.0 and evidence["tagged_tracks"] == []

    # WHEN the next reports repeat the same tracks
    deliver(stack, database_url, T0 + seconds(70), [asha])
    deliver(stack, database_url, T0 + seconds(100), [asha])
    # THEN nothing is stored or flagged twice
    assert len(rows(campus, room_tags)) == 1 and len(rows(campus, flags)) == 1


def test_a_room_camera_that_started_after_the_door_recognition_flags_nobody(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN Boris recognised at the door at T0, and cam2's first report only 60 s later
    recognised_at_door(campus, BORIS.usn, "cap-boris", T0)
    # WHEN cam2 reports (it could not have seen him walk in)
    deliver(clean_local_stack, database_url, T0 + seconds(60), [])
    deliver(clean_local_stack, database_url, T0 + seconds(90), [])
    # THEN nobody is flagged
    assert open_flags(campus) == []


def test_a_track_a_tag_reached_without_walking_in_through_the_door_is_flagged(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN cam2 reporting, and Asha recognised at the door
    deliver(clean_local_stack, database_url, T0 - seconds(30), [])
    recognised_at_door(campus, ASHA.usn, "cap-asha", T0)
    # WHEN her handoff named a track that was already in the room (not a door entry)
    asha = tagged(
        ASHA.usn,
        2,
        "cap-asha",
        first_seen_at=T0 - minutes(5),
        last_seen_at=T0 + seconds(40),
        through_door=False,
        tagged_at=T0,
    )
    deliver(clean_local_stack, database_url, T0 + seconds(40), [asha])
    # THEN she stays "arrived, not confirmed" and is flagged with the track the tag reached
    assert open_flags(campus) == [("not_confirmed", ASHA.usn, "R101", "CS501")]
    [flag] = rows(campus, flags)
    assert json.loads(flag.evidence)["tagged_tracks"] == [2]


def test_one_body_given_two_door_identities_flags_both_students(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN cam2 reporting; Asha and then Boris recognised at the door 4 s apart
    deliver(clean_local_stack, database_url, T0 - seconds(30), [])
    recognised_at_door(campus, ASHA.usn, "cap-asha", T0)
    recognised_at_door(campus, BORIS.usn, "cap-boris", T0 + seconds(4))
    # WHEN one track that walked in carries Boris now and carried Asha before (one body, two faces)
    body = tagged(
        BORIS.usn,
        5,
        "cap-boris",
        first_seen_at=T0 + seconds(5),
        last_seen_at=T0 + seconds(40),
        earlier=[EarlierTag(usn=ASHA.usn, capture_id="cap-asha", tagged_at=T0)],
    )
    deliver(clean_local_stack, database_url, T0 + seconds(40), [body])
    # THEN both students are flagged for that track (and neither as "not confirmed": the track
    # that walked in carried both captures)
    assert open_flags(campus) == [
        ("one_body_two_faces", ASHA.usn, "R101", "CS501"),
        ("one_body_two_faces", BORIS.usn, "R101", "CS501"),
    ]
    evidence = json.loads(rows(campus, flags)[0].evidence)
    assert evidence["tracker_id"] == 5 and sorted(evidence["usns"]) == sorted([ASHA.usn, BORIS.usn])


def test_a_student_in_one_room_while_another_rooms_door_recognises_them_is_flagged_in_both(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN CS502 running in R102 at the same time as CS501 in R101
    with campus.begin() as connection:
        connection.execute(
            timetable.insert().values(
                course_code="CS502", room_id="R102", weekday=0, start_time=time(9), end_time=time(10)
            )
        )
    deliver(clean_local_stack, database_url, T0 - seconds(30), [])
    recognised_at_door(campus, ASHA.usn, "cap-asha", T0)
    # AND Asha recognised at R102's door while R101's camera still sees her
    recognised_at_door(campus, ASHA.usn, "cap-asha-r102", T0 + seconds(30), room_id="R102")
    # WHEN R101's camera reports her present from T0 + 4 s to T0 + 60 s
    asha = tagged(ASHA.usn, 4, "cap-asha", first_seen_at=T0 + seconds(4), last_seen_at=T0 + seconds(60))
    deliver(clean_local_stack, database_url, T0 + seconds(60), [asha])
    # THEN both rooms' sightings are flagged, each with its own class's course
    assert open_flags(campus) == [
        ("two_rooms", ASHA.usn, "R101", "CS501"),
        ("two_rooms", ASHA.usn, "R102", "CS502"),
    ]


def test_tags_of_a_deleted_student_go_with_them(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a stored tag of Asha
    deliver(clean_local_stack, database_url, T0 - seconds(30), [])
    recognised_at_door(campus, ASHA.usn, "cap-asha", T0)
    asha = tagged(ASHA.usn, 4, "cap-asha", first_seen_at=T0 + seconds(4), last_seen_at=T0 + seconds(40))
    deliver(clean_local_stack, database_url, T0 + seconds(40), [asha])
    assert len(rows(campus, room_tags)) == 1
    # WHEN the student is deleted
    with campus.begin() as connection:
        connection.execute(sa.text("DELETE FROM students WHERE usn = :usn"), {"usn": ASHA.usn})
    # THEN the tag is gone too
    assert rows(campus, room_tags) == []
