"""The room's handoff queue: long-poll, parse at the boundary, reject bad messages, delete applied ones.

The queue (one per room, subscribed to the handoff topic with a filter on ``room_id``) is an
SQS queue in AWS and on the local stack. A message that is not a handoff for this room can never
become one, so it is logged and deleted at once; a good handoff is deleted only after the frame
loop has applied it (or decided it cannot be applied because newer evidence holds the USN). A
handoff that expires with nobody entering is left on the queue: it returns after the visibility
timeout and, after the queue's ``maxReceiveCount``, lands in the dead-letter queue for a look.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from contracts.handoff import Handoff
from edge_client.cam2.errors import CloudError, ForeignRoomError, InvalidHandoffError
from edge_client.cam2.handoff import HandoffOutcome, ensure_room, parse_handoff

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueMessage:
    """One received message: its body, string attributes and the handle that deletes it."""

    message_id: str
    body: str
    receipt_handle: str
    attributes: dict[str, str] = field(default_factory=dict)


class HandoffQueue(Protocol):
    """Port: the room's handoff queue."""

    def receive(self, max_messages: int, wait_s: int) -> list[QueueMessage]:
        """Wait up to ``wait_s`` for messages; raise ``CloudError`` on failure."""
        ...

    def delete(self, receipt_handle: str) -> None:
        """Delete a received message; raise ``CloudError`` on failure."""
        ...


class SqsHandoffQueue:
    """``HandoffQueue`` on SQS.

    Args:
        queue_url: the room's queue.
        sqs_client: a boto3 SQS client (``edge_client.aws.edge_aws_client``).
        visibility_timeout_s: how long a received handoff stays hidden; it must outlast the
            wait for the person to enter, since deletion happens only after the handoff is applied.
    """

    def __init__(self, queue_url: str, sqs_client: Any, visibility_timeout_s: int = 60) -> None:
        self.queue_url = queue_url
        self._sqs = sqs_client
        self.visibility_timeout_s = visibility_timeout_s

    def receive(self, max_messages: int = 10, wait_s: int = 20) -> list[QueueMessage]:
        """Long-poll the queue; SDK and HTTP errors become ``CloudError``."""
        try:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_s,
                VisibilityTimeout=self.visibility_timeout_s,
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as e:
            raise CloudError(f"receive from {self.queue_url} failed: {e}") from e
        messages = []
        for raw in response.get("Messages", []):
            attributes = {
                name: str(value["StringValue"])
                for name, value in (raw.get("MessageAttributes") or {}).items()
                if "StringValue" in value
            }
            messages.append(
                QueueMessage(raw["MessageId"], raw.get("Body", ""), raw["ReceiptHandle"], attributes)
            )
        return messages

    def delete(self, receipt_handle: str) -> None:
        """Delete one message; SDK and HTTP errors become ``CloudError``."""
        try:
            self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)
        except (BotoCoreError, ClientError) as e:
            raise CloudError(f"deleting a message of {self.queue_url} failed: {e}") from e


class HandoffConsumer:
    """Feeds this room's handoffs to the frame loop and deletes them once they are applied.

    Args:
        queue: the room's handoff queue.
        room_id: this camera's room; handoffs for other rooms are rejected.
        submit: hands a parsed handoff and its receipt handle to the frame loop
            (:meth:`RoomPipeline.submit_handoff`).
        wait_s: long-poll wait per receive.
    """

    def __init__(
        self,
        queue: HandoffQueue,
        room_id: str,
        submit: Callable[[Handoff, object], object],
        wait_s: int = 20,
    ) -> None:
        self.queue = queue
        self.room_id = room_id
        self.submit = submit
        self.wait_s = wait_s
        self.received = 0
        self.rejected = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """Receive one batch: reject (log + delete) bad messages, submit good ones. Returns the batch size."""
        messages = self.queue.receive(10, self.wait_s)
        for message in messages:
            self.received += 1
            try:
                handoff = ensure_room(parse_handoff(message.body, message.attributes), self.room_id)
            except ForeignRoomError as e:
                self._reject(message, f"foreign room: {e}")
            except InvalidHandoffError as e:
                self._reject(message, f"malformed: {e}")
            else:
                self.submit(handoff, message.receipt_handle)
        return len(messages)

    def _reject(self, message: QueueMessage, reason: str) -> None:
        self.rejected += 1
        logger.warning("handoff message %s rejected and deleted (%s)", message.message_id, reason)
        self.queue.delete(message.receipt_handle)

    def acknowledge(self, outcomes: Iterable[HandoffOutcome]) -> None:
        """Delete the messages of handoffs that were applied; expired ones stay for redelivery/DLQ."""
        for outcome in outcomes:
            if not outcome.applied or not isinstance(outcome.ack, str):
                continue
            try:
                self.queue.delete(outcome.ack)
            except CloudError as e:
                # Redelivery is harmless: the capture id is remembered as applied.
                logger.warning("applied handoff %s not deleted: %s", outcome.message.capture_id, e)

    def start(self) -> None:
        """Long-poll in a background thread until :meth:`stop`."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cam2-handoff-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 25.0) -> None:
        """Ask the polling thread to finish (after its current long poll) and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        backoff_s = 1.0
        while not self._stop.is_set():
            try:
                self.poll_once()
                backoff_s = 1.0
            except CloudError as e:
                logger.warning("handoff queue unavailable, retrying in %.0f s: %s", backoff_s, e)
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, 60.0)
