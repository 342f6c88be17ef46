"""Handoffs leave through an outbox: stored with the event that caused them, then published.

The handoff row is written in the same transaction as the recognition event, so a handoff
exists exactly when its event does. Publishing happens after the commit and is marked with the
broker's message id; if it fails, the message is retried, the retry finds the event already
recorded and publishes the stored handoff then. Consumers de-duplicate on ``capture_id`` for the
narrow case of a crash between publishing and marking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from cloud_functions.core.db import doorway as db
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.handoff import Handoff, HandoffPublisher
from cloud_functions.core.timing import Stopwatch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentHandoff:
    """A stored handoff that has now been published."""

    handoff: Handoff
    message_id: str


class HandoffOutbox:
    """Publishes stored handoffs and marks them sent."""

    def __init__(self, engine: Engine, publisher: HandoffPublisher) -> None:
        self._engine = engine
        self._publisher = publisher

    def publish(self, handoff: Handoff, clock: Stopwatch) -> str:
        """Publish a handoff whose row is committed; return the broker's message id."""
        with clock.stage("publish"):
            message_id = self._publisher.publish(handoff)
        with clock.stage("db"), transaction(self._engine) as connection:
            db.mark_handoff_published(connection, handoff.capture_id, message_id)
        return message_id

    def publish_unsent(self, capture_id: str, camera_id: str | None, clock: Stopwatch) -> SentHandoff | None:
        """Publish the handoff of ``capture_id`` if it was stored but never sent (a failed publish)."""
        with clock.stage("db"), transaction(self._engine) as connection:
            pending = db.unpublished_handoff(connection, capture_id, camera_id)
        if pending is None:
            return None
        logger.info("publishing a stored handoff that was not sent", extra={"capture_id": capture_id})
        return SentHandoff(pending, self.publish(pending, clock))
