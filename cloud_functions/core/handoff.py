"""Publishing handoffs (``contracts.handoff.Handoff``): the port and its SNS adapter.

Published to the SNS topic with the room and camera as message attributes, so each room's
queue (subscribed with a filter on ``room_id``) receives only its own handoffs.
"""

from __future__ import annotations

from typing import Protocol

from cloud_functions.core.errors import MessagingError
from contracts.handoff import Handoff


class HandoffPublisher(Protocol):
    """Port: announces a handoff; returns the broker's message id."""

    def publish(self, handoff: Handoff) -> str: ...


class SnsHandoffPublisher:
    """Publishes handoffs to an SNS topic, with ``room_id``/``camera_id`` message attributes."""

    def __init__(self, sns_client: object, topic_arn: str) -> None:
        self._sns = sns_client
        self._topic_arn = topic_arn

    def publish(self, handoff: Handoff) -> str:
        attributes = {"room_id": {"DataType": "String", "StringValue": handoff.room_id}}
        if handoff.camera_id:
            attributes["camera_id"] = {"DataType": "String", "StringValue": handoff.camera_id}
        try:
            response = self._sns.publish(  # type: ignore[attr-defined]
                TopicArn=self._topic_arn,
                Message=handoff.model_dump_json(),
                MessageAttributes=attributes,
            )
        except Exception as e:  # botocore raises many unrelated types; all mean "not published"
            raise MessagingError(f"handoff {handoff.capture_id} not published: {e}") from e
        return str(response["MessageId"])
