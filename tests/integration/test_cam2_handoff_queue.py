"""cam2's handoff consumer against the room queues of the local stack (real SNS → SQS wiring)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.handoff import Handoff
from edge_client.aws import edge_aws_client
from edge_client.cam2.handoff import HandoffOutcome
from edge_client.cam2.queue import HandoffConsumer, SqsHandoffQueue
from infra.local_stack import LocalStack

ROOM = "R101"
OTHER_ROOM = "R102"


def handoff_json(room_id: str = ROOM, capture_id: str = "cap-1") -> str:
    return json.dumps(
        {
            "usn": "1MS21CS001",
            "capture_id": capture_id,
            "captured_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC).isoformat(),
            "similarity": 0.71,
            "course_code": "CS501",
            "room_id": room_id,
            "camera_id": "door-1",
            "source": "face",
        }
    )


def messages_left(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@pytest.fixture
def room_queue(clean_local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> tuple[LocalStack, str, Any]:
    stack = clean_local_stack
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the local endpoint accepts any
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sqs = edge_aws_client("sqs", endpoint_url=stack.endpoint_url, region=stack.region, timeout_s=30)
    return stack, stack.room_queue_url(ROOM), sqs


def test_handoff_published_for_the_room_is_submitted_and_deleted_once_applied(
    room_queue: tuple[LocalStack, str, Any],
) -> None:
    stack, queue_url, sqs = room_queue
    # GIVEN a handoff published to the topic for this room and one for another room
    sns = stack.client("sns")
    for room in (ROOM, OTHER_ROOM):
        sns.publish(
            TopicArn=stack.handoff_topic_arn,
            Message=handoff_json(room, capture_id=f"cap-{room}"),
            MessageAttributes={"room_id": {"DataType": "String", "StringValue": room}},
        )
    submitted: list[tuple[Handoff, object]] = []
    consumer = HandoffConsumer(
        SqsHandoffQueue(queue_url, sqs, visibility_timeout_s=30),
        ROOM,
        lambda m, a: submitted.append((m, a)),
        1,
    )
    # WHEN the consumer polls
    consumer.poll_once()
    # THEN only this room's handoff arrives (the subscription filter), and it is not deleted yet
    assert [m.capture_id for m, _ in submitted] == [f"cap-{ROOM}"]
    assert messages_left(sqs, queue_url) == 1
    # WHEN the frame loop reports it applied
    message, receipt = submitted[0]
    consumer.acknowledge([HandoffOutcome(message, tracker_id=3, ack=receipt)])
    # THEN the message is gone
    assert messages_left(sqs, queue_url) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "malformed"),
        (json.dumps({"usn": "1MS21CS001", "room_id": ROOM}), "malformed"),
        (handoff_json(room_id=OTHER_ROOM), "foreign room"),
    ],
    ids=["not-json", "missing-fields", "foreign-room"],
)
def test_bad_handoff_is_rejected_logged_and_deleted(
    room_queue: tuple[LocalStack, str, Any], body: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, queue_url, sqs = room_queue
    # GIVEN a message on this room's queue that is not a handoff for this room
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    submitted: list[Handoff] = []
    consumer = HandoffConsumer(
        SqsHandoffQueue(queue_url, sqs, visibility_timeout_s=30), ROOM, lambda m, a: submitted.append(m), 1
    )
    # WHEN the consumer polls
    with caplog.at_level(logging.WARNING, logger="edge_client.cam2.queue"):
        consumer.poll_once()
    # THEN it is not applied, a log line says why, and it is deleted
    assert submitted == []
    assert consumer.rejected == 1
    assert f"rejected and deleted ({reason}" in caplog.text
    assert messages_left(sqs, queue_url) == 0


def test_expired_handoff_stays_on_the_queue(room_queue: tuple[LocalStack, str, Any]) -> None:
    _, queue_url, sqs = room_queue
    sqs.send_message(QueueUrl=queue_url, MessageBody=handoff_json())
    submitted: list[tuple[Handoff, object]] = []
    consumer = HandoffConsumer(
        SqsHandoffQueue(queue_url, sqs, visibility_timeout_s=30),
        ROOM,
        lambda m, a: submitted.append((m, a)),
        1,
    )
    consumer.poll_once()
    message, receipt = submitted[0]
    # WHEN the frame loop reports that nobody entered in time
    consumer.acknowledge([HandoffOutcome(message, tracker_id=None, ack=receipt, expired=True)])
    # THEN the message is kept for redelivery and, eventually, the dead-letter queue
    assert messages_left(sqs, queue_url) == 1
