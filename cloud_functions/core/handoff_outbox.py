"""Handoffs leave through an outbox: stored with the event that caused them, then published.

The handoff row is written in the same transaction as the recognition event, so a handoff
exists exactly when its event does. Publishing happens after the commit and is marked with the
broker's message id.

Deliveries are at least once and may overlap, so publishing is claimed first: the worker that
stores a handoff stores it already claimed, and a later delivery that finds it unsent must win a
conditional UPDATE on the row before it publishes. Only one worker can win; a claim lapses after
``lease`` (a worker that crashed between commit and publish), so the handoff is still published
by a later delivery. A failed publish gives the claim up and raises, so the retry publishes it.
Every handoff is therefore published exactly once in the normal case and at least once after a
crash; consumers de-duplicate on ``capture_id`` for the crash between publishing and marking.
A delivery that finds the handoff unsent under someone else's live claim is not acknowledged
(``HandoffPublishPendingError``): it comes back after the queue's visibility timeout, by when the
claim of a crashed worker has lapsed, so the lease must stay below that timeout.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from cloud_functions.core.db import handoffs as db
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.handoffs import PublishClaim
from cloud_functions.core.errors import HandoffPublishPendingError
from cloud_functions.core.handoff import HandoffPublisher
from cloud_functions.core.timing import Stopwatch
from contracts.handoff import Handoff

logger = logging.getLogger(__name__)

# A Lambda invocation ends after its timeout (60 s in the template); a claim older than that
# belongs to a worker that is gone. It must stay below the queues' visibility timeout, so the
# redelivery that follows a crash finds the claim lapsed.
DEFAULT_PUBLISH_LEASE = timedelta(seconds=60)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SentHandoff:
    """A stored handoff that has now been published."""

    handoff: Handoff
    message_id: str


class HandoffOutbox:
    """Stores handoffs claimed, publishes them once, and marks them sent.

    Args:
        engine: the database holding the ``handoffs`` rows.
        publisher: the broker (SNS).
        lease: how long a claim keeps other workers from publishing the same handoff. Longer
            waits longer to re-publish after a crash; shorter risks a second publish while a
            slow broker call is still under way.
        clock: the current UTC time (tests pass their own).
    """

    def __init__(
        self,
        engine: Engine,
        publisher: HandoffPublisher,
        *,
        lease: timedelta = DEFAULT_PUBLISH_LEASE,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._lease = lease
        self._clock = clock

    def stage(self, connection: Connection, handoff: Handoff) -> PublishClaim:
        """Store ``handoff`` in the caller's transaction, claimed by this worker."""
        claim = self._new_claim(handoff.capture_id)
        db.insert_handoff(connection, handoff, claim)
        return claim

    def publish(self, handoff: Handoff, claim: PublishClaim, clock: Stopwatch) -> str:
        """Publish a committed, claimed handoff; return the broker's message id.

        A failed publish releases the claim and raises, so the message's retry publishes it.
        """
        try:
            with clock.stage("publish"):
                message_id = self._publisher.publish(handoff)
        except Exception:
            self._release(claim)
            raise
        with clock.stage("db"), transaction(self._engine) as connection:
            db.mark_handoff_published(connection, claim, message_id)
        return message_id

    def publish_unsent(self, capture_id: str, camera_id: str | None, clock: Stopwatch) -> SentHandoff | None:
        """Publish the handoff of ``capture_id`` if it is stored, unsent, and this worker wins its claim.

        ``None`` when it was sent already (or none was stored). When another worker holds a
        live claim on an unsent one, ``HandoffPublishPendingError``: that worker may be gone, so
        this delivery must come back and publish it after the claim lapses, not be acknowledged.
        """
        claim = self._new_claim(capture_id)
        with clock.stage("db"), transaction(self._engine) as connection:
            if not db.claim_unpublished_handoff(connection, claim, self._clock()):
                if db.handoff_unsent(connection, capture_id):
                    raise HandoffPublishPendingError(f"handoff {capture_id} is claimed and not sent yet")
                return None
            pending = db.stored_handoff(connection, capture_id, camera_id)
        assert pending is not None  # the claimed row exists
        logger.info("publishing a stored handoff that was not sent", extra={"capture_id": capture_id})
        return SentHandoff(pending, self.publish(pending, claim, clock))

    def _new_claim(self, capture_id: str) -> PublishClaim:
        return PublishClaim(capture_id, str(uuid.uuid4()), self._clock() + self._lease)

    def _release(self, claim: PublishClaim) -> None:
        try:
            with transaction(self._engine) as connection:
                db.release_claim(connection, claim)
        except SQLAlchemyError as e:
            # The publish error is the one that matters; the claim lapses by itself.
            logger.warning(
                "could not release a publish claim; it lapses after the lease",
                extra={"capture_id": claim.capture_id, "error": type(e).__name__},
            )
