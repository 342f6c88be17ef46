"""The handoff: a student recognised at a room's door, announced to that room's cam2.

Published to the SNS topic with the room and camera as message attributes, so each room's
queue (subscribed with a filter on ``room_id``) receives only its own handoffs.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cloud_functions.core.errors import MessagingError
from contracts.ids import Usn


class Handoff(BaseModel):
    """The message body cam2 receives. ``capture_id`` identifies it: consumers de-duplicate on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    usn: Usn
    capture_id: str = Field(min_length=1, max_length=64)
    captured_at: AwareDatetime
    similarity: float = Field(ge=-1.0, le=1.0)
    course_code: str | None = None
    room_id: str = Field(min_length=1, max_length=32)
    camera_id: str | None = None
    source: Literal["face", "body"] = "face"


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
