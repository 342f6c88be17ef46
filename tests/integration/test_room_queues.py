"""300 rooms' handoff queues created by the system on the local endpoint, each with its own handoffs."""

from __future__ import annotations

import json

import boto3
import pytest

from cloud_functions.core.room_queues import RoomQueues
from infra.local_stack import MotoEndpoint

ROOMS = [f"R{i:03d}" for i in range(300)]


def _client(service: str, endpoint: MotoEndpoint):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=endpoint.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_three_hundred_rooms_each_receive_only_their_handoffs(local_endpoint: MotoEndpoint) -> None:
    sqs, sns = _client("sqs", local_endpoint), _client("sns", local_endpoint)
    topic_arn = sns.create_topic(Name="classsight-rooms300-handoffs")["TopicArn"]
    rooms = RoomQueues(sqs, sns, topic_arn, "rooms300")
    # GIVEN 300 rooms added (more than one CloudFormation stack could list)
    queues = {room_id: rooms.ensure(room_id) for room_id in ROOMS}
    # WHEN a room is added again (a repeated room write, a repair job)
    again = rooms.ensure("R123")
    # THEN nothing is duplicated
    assert again.queue_url == queues["R123"].queue_url
    subscriptions = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        subscriptions += page["Subscriptions"]
    assert len({s["Endpoint"] for s in subscriptions}) == 300
    # WHEN handoffs are published for three rooms
    for room_id in ("R000", "R123", "R299"):
        sns.publish(
            TopicArn=topic_arn,
            Message=json.dumps({"room_id": room_id}),
            MessageAttributes={"room_id": {"DataType": "String", "StringValue": room_id}},
        )
    # THEN each of those rooms' queues holds exactly its own handoff, raw, and a neighbour's holds none
    for room_id in ("R000", "R123", "R299"):
        received = sqs.receive_message(
            QueueUrl=queues[room_id].queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        )
        bodies = [json.loads(m["Body"]) for m in received.get("Messages", [])]
        assert bodies == [{"room_id": room_id}]
    neighbour = sqs.receive_message(QueueUrl=queues["R124"].queue_url, WaitTimeSeconds=0)
    assert "Messages" not in neighbour
    # AND the redrive policy points at the room's own DLQ
    attributes = sqs.get_queue_attributes(QueueUrl=queues["R123"].queue_url, AttributeNames=["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=queues["R123"].dlq_url, AttributeNames=["QueueArn"])
    assert (
        json.loads(attributes["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
        == dlq_arn["Attributes"]["QueueArn"]
    )


@pytest.mark.parametrize("room_id", ["", "R.101", "R 1", "-R1", "x" * 33])
def test_room_ids_that_cannot_name_a_queue_are_refused(local_endpoint: MotoEndpoint, room_id: str) -> None:
    rooms = RoomQueues(_client("sqs", local_endpoint), _client("sns", local_endpoint), "arn:aws:sns:x", "s")
    with pytest.raises(ValueError, match="letters, digits"):
        rooms.ensure(room_id)
