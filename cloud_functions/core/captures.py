"""What the crop flows share: their result, and one commit of its event, writes and handoff.

Door faces (``DoorwayService``) and body and gallery crops (``BodyMatchService``) each end in a
``CaptureResult`` that ``CaptureLedger.commit`` records once, idempotent on the object key:

1. one transaction: the recognition event (UNIQUE object key), the flow's own writes
   (attendance, a body print) and, when the flow names one, the handoff row, stored claimed;
2. after the commit, the handoff is published once (see ``HandoffOutbox``).

A capture id already recorded under another object key is ``duplicate_capture_id`` (no writes,
no handoff). When a UNIQUE key refuses the commit, the ledger tells a racing delivery of the
same object (its transaction is the record) from a racing object with the same capture id
(recorded as a duplicate capture id): every object ends with exactly one recorded outcome.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from cloud_functions.core.db import recognitions
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.recognitions import RecognitionEvent
from cloud_functions.core.handoff import HandoffPublisher
from cloud_functions.core.handoff_outbox import DEFAULT_PUBLISH_LEASE, HandoffOutbox
from cloud_functions.core.outcomes import Outcome
from cloud_functions.core.timing import Stopwatch
from contracts.handoff import Handoff
from contracts.keys import OBJECT_KEY_MAX_CHARS, recordable_object_key

# Outcomes after which a redelivered object may still owe its handoff (a failed publish).
_HANDS_OFF = (Outcome.RECOGNISED, Outcome.BODY_RECOGNISED)


@dataclass
class CaptureResult:
    """The outcome of one crop object, with per-stage timings; never the image or an embedding."""

    object_key: str
    outcome: Outcome
    duplicate: bool = False
    capture_id: str | None = None
    camera_id: str | None = None
    room_id: str | None = None
    captured_at: datetime | None = None
    usn: str | None = None
    similarity: float | None = None
    course_code: str | None = None
    handoff_message_id: str | None = None
    detail: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def log_fields(self) -> dict[str, Any]:
        """The structured log line's fields: every field of the result, JSON-ready."""
        fields = dataclasses.asdict(self)
        fields["outcome"] = self.outcome.value
        fields["captured_at"] = self.captured_at.isoformat() if self.captured_at else None
        return fields

    def handoff(self, source: Literal["face", "body"], appearance: Sequence[float] | None = None) -> Handoff:
        """The handoff announcing this result's student to its room (an identified result only),
        with the clothing colour the door camera sent, if any."""
        assert self.usn and self.capture_id and self.captured_at and self.room_id
        return Handoff(
            usn=self.usn,
            capture_id=self.capture_id,
            captured_at=self.captured_at,
            similarity=self.similarity or 0.0,
            course_code=self.course_code,
            room_id=self.room_id,
            camera_id=self.camera_id,
            source=source,
            appearance=list(appearance) if appearance is not None else None,
        )

    def event(self, latency_ms: float) -> RecognitionEvent:
        """The ``recognition_events`` row recording this result."""
        return RecognitionEvent(
            object_key=self.object_key,
            outcome=self.outcome.value,
            capture_id=self.capture_id,
            camera_id=self.camera_id,
            room_id=self.room_id,
            captured_at=self.captured_at,
            usn=self.usn,
            similarity=self.similarity,
            latency_ms=latency_ms,
            detail=self.detail,
        )


FlowWrites = Callable[[Connection], Handoff | None]
"""The flow's own writes in the event's transaction; returns the handoff to publish, if any."""


def metadata_problems(error: ValidationError) -> str:
    """``missing or invalid: room_id, captured_at`` for a metadata model's validation error."""
    fields = ", ".join(str(err["loc"][0]) for err in error.errors() if err["loc"])
    return f"missing or invalid: {fields or 'metadata'}"


def overlong_key_detail(object_key: str) -> str | None:
    """Why ``object_key`` cannot be recorded as it is, or None when its column holds it."""
    if recordable_object_key(object_key) == object_key:
        return None
    return f"object key of {len(object_key)} characters; at most {OBJECT_KEY_MAX_CHARS}"


class CaptureLedger:
    """Records each crop's outcome once and publishes its handoff once.

    Args:
        engine: the database.
        publisher: the broker handoffs go to.
        publish_lease: how long the committing worker's claim on a handoff keeps others from
            publishing it (see ``HandoffOutbox``).
    """

    def __init__(
        self, engine: Engine, publisher: HandoffPublisher, *, publish_lease: timedelta = DEFAULT_PUBLISH_LEASE
    ) -> None:
        self._engine = engine
        self._handoffs = HandoffOutbox(engine, publisher, lease=publish_lease)

    def recorded(self, object_key: str, clock: Stopwatch) -> RecognitionEvent | None:
        """The event already recorded for ``object_key`` (a redelivery), if any."""
        with clock.stage("db"), transaction(self._engine) as connection:
            return recognitions.get_event(connection, recordable_object_key(object_key))

    def commit(self, result: CaptureResult, clock: Stopwatch, writes: FlowWrites | None = None) -> None:
        """Record ``result`` with the flow's ``writes`` in one transaction, then publish its handoff.

        ``result`` is updated in place: a reused capture id turns it into ``duplicate_capture_id``
        (``writes`` are then not made), a lost race into a duplicate.
        """
        handoff: Handoff | None = None
        try:
            with clock.stage("db"), transaction(self._engine) as connection:
                if result.capture_id:
                    owner = recognitions.capture_id_owner(connection, result.capture_id, result.object_key)
                    if owner is not None:
                        _mark_duplicate_capture_id(result, owner)
                        writes = None
                recognitions.insert_event(connection, result.event(clock.total_ms))
                handoff = writes(connection) if writes is not None else None
                claim = self._handoffs.stage(connection, handoff) if handoff is not None else None
        except IntegrityError:
            self._after_conflict(result, clock)
            result.timings_ms = clock.timings_ms
            return
        if handoff is not None and claim is not None:
            result.handoff_message_id = self._handoffs.publish(handoff, claim, clock)
        result.timings_ms = clock.timings_ms

    def replay(self, result: CaptureResult, clock: Stopwatch) -> None:
        """A redelivery of a recorded object: publish its handoff if it was stored but never sent."""
        result.duplicate = True
        if result.outcome in _HANDS_OFF and result.capture_id:
            sent = self._handoffs.publish_unsent(result.capture_id, result.camera_id, clock)
            if sent is not None:
                result.course_code, result.handoff_message_id = sent.handoff.course_code, sent.message_id
        result.timings_ms = clock.timings_ms

    def _after_conflict(self, result: CaptureResult, clock: Stopwatch) -> None:
        """A UNIQUE key refused the commit: a racing delivery of this object, or a reused capture id."""
        with clock.stage("db"), transaction(self._engine) as connection:
            if recognitions.get_event(connection, result.object_key) is not None:
                # Another delivery of the same object won the race; its transaction is the record.
                result.duplicate = True
                return
        # The object has no event: another object holding the same capture id committed first.
        _mark_duplicate_capture_id(result, owner=None)
        try:
            with clock.stage("db"), transaction(self._engine) as connection:
                recognitions.insert_event(connection, result.event(clock.total_ms))
        except IntegrityError:
            result.duplicate = True


def replayed_result(event: RecognitionEvent) -> dict[str, Any]:
    """The fields of a ``CaptureResult`` rebuilt from a recorded event."""
    return {
        "object_key": event.object_key,
        "outcome": Outcome(event.outcome),
        "duplicate": True,
        "capture_id": event.capture_id,
        "camera_id": event.camera_id,
        "room_id": event.room_id,
        "captured_at": event.captured_at,
        "usn": event.usn,
        "similarity": event.similarity,
        "detail": event.detail,
    }


def _mark_duplicate_capture_id(result: CaptureResult, owner: str | None) -> None:
    by = f" by {owner}" if owner else ""
    result.detail = f"capture_id {result.capture_id} is already used{by}"
    result.outcome, result.usn, result.course_code = Outcome.DUPLICATE_CAPTURE_ID, None, None
