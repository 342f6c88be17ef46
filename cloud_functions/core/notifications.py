"""The daily notification to each teacher: new absences in their courses, students who fell below.

Once a day (an EventBridge schedule) every teacher who teaches a course gets one message on the
teacher-notifications topic (an email or chat subscription, or the local stack's queue, reads
it). It lists

- the absences recorded in their courses since the previous notification (sweep absences and
  marks set to absent by hand: attendance rows with status ``absent`` updated in the window), and
- the students who fell below the course's minimum since then: short now (counting rule of
  ``cloud_functions.core.marks``, over each term that includes the day) and not short in the
  previous notification (each message keeps the full list of short students for the next one).

One message per teacher and day, also under redelivery and concurrent runs: the message is
built once and stored (``teacher_notifications``, unique per teacher and day) with a claim
before it is published; the run holding the claim publishes and then records the message id.
A run that finds the message id recorded sends nothing; one that finds a claim still running
sends nothing; one that finds a lapsed claim (the publisher crashed) takes it over and publishes
the stored message again. A crash between the publish and the record can therefore repeat a
message, with the same ``notification_id`` attribute, by which a subscriber drops the repeat.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.schema import (
    attendance,
    course_teachers,
    courses,
    students,
    teacher_notifications,
    teachers,
)
from cloud_functions.core.errors import MessagingError
from cloud_functions.core.marks import CountingRule
from cloud_functions.core.registers import course_register, terms_on
from cloud_functions.core.timetable import room_zone

logger = logging.getLogger(__name__)

# What the first notification of a teacher looks back over.
FIRST_LOOK_BACK = timedelta(days=1)
SUBJECT_MAX_CHARS = 100  # SNS's limit on a message subject


class NotificationPublisher(Protocol):
    """Port: sends one teacher's notification; returns the broker's message id."""

    def publish(self, notification_id: str, teacher_username: str, subject: str, body: str) -> str: ...


class SnsNotificationPublisher:
    """Publishes to the teacher-notifications topic; the JSON body is the message."""

    def __init__(self, sns_client: object, topic_arn: str) -> None:
        self._sns = sns_client
        self._topic_arn = topic_arn

    def publish(self, notification_id: str, teacher_username: str, subject: str, body: str) -> str:
        try:
            response = self._sns.publish(  # type: ignore[attr-defined]
                TopicArn=self._topic_arn,
                Subject=subject[:SUBJECT_MAX_CHARS],
                Message=body,
                MessageAttributes={
                    "notification_id": {"DataType": "String", "StringValue": notification_id},
                    "teacher": {"DataType": "String", "StringValue": teacher_username},
                },
            )
        except Exception as e:  # botocore raises many unrelated types; all mean "not published"
            raise MessagingError(f"notification {notification_id} not published: {e}") from e
        return str(response["MessageId"])


@dataclass(frozen=True)
class NotificationRules:
    """What the notification counts with (the API's settings, so both agree)."""

    rule: CountingRule
    default_min_pct: float
    timezone: str
    publish_lease: timedelta = timedelta(minutes=2)


@dataclass
class NotificationRun:
    """What one scheduled run did, per teacher."""

    day: date
    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)

    def log_fields(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "sent": len(self.sent),
            "already_sent": len(self.already_sent),
            "in_progress": len(self.in_progress),
        }


@dataclass(frozen=True)
class _Teacher:
    teacher_id: int
    username: str
    name: str
    email: str | None
    course_codes: tuple[str, ...]


def notification_id(teacher_id: int, day: date) -> str:
    """The id a subscriber deduplicates by: one per teacher and day."""
    return f"teacher-{teacher_id}-{day.isoformat()}"


def _teachers(connection: Connection) -> list[_Teacher]:
    rows = connection.execute(
        sa.select(
            teachers.c.teacher_id,
            teachers.c.username,
            teachers.c.name,
            teachers.c.email,
            course_teachers.c.course_code,
        )
        .select_from(teachers.join(course_teachers, course_teachers.c.teacher_id == teachers.c.teacher_id))
        .order_by(teachers.c.teacher_id, course_teachers.c.course_code)
    ).all()
    found: dict[int, _Teacher] = {}
    codes: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        found.setdefault(row.teacher_id, _Teacher(row.teacher_id, row.username, row.name, row.email, ()))
        if row.course_code not in codes[row.teacher_id]:
            codes[row.teacher_id].append(row.course_code)
    return [
        _Teacher(t.teacher_id, t.username, t.name, t.email, tuple(codes[t.teacher_id]))
        for t in found.values()
    ]


def _previous(connection: Connection, teacher_id: int, day: date) -> dict[str, Any] | None:
    row = connection.execute(
        sa.select(teacher_notifications.c.body)
        .where(teacher_notifications.c.teacher_id == teacher_id, teacher_notifications.c.day < day)
        .order_by(teacher_notifications.c.day.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else dict(json.loads(row.body))


def _absences(
    connection: Connection, course_codes: tuple[str, ...], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    query = (
        sa.select(
            attendance.c.course_code,
            attendance.c.usn,
            students.c.name,
            attendance.c.class_date,
            attendance.c.source,
        )
        .select_from(attendance.join(students, students.c.usn == attendance.c.usn))
        .where(
            attendance.c.status == "absent",
            attendance.c.updated_at > since,
            attendance.c.updated_at <= until,
            attendance.c.course_code.in_(course_codes),
        )
        .order_by(attendance.c.course_code, attendance.c.class_date, attendance.c.usn)
    )
    return [
        {
            "course_code": row.course_code,
            "usn": row.usn,
            "name": row.name,
            "class_date": row.class_date.isoformat(),
            "source": row.source,
        }
        for row in connection.execute(query)
    ]


def build_notification(
    connection: Connection, teacher: _Teacher, day: date, until: datetime, rules: NotificationRules
) -> dict[str, Any]:
    """The teacher's notification for ``day``, covering what changed up to ``until``."""
    previous = _previous(connection, teacher.teacher_id, day)
    since = datetime.fromisoformat(previous["until"]) if previous else until - FIRST_LOOK_BACK
    was_below: Mapping[str, list[str]] = previous.get("below", {}) if previous else {}
    below: dict[str, list[str]] = {}
    fell_below = []
    titles = dict(
        connection.execute(
            sa.select(courses.c.course_code, courses.c.title).where(
                courses.c.course_code.in_(teacher.course_codes)
            )
        ).all()
    )
    for term in terms_on(connection, day):
        for code in teacher.course_codes:
            register = course_register(connection, term, code, rules.rule, rules.default_min_pct, until)
            if register is None or not register.sessions:
                continue
            short = register.shortage()
            below[code] = sorted({*below.get(code, []), *(line.usn for line in short)})
            for line in short:
                if line.usn in was_below.get(code, []):
                    continue
                percentage = line.standing.percentage
                fell_below.append(
                    {
                        "course_code": code,
                        "term": term.name,
                        "usn": line.usn,
                        "name": line.name,
                        "percentage": None if percentage is None else round(percentage, 2),
                        "min_pct": register.min_pct,
                        "can_still_miss": line.standing.can_still_miss,
                    }
                )
    absences = _absences(connection, teacher.course_codes, since, until)
    return {
        "notification_id": notification_id(teacher.teacher_id, day),
        "day": day.isoformat(),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "teacher": {"username": teacher.username, "name": teacher.name, "email": teacher.email},
        "courses": [{"course_code": code, "title": titles.get(code, code)} for code in teacher.course_codes],
        "new_absences": absences,
        "fell_below": fell_below,
        "below": below,
    }


def subject_of(body: Mapping[str, Any]) -> str:
    """``ClassSight 2026-12-02: 3 new absences, 1 below the minimum``."""
    absences, fell = len(body["new_absences"]), len(body["fell_below"])
    return (
        f"ClassSight {body['day']}: {absences} new absence{'s' if absences != 1 else ''}, "
        f"{fell} fell below the minimum"
    )


class TeacherNotifier:
    """Builds, claims, publishes and records each teacher's notification of a day."""

    def __init__(
        self,
        engine: Engine,
        publisher: NotificationPublisher,
        rules: NotificationRules,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._rules = rules
        self._clock = clock

    def day_of(self, at: datetime) -> date:
        """The college's calendar day at ``at`` (setting ``notification_timezone``)."""
        return at.astimezone(room_zone(self._rules.timezone)).date()

    def run(self, at: datetime) -> NotificationRun:
        """Every teacher's notification for the day of ``at`` (the schedule's time)."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        day = self.day_of(at)
        with transaction(self._engine) as connection:
            teacher_list = _teachers(connection)
        run = NotificationRun(day)
        for teacher in teacher_list:
            outcome = self._notify(teacher, day, at)
            {"sent": run.sent, "already_sent": run.already_sent, "in_progress": run.in_progress}[
                outcome
            ].append(teacher.username)
        return run

    def _notify(self, teacher: _Teacher, day: date, at: datetime) -> str:
        key = (teacher_notifications.c.teacher_id == teacher.teacher_id) & (
            teacher_notifications.c.day == day
        )
        token_until = self._clock() + self._rules.publish_lease
        with transaction(self._engine) as connection:
            row = connection.execute(sa.select(teacher_notifications).where(key)).mappings().one_or_none()
            if row is not None and row["message_id"] is not None:
                return "already_sent"
            if row is None:
                body_text = json.dumps(build_notification(connection, teacher, day, at, self._rules))
        if row is None:
            try:
                with transaction(self._engine) as connection:
                    connection.execute(
                        teacher_notifications.insert().values(
                            teacher_id=teacher.teacher_id,
                            day=day,
                            body=body_text,
                            claimed_until=token_until,
                            created_at=self._clock(),
                        )
                    )
            except IntegrityError:
                # Another run stored this teacher's message first; it publishes it.
                return "in_progress"
        else:
            claimed_until = row["claimed_until"]
            if claimed_until is not None and claimed_until > self._clock():
                return "in_progress"
            with transaction(self._engine) as connection:
                taken = connection.execute(
                    sa.update(teacher_notifications)
                    .where(
                        key,
                        teacher_notifications.c.message_id.is_(None),
                        teacher_notifications.c.claimed_until.is_(None)
                        if claimed_until is None
                        else teacher_notifications.c.claimed_until == claimed_until,
                    )
                    .values(claimed_until=token_until)
                ).rowcount
            if taken != 1:
                return "in_progress"
            body_text = str(row["body"])
        body = json.loads(body_text)
        message_id = self._publisher.publish(
            body["notification_id"], teacher.username, subject_of(body), body_text
        )
        with transaction(self._engine) as connection:
            connection.execute(
                sa.update(teacher_notifications).where(key).values(message_id=message_id, claimed_until=None)
            )
        logger.info("teacher notification sent: %s %s", teacher.username, day.isoformat())
        return "sent"
