"""The daily teacher notification on the real local stack (topic → queue from template.yaml) and
real databases: what it lists, one message per teacher and day under redelivery, and a publish
that failed half-way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import attendance, teacher_notifications
from cloud_functions.core.errors import MessagingError
from cloud_functions.core.marks import CountingRule
from cloud_functions.core.notifications import NotificationRules, TeacherNotifier
from cloud_functions.notify import handler as notify
from infra.local_stack import LocalStack
from tests.integration.test_api_reports import ADA, ALAN, GRACE, TUESDAYS, term_of_cs501

# Tuesday 1 Dec, 18:00 in Kolkata: the template's daily schedule (12:30 UTC).
FIRST_RUN = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
SECOND_RUN = FIRST_RUN + timedelta(days=1)


class _LambdaContext:
    function_name = "NotifyFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:NotifyFunction"
    aws_request_id = "6f1d2c3b-4a5e-4f60-9b7a-8c9d0e1f2a3b"


def scheduled_event(at: datetime) -> dict[str, Any]:
    """The event EventBridge sends for the template's DailyTeacherNotifications schedule."""
    return {
        "version": "0",
        "id": "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.isoformat().replace("+00:00", "Z"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/classsight-dev-DailyTeacherNotifications"],
        "detail": {},
    }


def set_updated_at(engine: Engine, usn: str, day: date, at: datetime, **values: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(attendance)
            .where(
                attendance.c.usn == usn, attendance.c.course_code == "CS501", attendance.c.class_date == day
            )
            .values(updated_at=at, **values)
        )


@pytest.fixture
def campus(engine: Engine) -> Engine:
    """CS501's term (tests/integration/test_api_reports.py) with the marks' times set: Alan's and
    Grace's old absences were written weeks ago; the sweep marked Alan absent on 1 Dec at 11:15."""
    term_of_cs501(engine)
    set_updated_at(engine, ALAN, TUESDAYS[0], datetime(2026, 11, 3, 5, 45, tzinfo=UTC))
    set_updated_at(engine, GRACE, TUESDAYS[3], datetime(2026, 11, 24, 5, 45, tzinfo=UTC))
    with engine.begin() as connection:
        connection.execute(
            attendance.insert().values(
                usn=ALAN,
                course_code="CS501",
                class_date=TUESDAYS[4],
                room_id="R101",
                status="absent",
                source="sweep",
                updated_at=datetime(2026, 12, 1, 5, 45, tzinfo=UTC),
            )
        )
    return engine


@pytest.fixture
def stack(
    clean_local_stack: LocalStack, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalStack]:
    """The local stack with NotifyFunction's environment (its template variables) on ``database_url``."""
    for name, value in clean_local_stack.env("NotifyFunction", CLASSSIGHT_DATABASE_URL=database_url).items():
        monkeypatch.setenv(name, value)
    notify.notify_settings.cache_clear()
    notify.teacher_notifier.cache_clear()
    yield clean_local_stack
    notify.notify_settings.cache_clear()
    notify.teacher_notifier.cache_clear()


def queued(stack: LocalStack) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Receive and delete every message on the teacher-notifications queue: (body, attributes)."""
    sqs = stack.client("sqs")
    url = stack.resources["TeacherNotificationsQueue"].physical_id
    found = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
    ).get("Messages", []):
        for message in batch:
            attributes = {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
            found.append((json.loads(message["Body"]), attributes))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def by_teacher(messages: list[tuple[dict[str, Any], dict[str, str]]]) -> dict[str, dict[str, Any]]:
    return {body["teacher"]["username"]: body for body, _ in messages}


def test_each_teacher_gets_one_message_a_day_on_the_topics_queue(stack: LocalStack, campus: Engine) -> None:
    # WHEN the daily schedule fires on Tuesday 1 Dec at 18:00 in Kolkata
    response = notify.lambda_handler(scheduled_event(FIRST_RUN), _LambdaContext())
    # THEN both teachers got one message, readable from the queue subscribed to the topic
    assert response == {"day": "2026-12-01", "sent": 2, "already_sent": 0, "in_progress": 0}
    messages = queued(stack)
    assert sorted(attributes["notification_id"] for _, attributes in messages) == [
        "teacher-1-2026-12-01",
        "teacher-2-2026-12-01",
    ]
    tom = by_teacher(messages)["Tom Teacher"]
    # AND Tom's lists the sweep's absence of the day (not the old ones) and who is below 75%
    assert [(a["usn"], a["class_date"], a["source"]) for a in tom["new_absences"]] == [
        (ALAN, "2026-12-01", "sweep")
    ]
    assert [(f["usn"], f["percentage"], f["can_still_miss"]) for f in tom["fell_below"]] == [
        (ALAN, 25.0, None),
        (GRACE, 66.67, 0),
    ]
    assert tom["below"] == {"CS501": [ALAN, GRACE]}
    cleo = by_teacher(messages)["Cleo Teacher"]
    assert (cleo["new_absences"], cleo["fell_below"]) == ([], [])
    # AND each message is recorded with its SNS message id
    with campus.connect() as connection:
        rows = connection.execute(sa.select(teacher_notifications)).mappings().all()
    assert len(rows) == 2 and all(row["message_id"] and row["claimed_until"] is None for row in rows)

    # WHEN the same event is delivered again
    again = notify.lambda_handler(scheduled_event(FIRST_RUN + timedelta(minutes=3)), _LambdaContext())
    # THEN nothing more is sent
    assert (again["sent"], again["already_sent"]) == (0, 2)
    assert queued(stack) == []


def test_next_day_lists_only_what_changed_since(stack: LocalStack, campus: Engine) -> None:
    # GIVEN the first day's notifications, then Ada's 24 Nov mark corrected to absent on 2 Dec
    notify.lambda_handler(scheduled_event(FIRST_RUN), _LambdaContext())
    queued(stack)
    set_updated_at(
        campus, ADA, TUESDAYS[3], datetime(2026, 12, 2, 5, 0, tzinfo=UTC), status="absent", source="manual"
    )
    # WHEN the next day's schedule fires
    notify.lambda_handler(scheduled_event(SECOND_RUN), _LambdaContext())
    tom = by_teacher(queued(stack))["Tom Teacher"]
    # THEN Tom reads the one new absence, and that Ada fell below (Alan and Grace were below already)
    assert tom["since"] == FIRST_RUN.isoformat()
    assert [(a["usn"], a["class_date"], a["source"]) for a in tom["new_absences"]] == [
        (ADA, "2026-11-24", "manual")
    ]
    assert [f["usn"] for f in tom["fell_below"]] == [ADA]
    assert tom["below"] == {"CS501": [ADA, ALAN, GRACE]}


class FlakyPublisher:
    """Fails its first ``failures`` publishes as the broker would, then records the rest."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[tuple[str, str, str]] = []

    def publish(self, notification_id: str, teacher_username: str, subject: str, body: str) -> str:
        if self.failures:
            self.failures -= 1
            raise MessagingError("broker unavailable")
        self.published.append((notification_id, subject, body))
        return f"msg-{len(self.published)}"


def test_a_failed_publish_is_sent_once_by_a_later_run_after_the_claim_lapses(campus: Engine) -> None:
    # GIVEN a notifier whose first publish fails, with a two-minute claim
    clock = [FIRST_RUN]
    publisher = FlakyPublisher(failures=1)
    notifier = TeacherNotifier(
        campus,
        publisher,
        NotificationRules(CountingRule(), 75.0, "Asia/Kolkata", publish_lease=timedelta(minutes=2)),
        clock=lambda: clock[0],
    )
    # WHEN the run fails on the first teacher
    with pytest.raises(MessagingError):
        notifier.run(FIRST_RUN)
    with campus.connect() as connection:
        (stored,) = connection.execute(sa.select(teacher_notifications)).mappings().all()
    # THEN the message is stored, claimed and unsent
    assert stored["message_id"] is None and stored["claimed_until"] is not None
    # WHEN the event comes back within the claim: the claimed teacher is left alone, the other sent
    clock[0] = FIRST_RUN + timedelta(minutes=1)
    soon = notifier.run(FIRST_RUN)
    assert (len(soon.sent), len(soon.in_progress)) == (1, 1)
    # AND once the claim has lapsed, the stored message (as first built) is published and recorded
    clock[0] = FIRST_RUN + timedelta(minutes=5)
    later = notifier.run(FIRST_RUN + timedelta(minutes=5))
    assert (len(later.sent), len(later.already_sent)) == (1, 1)
    assert [json.loads(body)["notification_id"] for _, _, body in publisher.published] == [
        "teacher-2-2026-12-01",
        "teacher-1-2026-12-01",
    ]
    assert publisher.published[1][2] == stored["body"]
    assert publisher.published[1][1] == "ClassSight 2026-12-01: 1 new absence, 2 fell below the minimum"
    with campus.connect() as connection:
        rows = connection.execute(sa.select(teacher_notifications.c.message_id)).scalars().all()
    assert sorted(rows) == ["msg-1", "msg-2"]


def test_an_event_without_a_time_is_refused(stack: LocalStack, campus: Engine) -> None:
    from cloud_functions.core.errors import InvalidEventError

    event = scheduled_event(FIRST_RUN)
    event["time"] = "yesterday"
    with pytest.raises(InvalidEventError):
        notify.lambda_handler(event, _LambdaContext())
