"""The doorway flow: one face capture in, one recorded outcome out.

``DoorwayService.process`` is the plain function behind the face_match handler. It runs with
no AWS and no Lambda: the object store, the face pipeline, the matcher and the handoff
publisher are ports handed in.

Order of work, cheapest and most private first: metadata → room → timetable (no class, no
face recognition at all) → download → face → match → one transaction (event, attendance,
handoff row) → publish. Every delivery is at-least-once, so the object key decides:

* an object that already has an event is a duplicate and changes nothing — except that a
  handoff stored but not yet published (the publish failed last time) is published now;
* two deliveries racing each other both try to insert the event; the UNIQUE key lets one win
  and the loser's whole transaction (attendance, handoff) rolls back.

Bad input ends in a recorded outcome. Transient failures (database down, S3 or SNS errors)
raise, so the message is retried and, in the end, kept in the dead-letter queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from cloud_functions.core.db import doorway as db
from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.doorway import PublishClaim
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.schema import OBJECT_KEY_MAX_CHARS, recordable_object_key
from cloud_functions.core.errors import ObjectNotFoundError
from cloud_functions.core.faces.types import AnalysisMode, FaceAnalysis, FaceRejectedError
from cloud_functions.core.handoff import Handoff, HandoffPublisher
from cloud_functions.core.handoff_outbox import DEFAULT_PUBLISH_LEASE, HandoffOutbox
from cloud_functions.core.rooms import Refusal, locate_class
from cloud_functions.core.storage import ObjectStore
from cloud_functions.core.timetable import CaptureTimeBounds, ClassSession, GraceWindows
from cloud_functions.core.timing import Stopwatch

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What became of a capture; stored in ``recognition_events.outcome``."""

    RECOGNISED = "recognised"
    UNKNOWN_PERSON = "unknown_person"
    NO_CLASS_IN_SESSION = "no_class_in_session"
    AMBIGUOUS_TIMETABLE = "ambiguous_timetable"
    UNKNOWN_ROOM = "unknown_room"
    CAMERA_NOT_IN_ROOM = "camera_not_in_room"
    MISSING_METADATA = "missing_metadata"
    OBJECT_MISSING = "object_missing"
    DUPLICATE_CAPTURE_ID = "duplicate_capture_id"
    KEY_TOO_LONG = "key_too_long"
    IMPLAUSIBLE_CAPTURE_TIME = "implausible_capture_time"
    # The face pipeline's reasons (RejectReason values) are outcomes too.
    UNDECODABLE = "undecodable"
    TOO_LARGE = "too_large"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    TOO_SMALL = "too_small"
    TOO_BLURRY = "too_blurry"
    EXTREME_POSE = "extreme_pose"


class CaptureMetadata(BaseModel):
    """The S3 user metadata cam1 attaches to every capture."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    room_id: str = Field(min_length=1, max_length=32)
    camera_id: str = Field(min_length=1, max_length=64)
    captured_at: AwareDatetime
    capture_id: str = Field(min_length=1, max_length=64)


class FaceAnalyser(Protocol):
    """Port: the face pipeline (``FacePipeline``)."""

    def analyse(self, image_bytes: bytes, mode: AnalysisMode = "capture") -> FaceAnalysis: ...


class Identification(Protocol):
    """What a matcher answers: ``usn`` is None for "unknown"."""

    @property
    def usn(self) -> str | None: ...

    @property
    def similarity(self) -> float: ...


class IdentityMatcher(Protocol):
    """Port: 1:N search against the enrolled faceprints of the pipeline's model (``Matcher``)."""

    def match(self, embedding: NDArray[np.floating]) -> Identification: ...


@dataclass
class DoorwayResult:
    """The outcome of one capture, with per-stage timings for the logs."""

    object_key: str
    outcome: Outcome
    duplicate: bool = False
    capture_id: str | None = None
    room_id: str | None = None
    usn: str | None = None
    similarity: float | None = None
    course_code: str | None = None
    attendance_status: str | None = None
    handoff_message_id: str | None = None
    detail: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


class DoorwayService:
    """Turns face captures into recognition events, attendance and handoffs."""

    def __init__(
        self,
        engine: Engine,
        store: ObjectStore,
        faces: FaceAnalyser,
        matcher: IdentityMatcher,
        publisher: HandoffPublisher,
        *,
        grace: GraceWindows | None = None,
        max_image_bytes: int = 5_000_000,
        capture_times: CaptureTimeBounds | None = None,
        publish_lease: timedelta = DEFAULT_PUBLISH_LEASE,
    ) -> None:
        self._engine = engine
        self._store = store
        self._faces = faces
        self._matcher = matcher
        self._handoffs = HandoffOutbox(engine, publisher, lease=publish_lease)
        self._grace = grace or GraceWindows()
        self._max_image_bytes = max_image_bytes
        self._capture_times = capture_times or CaptureTimeBounds()

    def process(self, object_key: str) -> DoorwayResult:
        """Handle one capture object end to end. Idempotent on ``object_key``."""
        clock = Stopwatch()
        recorded_key = recordable_object_key(object_key)
        with clock.stage("db"), transaction(self._engine) as connection:
            existing = db.get_event(connection, recorded_key)
        if existing is not None:
            return self._replay(existing, clock)
        if recorded_key != object_key:
            detail = f"object key of {len(object_key)} characters; at most {OBJECT_KEY_MAX_CHARS}"
            too_long = DoorwayResult(recorded_key, Outcome.KEY_TOO_LONG, detail=detail)
            return self._commit(_Evaluation(too_long), clock)

        result = self._evaluate(object_key, clock)
        return self._commit(result, clock)

    # -- the steps --------------------------------------------------------------------------

    def _evaluate(self, object_key: str, clock: Stopwatch) -> _Evaluation:
        try:
            with clock.stage("download"):
                head = self._store.head(object_key)
        except ObjectNotFoundError as e:
            return _Evaluation(DoorwayResult(object_key, Outcome.OBJECT_MISSING, detail=str(e)))

        try:
            meta = CaptureMetadata.model_validate(dict(head.metadata))
        except ValidationError as e:
            missing = ", ".join(str(err["loc"][0]) for err in e.errors())
            return _Evaluation(
                DoorwayResult(object_key, Outcome.MISSING_METADATA, detail=f"missing or invalid: {missing}")
            )

        def done(
            outcome: Outcome,
            detail: str | None = None,
            *,
            usn: str | None = None,
            similarity: float | None = None,
            session: ClassSession | None = None,
        ) -> _Evaluation:
            result = DoorwayResult(
                object_key,
                outcome,
                capture_id=meta.capture_id,
                room_id=meta.room_id,
                usn=usn,
                similarity=similarity,
                course_code=session.course_code if session else None,
                detail=detail,
            )
            return _Evaluation(result, meta, session)

        implausible = self._capture_times.implausibility(
            meta.captured_at, head.last_modified or datetime.now(UTC)
        )
        if implausible is not None:
            return done(Outcome.IMPLAUSIBLE_CAPTURE_TIME, implausible)

        with clock.stage("db"), transaction(self._engine) as connection:
            located = locate_class(
                connection, meta.room_id, meta.camera_id, "door", meta.captured_at, self._grace
            )
        if isinstance(located, Refusal):
            return done(Outcome(located.outcome), located.detail)
        session = located.session

        if head.size_bytes > self._max_image_bytes:
            return done(Outcome.TOO_LARGE, f"{head.size_bytes} bytes > limit {self._max_image_bytes}")
        try:
            with clock.stage("download"):
                body = self._store.get(object_key).body
        except ObjectNotFoundError as e:
            return done(Outcome.OBJECT_MISSING, str(e))

        try:
            analysis = self._faces.analyse(body, "capture")
        except FaceRejectedError as e:
            return done(Outcome(e.reason.value), e.detail)
        clock.timings_ms["detect"] = round(analysis.timings_ms.get("inspect", 0.0), 2)
        clock.timings_ms["embed"] = round(analysis.timings_ms.get("embed", 0.0), 2)

        with clock.stage("match"):
            decision = self._matcher.match(analysis.embedding)
        similarity = round(float(decision.similarity), 4)
        if decision.usn is None:
            return done(Outcome.UNKNOWN_PERSON, similarity=similarity)
        return done(Outcome.RECOGNISED, usn=decision.usn, similarity=similarity, session=session)

    def _commit(self, evaluation: _Evaluation, clock: Stopwatch) -> DoorwayResult:
        result, meta, session = evaluation.result, evaluation.meta, evaluation.session
        handoff: Handoff | None = None
        claim: PublishClaim | None = None
        try:
            with clock.stage("db"), transaction(self._engine) as connection:
                if result.capture_id:
                    owner = db.capture_id_owner(connection, result.capture_id, result.object_key)
                    if owner is not None:
                        _mark_duplicate_capture_id(result, owner)
                db.insert_event(connection, self._event(result, meta, clock))
                if result.outcome is Outcome.RECOGNISED and meta and session and result.usn:
                    row = record_door_sighting(
                        connection,
                        DoorSighting(
                            usn=result.usn,
                            course_code=session.course_code,
                            class_date=session.class_date,
                            room_id=meta.room_id,
                            seen_at=meta.captured_at,
                            status=session.arrival,
                            source="face",
                            similarity=result.similarity,
                            capture_id=meta.capture_id,
                        ),
                    )
                    result.attendance_status = row.status
                    handoff = Handoff(
                        usn=result.usn,
                        capture_id=meta.capture_id,
                        captured_at=meta.captured_at,
                        similarity=result.similarity or 0.0,
                        course_code=session.course_code,
                        room_id=meta.room_id,
                        camera_id=meta.camera_id,
                        source="face",
                    )
                    claim = self._handoffs.stage(connection, handoff)
        except IntegrityError:
            return self._after_conflict(result, meta, clock)

        if handoff is not None and claim is not None:
            result.handoff_message_id = self._handoffs.publish(handoff, claim, clock)
        result.timings_ms = clock.timings_ms
        return result

    def _after_conflict(
        self, result: DoorwayResult, meta: CaptureMetadata | None, clock: Stopwatch
    ) -> DoorwayResult:
        """A UNIQUE key refused the commit: a racing delivery of this object, or a reused capture id."""
        result.timings_ms = clock.timings_ms
        with clock.stage("db"), transaction(self._engine) as connection:
            if db.get_event(connection, result.object_key) is not None:
                # Another delivery of the same object won the race; its transaction is the record.
                result.duplicate = True
                return result
        # The object has no event: another object holding the same capture id committed first.
        _mark_duplicate_capture_id(result, owner=None)
        try:
            with clock.stage("db"), transaction(self._engine) as connection:
                db.insert_event(connection, self._event(result, meta, clock))
        except IntegrityError:
            result.duplicate = True
        return result

    @staticmethod
    def _event(result: DoorwayResult, meta: CaptureMetadata | None, clock: Stopwatch) -> db.RecognitionEvent:
        return db.RecognitionEvent(
            object_key=result.object_key,
            outcome=result.outcome.value,
            capture_id=result.capture_id,
            camera_id=meta.camera_id if meta else None,
            room_id=result.room_id,
            captured_at=meta.captured_at if meta else None,
            usn=result.usn,
            similarity=result.similarity,
            latency_ms=clock.total_ms,
            detail=result.detail,
        )

    def _replay(self, event: db.RecognitionEvent, clock: Stopwatch) -> DoorwayResult:
        result = DoorwayResult(
            object_key=event.object_key,
            outcome=Outcome(event.outcome),
            duplicate=True,
            capture_id=event.capture_id,
            room_id=event.room_id,
            usn=event.usn,
            similarity=event.similarity,
            detail=event.detail,
        )
        if result.outcome is Outcome.RECOGNISED and event.capture_id:
            sent = self._handoffs.publish_unsent(event.capture_id, event.camera_id, clock)
            if sent is not None:
                result.course_code, result.handoff_message_id = sent.handoff.course_code, sent.message_id
        result.timings_ms = clock.timings_ms
        return result


def _mark_duplicate_capture_id(result: DoorwayResult, owner: str | None) -> None:
    """Turn ``result`` into the record of a capture whose id another object already holds."""
    by = f" by {owner}" if owner else ""
    result.detail = f"capture_id {result.capture_id} is already used{by}"
    result.outcome, result.usn, result.course_code = Outcome.DUPLICATE_CAPTURE_ID, None, None


@dataclass(frozen=True)
class _Evaluation:
    result: DoorwayResult
    meta: CaptureMetadata | None = None
    session: ClassSession | None = None
