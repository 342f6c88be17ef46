"""presence on the real local stack and real databases.

Reports are built with the ``PresenceReport`` contract cam2 writes and put into the local bucket
under cam2's key; the S3 notification travels through SQS to the real handler (resolved from
template.yaml), which confirms attendance in SQLite and MariaDB.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from sqlalchemy.engine import Engine

from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.schema import attendance, presence_reports
from cloud_functions.core.errors import DatabaseUnavailableError
from cloud_functions.core.presence import confirmation_time, required_dwell
from cloud_functions.core.settings import function_settings
from cloud_functions.core.timetable import ClassSession
from cloud_functions.presence import handler as presence
from contracts.keys import presence_report_key
from contracts.presence import PresenceReport, PresentTrack
from infra.local_stack import LocalStack
from infra.seed import Person, Slot, seed_campus, seed_students
from tests.events import load_event

# Monday 2026-11-23 in Kolkata (UTC+05:30): CS501 runs 09:00-10:00 local = 03:30-04:30 UTC in R101.
CLASS_START = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
CLASS_DATE = date(2026, 11, 23)
ASHA = Person("1MS21CS101", "Asha Rao", ())  # tagged at the door at 08:58 local, then in the room
BORIS = Person("1MS21CS102", "Boris Iyer", ())  # missed by the door camera, identified by body re-id

PREFIXES = ("captures/presence/",)


def _keys_under(stack: LocalStack, prefixes: tuple[str, ...]) -> set[str]:
    s3 = stack.client("s3")
    keys: set[str] = set()
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket_name, Prefix=prefix):
            keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


@pytest.fixture(autouse=True)
def _leave_the_bucket_as_found(local_stack: LocalStack) -> Iterator[None]:
    """Delete the objects a test put: the session bucket is shared, and other tests read these prefixes."""
    before = _keys_under(local_stack, PREFIXES)
    yield
    for key in sorted(_keys_under(local_stack, PREFIXES) - before):
        local_stack.client("s3").delete_object(Bucket=local_stack.bucket_name, Key=key)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def campus(engine: Engine) -> Engine:
    """R101/R102, CS501 in R101 Mondays 09:00-10:00 (Kolkata), two students; Asha seen at the door."""
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    seed_students(engine, [ASHA, BORIS])
    with engine.begin() as connection:
        record_door_sighting(
            connection,
            DoorSighting(
                usn=ASHA.usn,
                course_code="CS501",
                class_date=CLASS_DATE,
                room_id="R101",
                seen_at=CLASS_START - minutes(2),
                status="entered",
                source="face",
                similarity=0.71,
                capture_id="door-capture-1",
            ),
        )
    return engine


def track(
    usn: str, tracker_id: int, source: str, first_seen_at: datetime, last_seen_at: datetime
) -> PresentTrack:
    return PresentTrack(
        usn=usn,
        tracker_id=tracker_id,
        source=source,  # type: ignore[arg-type]
        first_seen_at=first_seen_at,
        last_seen_at=last_seen_at,
        dwell_s=(last_seen_at - first_seen_at).total_seconds(),
    )


def report(
    at: datetime, present: list[PresentTrack], *, room_id: str = "R101", camera_id: str = "R101-room"
) -> bytes:
    return (
        PresenceReport(
            room_id=room_id,
            camera_id=camera_id,
            reported_at=at,
            interval_s=30.0,
            present=present,
            unknown_tracks=1,
        )
        .model_dump_json()
        .encode()
    )


def room_at(
    stack: LocalStack, at: datetime, body: bytes, *, room_id: str = "R101", camera_id: str = "R101-room"
) -> str:
    """Put a report as cam2 does (its key and metadata); return the key."""
    key = presence_report_key(room_id, camera_id, at)
    stack.client("s3").put_object(
        Bucket=stack.bucket_name,
        Key=key,
        Body=body,
        Metadata={"room_id": room_id, "camera_id": camera_id, "reported_at": at.isoformat()},
        ContentType="application/json",
    )
    return key


def drain(stack: LocalStack, database_url: str, **env: str) -> Any:
    """Deliver the waiting reports to the real handler, with fresh settings."""
    function_settings.cache_clear()
    presence.presence_service.cache_clear()
    result = stack.drain(
        "PresenceFunction", wait_s=1, environment_overrides={"CLASSSIGHT_DATABASE_URL": database_url, **env}
    )
    function_settings.cache_clear()
    presence.presence_service.cache_clear()
    return result


def rows(engine: Engine, table: sa.Table) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table).order_by(table.c.id)))


def attendance_of(engine: Engine) -> dict[str, tuple[Any, ...]]:
    return {
        r.usn: (r.course_code, r.status, r.source, r.first_seen_at, r.confirmed_at)
        for r in rows(engine, attendance)
    }


def test_attendance_is_confirmed_after_the_minimum_dwell_in_class_and_not_before(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    stack = clean_local_stack
    door_row = attendance_of(campus)[ASHA.usn]
    asha_in, boris_in = CLASS_START - minutes(2), CLASS_START + minutes(1)

    # GIVEN a report 9 minutes into CS501: Asha has been in the room 11 minutes (2 before the
    # start), Boris 8 minutes
    early = CLASS_START + minutes(9)
    room_at(
        stack,
        early,
        report(
            early, [track(ASHA.usn, 3, "face", asha_in, early), track(BORIS.usn, 7, "body", boris_in, early)]
        ),
    )

    # WHEN it is delivered
    result = drain(stack, database_url)

    # THEN it is recorded as processed for CS501, and nobody is confirmed yet (10 minutes of class
    # are needed; Asha's minutes before the start do not count)
    assert result.errors == [] and result.failed_message_ids == []
    [record] = rows(campus, presence_reports)
    assert (record.outcome, record.course_code, record.class_date) == ("processed", "CS501", CLASS_DATE)
    assert (record.present_count, record.confirmed_count) == (2, 0)
    assert attendance_of(campus) == {ASHA.usn: door_row}

    # GIVEN the next report at 12 minutes into the class
    later = CLASS_START + minutes(12)
    body = report(
        later, [track(ASHA.usn, 3, "face", asha_in, later), track(BORIS.usn, 7, "body", boris_in, later)]
    )
    key = room_at(stack, later, body)

    # WHEN it is delivered
    log = io.StringIO()
    previous = presence.logger.registered_handler.setStream(log)  # type: ignore[attr-defined]
    try:
        result = drain(stack, database_url)
    finally:
        presence.logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]

    # THEN Asha keeps her door row ('entered', face) and is confirmed at 10 minutes into the class;
    # Boris, never seen at the door, gets a 'present' row from body re-id, confirmed 10 minutes
    # after he appeared
    assert result.errors == []
    assert attendance_of(campus) == {
        ASHA.usn: ("CS501", "entered", "face", door_row[3], CLASS_START + minutes(10)),
        BORIS.usn: ("CS501", "present", "body", None, boris_in + minutes(10)),
    }
    assert rows(campus, presence_reports)[-1].confirmed_count == 2
    # AND the log line is structured and names who was confirmed
    [line] = [json.loads(x) for x in log.getvalue().splitlines() if '"presence report processed"' in x]
    assert line["outcome"] == "processed" and line["confirmed_usns"] == [ASHA.usn, BORIS.usn]
    assert line["course_code"] == "CS501" and line["room_id"] == "R101"

    # WHEN the same report is delivered again, and a later report arrives too
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key=key, Body=body)
    latest = CLASS_START + minutes(20)
    room_at(
        stack,
        latest,
        report(
            latest,
            [track(ASHA.usn, 3, "face", asha_in, latest), track(BORIS.usn, 7, "body", boris_in, latest)],
        ),
    )
    again = drain(stack, database_url)

    # THEN both are acknowledged, the redelivery is not recorded twice, and the earliest
    # confirmation stands
    assert again.errors == [] and again.failed_message_ids == [] and len(again.records) == 2
    assert [r.object_key for r in rows(campus, presence_reports)].count(key) == 1
    assert len(rows(campus, presence_reports)) == 3
    assert attendance_of(campus)[ASHA.usn][4] == CLASS_START + minutes(10)
    assert attendance_of(campus)[BORIS.usn][4] == boris_in + minutes(10)


def test_minimum_dwell_is_a_setting(clean_local_stack: LocalStack, campus: Engine, database_url: str) -> None:
    # GIVEN a 5-minute minimum dwell and Boris in the room for 6 minutes of the class
    at = CLASS_START + minutes(7)
    room_at(clean_local_stack, at, report(at, [track(BORIS.usn, 7, "reid", CLASS_START + minutes(1), at)]))

    # WHEN the report is delivered
    result = drain(clean_local_stack, database_url, CLASSSIGHT_PRESENCE_MIN_DWELL="PT5M")

    # THEN he is confirmed 5 minutes after he appeared ("reid" carry-over is body evidence)
    assert result.errors == []
    assert attendance_of(campus)[BORIS.usn] == ("CS501", "present", "body", None, CLASS_START + minutes(6))


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


IN_CLASS = CLASS_START + minutes(30)
_GOOD_TRACK = track(BORIS.usn, 7, "body", CLASS_START, IN_CLASS)


@pytest.mark.parametrize(
    ("case", "body", "put_options", "outcome"),
    [
        (
            "outside class hours",
            lambda: report(
                CLASS_START + minutes(120),
                [track(BORIS.usn, 7, "body", CLASS_START, CLASS_START + minutes(120))],
            ),
            {},
            "no_class_in_session",
        ),
        ("truncated JSON", lambda: report(IN_CLASS, [_GOOD_TRACK])[:40], {}, "malformed_report"),
        ("not JSON", lambda: b"\xff\xd8\xff\xe0 a JPEG put under the wrong prefix", {}, "malformed_report"),
        ("empty object", lambda: b"", {}, "malformed_report"),
        ("a JSON list", lambda: _json([1, 2, 3]), {}, "malformed_report"),
        (
            "naive timestamps",
            lambda: _json(
                {
                    "room_id": "R101",
                    "camera_id": "R101-room",
                    "reported_at": "2026-11-23T04:00:00",
                    "interval_s": 30,
                    "present": [],
                }
            ),
            {},
            "malformed_report",
        ),
        (
            "last seen before first seen",
            lambda: _json(
                {
                    "room_id": "R101",
                    "camera_id": "R101-room",
                    "reported_at": IN_CLASS.isoformat(),
                    "interval_s": 30,
                    "present": [
                        {
                            "usn": BORIS.usn,
                            "tracker_id": 7,
                            "source": "body",
                            "first_seen_at": IN_CLASS.isoformat(),
                            "last_seen_at": CLASS_START.isoformat(),
                            "dwell_s": 1800,
                        }
                    ],
                }
            ),
            {},
            "malformed_report",
        ),
        (
            "a sighting after the report was written",
            lambda: _json(
                {
                    "room_id": "R101",
                    "camera_id": "R101-room",
                    "reported_at": IN_CLASS.isoformat(),
                    "interval_s": 30,
                    "present": [
                        {
                            "usn": BORIS.usn,
                            "tracker_id": 7,
                            "source": "body",
                            "first_seen_at": CLASS_START.isoformat(),
                            "last_seen_at": (IN_CLASS + minutes(5)).isoformat(),
                            "dwell_s": 2100,
                        }
                    ],
                }
            ),
            {},
            "malformed_report",
        ),
        (
            "unknown room",
            lambda: report(IN_CLASS, [_GOOD_TRACK], room_id="R999", camera_id="R999-room"),
            {"room_id": "R999", "camera_id": "R999-room"},
            "unknown_room",
        ),
        (
            "another room's camera",
            lambda: report(IN_CLASS, [_GOOD_TRACK], camera_id="R102-room"),
            {"camera_id": "R102-room"},
            "camera_not_in_room",
        ),
    ],
)
def test_bad_reports_are_recorded_with_their_outcome_and_change_no_attendance(
    clean_local_stack: LocalStack,
    campus: Engine,
    database_url: str,
    case: str,
    body: Any,
    put_options: dict[str, str],
    outcome: str,
) -> None:
    # GIVEN a report that is wrong in one way
    before = attendance_of(campus)
    key = room_at(clean_local_stack, IN_CLASS, body(), **put_options)

    # WHEN it is delivered
    result = drain(clean_local_stack, database_url)

    # THEN the batch succeeded, the outcome is recorded once, and attendance is untouched
    assert result.errors == [] and result.failed_message_ids == [], case
    [record] = rows(campus, presence_reports)
    assert (record.object_key, record.outcome, record.confirmed_count) == (key, outcome, 0), case
    assert attendance_of(campus) == before, case


def test_a_reported_usn_that_is_no_student_is_skipped(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a report with Boris and a USN that is not a student (deleted since it was tagged)
    at = CLASS_START + minutes(15)
    room_at(
        clean_local_stack,
        at,
        report(
            at,
            [
                _GOOD_TRACK.model_copy(update={"last_seen_at": at, "dwell_s": 900.0}),
                track("1MS21CS999", 9, "face", CLASS_START, at),
            ],
        ),
    )

    # WHEN it is delivered
    result = drain(clean_local_stack, database_url)

    # THEN Boris is confirmed, the stranger USN is counted in the detail, and nothing failed
    assert result.errors == []
    assert set(attendance_of(campus)) == {ASHA.usn, BORIS.usn}
    [record] = rows(campus, presence_reports)
    assert record.confirmed_count == 1 and "1 reported USNs are not students" in record.detail


SESSION = ClassSession("CS501", CLASS_DATE, CLASS_START, CLASS_START + minutes(60), "entered")


@pytest.mark.parametrize(
    ("first_seen", "last_seen", "min_dwell", "class_minutes", "confirmed_at"),
    [
        # minutes relative to the class start
        (0, 9.9, 10, 60, None),
        (0, 10, 10, 60, 10),
        (-15, 9, 10, 60, None),  # waiting before the class does not count
        (-15, 30, 10, 60, 10),
        (20, 31, 10, 60, 30),  # a late arrival is confirmed 10 minutes after arriving
        (0, 11, 30, 20, 10),  # a 20-minute class needs at most half of it
    ],
)
def test_dwell_counts_only_time_in_class(
    first_seen: float, last_seen: float, min_dwell: float, class_minutes: float, confirmed_at: float | None
) -> None:
    # GIVEN a track and a class
    session = ClassSession("CS501", CLASS_DATE, CLASS_START, CLASS_START + minutes(class_minutes), "entered")
    seen = PresentTrack(
        usn=BORIS.usn,
        tracker_id=1,
        source="body",
        first_seen_at=CLASS_START + minutes(first_seen),
        last_seen_at=CLASS_START + minutes(last_seen),
        dwell_s=(last_seen - first_seen) * 60,
    )
    # WHEN its confirmation time is computed
    at = confirmation_time(seen, session, required_dwell(minutes(min_dwell), session))
    # THEN it is the moment the dwell inside the class was reached, or None
    assert at == (None if confirmed_at is None else CLASS_START + minutes(confirmed_at))


class _LambdaContext:
    function_name = "PresenceFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PresenceFunction"
    aws_request_id = "6b1f0c2d-8e4a-4f7b-9c3d-2a5e7f9b1c04"


# The sample event names captures/presence/R101/2024-05-06/cam2-R101-20240506T091500Z.json:
# Monday 2024-05-06, 09:15 in Kolkata.
SAMPLE_KEY = "captures/presence/R101/2024-05-06/cam2-R101-20240506T091500Z.json"
SAMPLE_START = datetime(2024, 5, 6, 3, 30, tzinfo=UTC)


def _call_handler(stack: LocalStack, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in stack.env("PresenceFunction", CLASSSIGHT_DATABASE_URL=database_url).items():
        monkeypatch.setenv(name, value)
    function_settings.cache_clear()
    presence.presence_service.cache_clear()
    try:
        return presence.lambda_handler(load_event("sqs_s3_presence_report"), _LambdaContext())
    finally:
        function_settings.cache_clear()
        presence.presence_service.cache_clear()


def test_sample_sqs_event_reaches_the_report_it_names(
    local_stack: LocalStack, campus: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the report the AWS-shaped sample event names: Boris present from 09:01 to 09:15
    at = SAMPLE_START + minutes(15)
    body = report(at, [track(BORIS.usn, 7, "body", SAMPLE_START + minutes(1), at)])
    local_stack.client("s3").put_object(Bucket=local_stack.bucket_name, Key=SAMPLE_KEY, Body=body)

    # WHEN the handler gets the event as Lambda would pass it
    response = _call_handler(local_stack, database_url, monkeypatch)

    # THEN the record succeeded and Boris is confirmed for that Monday's CS501
    assert response == {"batchItemFailures": []}
    assert attendance_of(campus)[BORIS.usn] == ("CS501", "present", "body", None, SAMPLE_START + minutes(11))


def test_database_outage_leaves_the_message_for_retry(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the sample event's report, and a database that refuses connections
    at = SAMPLE_START + minutes(15)
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket_name,
        Key=SAMPLE_KEY,
        Body=report(at, [track(BORIS.usn, 7, "body", SAMPLE_START, at)]),
    )
    # WHEN the handler gets the event
    with pytest.raises(BatchProcessingError) as failed:
        _call_handler(local_stack, "mysql+pymysql://root@127.0.0.1:9/classsight", monkeypatch)
    # THEN the batch fails because the database is unavailable, so SQS delivers it again later
    [(error_type, _, _)] = failed.value.child_exceptions
    assert issubclass(error_type, DatabaseUnavailableError)


def test_a_report_key_longer_than_its_column_is_recorded_once(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a good report under a 600-character key
    before = attendance_of(campus)
    key = "captures/presence/R101/2026-11-23/" + "r" * 561 + ".json"
    clean_local_stack.client("s3").put_object(
        Bucket=clean_local_stack.bucket_name, Key=key, Body=report(IN_CLASS, [_GOOD_TRACK])
    )
    # WHEN it is delivered twice
    results = [drain(clean_local_stack, database_url)]
    clean_local_stack.client("s3").put_object(
        Bucket=clean_local_stack.bucket_name, Key=key, Body=report(IN_CLASS, [_GOOD_TRACK])
    )
    results.append(drain(clean_local_stack, database_url))
    # THEN both succeed and one record says why nothing was confirmed
    assert all(r.errors == [] and r.failed_message_ids == [] for r in results)
    [record] = rows(campus, presence_reports)
    assert record.outcome == "key_too_long" and len(record.object_key) == 512
    assert attendance_of(campus) == before


def test_a_report_dated_far_from_its_arrival_is_refused(
    clean_local_stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a report of a class days ago that reaches the bucket only now
    before = attendance_of(campus)
    room_at(clean_local_stack, IN_CLASS, report(IN_CLASS, [_GOOD_TRACK]))
    # WHEN it is delivered with the production bound on capture age (24 h)
    result = drain(clean_local_stack, database_url, CLASSSIGHT_CAPTURE_MAX_AGE="PT24H")
    # THEN it is recorded as implausible and confirms nobody
    assert result.errors == []
    [record] = rows(campus, presence_reports)
    assert (record.outcome, record.confirmed_count) == ("implausible_capture_time", 0)
    assert attendance_of(campus) == before
