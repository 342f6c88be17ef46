"""Room handoff queues created by the system when a room is added, not listed in the template.

Why: each room's queue, DLQ, subscription and queue policy are four CloudFormation resources,
so one stack (500 resources) holds about 115 rooms. Per-building queues with filter policies
were the other choice, but SQS consumers compete: cam2 of room A would receive, and have to
hand back, room B's handoffs, so every room's cam2 would see late and repeated messages. One
queue per room keeps the delivery cam2 relies on (its room's handoffs only, in its own queue);
the quota that matters then is SNS subscriptions per topic (12.5 million) and SQS queues per
account (no hard limit), far beyond a campus.

``RoomQueues.ensure`` is idempotent (SQS ``CreateQueue`` returns an existing queue with the same
attributes; an existing subscription with the same filter is reused), so it is safe to call on
every room write and from a repair job. Names and wiring are those the template gave: queue
``classsight-<stage>-handoffs-<room_id>``, its DLQ ``...-dlq``, raw delivery, a filter on the
``room_id`` message attribute, a policy letting only the handoff topic send.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from cloud_functions.core.errors import MessagingError
from contracts.ids import ROOM_ID_PATTERN

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# Rooms in the template become logical ids (letters and digits only); a room the system adds
# only names queues, which take hyphens and underscores too: any room id the API accepts.
_ROOM_ID = re.compile(ROOM_ID_PATTERN)


class RoomQueueError(MessagingError):
    """A room's handoff queue could not be created or wired (the SDK's error is the cause)."""


@dataclass(frozen=True)
class RoomQueue:
    room_id: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    subscription_arn: str


class RoomQueues:
    """Creates and wires each room's handoff queue against the handoff topic.

    Args:
        sqs, sns: clients for the account (or the local endpoint).
        topic_arn: the handoff topic.
        stage: the deployment stage in queue names.
        max_receive_count: deliveries before a handoff moves to the room's DLQ.
    """

    def __init__(
        self, sqs: SQSClient, sns: SNSClient, topic_arn: str, stage: str, *, max_receive_count: int = 5
    ) -> None:
        self._sqs = sqs
        self._sns = sns
        self._topic_arn = topic_arn
        self._stage = stage
        self._max_receive_count = max_receive_count

    def queue_name(self, room_id: str) -> str:
        if not _ROOM_ID.match(room_id):
            raise ValueError(f"room_id {room_id!r} must be 1-32 letters, digits, '-' or '_'")
        return f"classsight-{self._stage}-handoffs-{room_id}"

    def ensure(self, room_id: str) -> RoomQueue:
        """The room's queue, DLQ, policy and filtered subscription, created where missing."""
        name = self.queue_name(room_id)
        try:
            dlq_url = self._sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = self._arn(dlq_url)
            queue_url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
            queue_arn = self._arn(queue_url)
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AllowHandoffTopic",
                        "Effect": "Allow",
                        "Principal": {"Service": "sns.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": queue_arn,
                        "Condition": {"ArnEquals": {"aws:SourceArn": self._topic_arn}},
                    }
                ],
            }
            redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(self._max_receive_count)}
            self._sqs.set_queue_attributes(
                QueueUrl=queue_url,
                Attributes={"Policy": json.dumps(policy), "RedrivePolicy": json.dumps(redrive)},
            )
            subscription_arn = self._subscription(queue_arn, room_id)
        except (ClientError, BotoCoreError) as e:
            raise RoomQueueError(f"cannot create the handoff queue of room {room_id}: {e}") from e
        return RoomQueue(room_id, queue_url, queue_arn, dlq_url, subscription_arn)

    def _arn(self, queue_url: str) -> str:
        attributes = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def _subscription(self, queue_arn: str, room_id: str) -> str:
        # SNS Subscribe is idempotent for the same endpoint and attributes; filter set explicitly.
        response = self._sns.subscribe(
            TopicArn=self._topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicyScope": "MessageAttributes",
                "FilterPolicy": json.dumps({"room_id": [room_id]}),
            },
            ReturnSubscriptionArn=True,
        )
        return response["SubscriptionArn"]
