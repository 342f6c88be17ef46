"""POST /rooms creates the room's handoff queue and subscription on the local stack's SNS/SQS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from infra.local_stack import LocalStack
from tests.integration.test_api_helpers import ADMIN, Api, running_api, seed
from tests.local_stack_fixtures import LocalStackFactory

NEW_ROOM = {"room_id": "LAB-7", "name": "Lab 7", "cam1_id": "lab7-door", "cam2_id": "lab7-room"}


@pytest.fixture
def room_stack(local_stack_factory: LocalStackFactory) -> LocalStack:
    """A stack of its own: the rooms a test adds get queues that no other test's stack lists."""
    return local_stack_factory()


@pytest.fixture
def api(engine: Engine, database_url: str, room_stack: LocalStack) -> Iterator[Api]:
    seed(engine)
    stack = room_stack
    # The API function's environment on the stack names the topic and stage (template.yaml).
    env = stack.env("ApiFunction")
    with running_api(
        engine,
        database_url,
        aws_endpoint_url=stack.endpoint_url,
        aws_region=stack.region,
        handoff_topic_arn=env["CLASSSIGHT_HANDOFF_TOPIC_ARN"],
        stage=env["CLASSSIGHT_STAGE"],
    ) as api:
        yield api


def _queue_url(stack: LocalStack, room_id: str) -> str:
    stage = stack.env("ApiFunction")["CLASSSIGHT_STAGE"]
    name = f"classsight-{stage}-handoffs-{room_id}"
    return str(stack.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def _subscriptions(stack: LocalStack, queue_url: str) -> list[dict[str, Any]]:
    sqs, sns = stack.client("sqs"), stack.client("sns")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    found = []
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=stack.handoff_topic_arn):
        found += [s for s in page["Subscriptions"] if s["Endpoint"] == arn]
    return found


def _publish(stack: LocalStack, room_id: str) -> None:
    stack.client("sns").publish(
        TopicArn=stack.handoff_topic_arn,
        Message=json.dumps({"room_id": room_id}),
        MessageAttributes={"room_id": {"DataType": "String", "StringValue": room_id}},
    )


def _bodies(stack: LocalStack, queue_url: str) -> list[Any]:
    sqs = stack.client("sqs")
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    messages = received.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


def test_an_added_room_gets_its_own_handoff_queue_and_receives_only_its_handoffs(
    api: Api, room_stack: LocalStack
) -> None:
    stack = room_stack
    # GIVEN the API on the local stack WHEN an admin adds a room
    response = api.client.post("/rooms", json=NEW_ROOM, headers=ADMIN)

    # THEN the room is stored and its queue is subscribed to the handoff topic, filtered on it
    assert response.status_code == 201, response.text
    queue_url = _queue_url(stack, "LAB-7")
    [subscription] = _subscriptions(stack, queue_url)
    attributes = stack.client("sns").get_subscription_attributes(
        SubscriptionArn=subscription["SubscriptionArn"]
    )
    assert json.loads(attributes["Attributes"]["FilterPolicy"]) == {"room_id": ["LAB-7"]}
    # AND a handoff for it reaches its queue, raw, while R101's handoff stays on R101's queue
    _publish(stack, "LAB-7")
    _publish(stack, "R101")
    assert _bodies(stack, queue_url) == [{"room_id": "LAB-7"}]
    assert _bodies(stack, stack.room_queue_url("R101")) == [{"room_id": "R101"}]

    # WHEN the room is deleted and added again (a repair, a mistake undone)
    assert api.client.delete("/rooms/LAB-7", headers=ADMIN).status_code == 204
    assert api.client.post("/rooms", json=NEW_ROOM, headers=ADMIN).status_code == 201

    # THEN the same queue and one subscription serve it
    assert _queue_url(stack, "LAB-7") == queue_url
    assert len(_subscriptions(stack, queue_url)) == 1


def test_a_room_whose_queue_cannot_be_wired_is_not_stored(
    engine: Engine, database_url: str, room_stack: LocalStack
) -> None:
    stack = room_stack
    seed(engine)
    # GIVEN an API whose handoff topic does not exist on the endpoint (SNS refuses to subscribe)
    stage = stack.env("ApiFunction")["CLASSSIGHT_STAGE"]
    missing_topic = stack.handoff_topic_arn.rsplit(":", 1)[0] + f":classsight-{stage}-no-such-topic"
    with running_api(
        engine,
        database_url,
        aws_endpoint_url=stack.endpoint_url,
        aws_region=stack.region,
        handoff_topic_arn=missing_topic,
        stage=stage,
    ) as api:
        # WHEN an admin adds a room
        response = api.client.post("/rooms", json={**NEW_ROOM, "room_id": "LAB-8"}, headers=ADMIN)

        # THEN the answer says a dependency failed, and no half-made room is left behind
        assert response.status_code == 503, response.text
        assert response.json()["detail"] == "a dependency is unavailable; try again"
        assert api.client.get("/rooms/LAB-8", headers=ADMIN).status_code == 404
