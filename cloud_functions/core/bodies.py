"""The room's body flow: gallery crops fill today's body gallery, unknown-track crops are matched.

``BodyMatchService.process`` is the plain function behind the body_match handler. Two kinds of
object reach it, told apart by their key:

* ``captures/gallery/<room>/<date>/<usn>/<capture_id>.jpg``: cam2 sends a few body crops of a
  track right after a door handoff tagged it. Each becomes a *body print* of that student, for
  that room and the room-local day, if the student has consent recorded and really was handed
  off to that room by the door camera. The crop itself is deleted once its print is stored: the
  print is all that is needed, and it is deleted with the day.
* ``captures/bodies/<room>/<date>/<capture_id>.jpg``: a crop of a track unknown for too long.
  During a class it is embedded and matched against the room's prints of the day (threshold and
  margin over the runner-up student, as for faces; "unknown" is an answer). A match is stored
  and published as a handoff with ``source="body"`` and the crop's ``capture_id``, which cam2
  routes straight to the track the crop came from.

Every object gets one ``recognition_events`` row (idempotent on the object key, as in the
doorway flow: a redelivery changes nothing, except that a stored but unpublished handoff is
published now). Bad input ends in a recorded outcome; transient failures raise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from cloud_functions.core.db import bodies as bodies_db
from cloud_functions.core.db import doorway as db
from cloud_functions.core.db.doorway import PublishClaim
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.schema import OBJECT_KEY_MAX_CHARS, recordable_object_key
from cloud_functions.core.errors import ObjectNotFoundError
from cloud_functions.core.faces.matcher import FaceGallery, decide
from cloud_functions.core.faces.quality import QualityThresholds, decode_image
from cloud_functions.core.faces.types import FaceRejectedError
from cloud_functions.core.handoff import Handoff, HandoffPublisher
from cloud_functions.core.handoff_outbox import DEFAULT_PUBLISH_LEASE, HandoffOutbox
from cloud_functions.core.reid import BodyEmbedder
from cloud_functions.core.rooms import Refusal, room_context
from cloud_functions.core.storage import ObjectStore
from cloud_functions.core.timetable import (
    CaptureTimeBounds,
    ClassSession,
    GraceWindows,
    UnknownTimeZoneError,
    room_zone,
)
from cloud_functions.core.timing import Stopwatch
from contracts.ids import Usn

logger = logging.getLogger(__name__)

BODIES_PREFIX = "captures/bodies/"
GALLERY_PREFIX = "captures/gallery/"

# A gallery crop must follow a door handoff of the same student to the same room: cam2 sends it
# seconds after the tag; the window allows for a slow outbox, not for crops of another day.
_GALLERY_AFTER_HANDOFF = timedelta(hours=2)
_CLOCK_SKEW = timedelta(minutes=5)


class BodyOutcome(StrEnum):
    """What became of a body or gallery crop; stored in ``recognition_events.outcome``."""

    RECOGNISED = "body_recognised"
    UNKNOWN_PERSON = "body_unknown"
    GALLERY_STORED = "gallery_stored"
    GALLERY_FULL = "gallery_full"
    NO_DOOR_HANDOFF = "no_door_handoff"
    UNKNOWN_STUDENT = "unknown_student"
    NO_CONSENT = "no_consent"
    NO_CLASS_IN_SESSION = "no_class_in_session"
    AMBIGUOUS_TIMETABLE = "ambiguous_timetable"
    UNKNOWN_ROOM = "unknown_room"
    CAMERA_NOT_IN_ROOM = "camera_not_in_room"
    MISSING_METADATA = "missing_metadata"
    OBJECT_MISSING = "object_missing"
    UNEXPECTED_KEY = "unexpected_key"
    UNDECODABLE = "undecodable"
    TOO_LARGE = "too_large"
    TOO_SMALL = "too_small"
    DUPLICATE_CAPTURE_ID = "duplicate_capture_id"
    KEY_TOO_LONG = "key_too_long"
    IMPLAUSIBLE_CAPTURE_TIME = "implausible_capture_time"


class BodyCaptureMetadata(BaseModel):
    """The S3 user metadata cam2 attaches to a body crop."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    room_id: str = Field(min_length=1, max_length=32)
    camera_id: str = Field(min_length=1, max_length=64)
    captured_at: AwareDatetime
    capture_id: str = Field(min_length=1, max_length=64)
    tracker_id: int | None = None


class GalleryCropMetadata(BodyCaptureMetadata):
    """A gallery crop also names the student the door handoff tagged the track with."""

    usn: Usn


@dataclass
class BodyResult:
    """The outcome of one crop, with per-stage timings for the logs (never the image or embedding)."""

    object_key: str
    outcome: BodyOutcome
    kind: Literal["match", "gallery"]
    duplicate: bool = False
    capture_id: str | None = None
    camera_id: str | None = None
    room_id: str | None = None
    tracker_id: int | None = None
    usn: str | None = None
    similarity: float | None = None
    runner_up_similarity: float | None = None
    gallery_size: int | None = None
    course_code: str | None = None
    handoff_message_id: str | None = None
    detail: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BodyMatchRules:
    """The knobs of body matching and the body gallery (see ``FunctionSettings`` for each one)."""

    threshold: float = 0.75
    margin: float = 0.05
    min_body_px: int = 48
    gallery_max_per_student: int = 10
    retention_days: int = 0
    max_image_bytes: int = 5_000_000
    max_image_pixels: int = 40_000_000


def _mark_duplicate_capture_id(result: BodyResult, owner: str | None) -> None:
    """Turn ``result`` into the record of a crop whose capture id another object already holds."""
    by = f" by {owner}" if owner else ""
    result.detail = f"capture_id {result.capture_id} is already used{by}"
    result.outcome, result.usn, result.course_code = BodyOutcome.DUPLICATE_CAPTURE_ID, None, None


@dataclass
class _Evaluation:
    result: BodyResult
    meta: BodyCaptureMetadata | None = None
    class_date: date | None = None
    embedding: NDArray[np.float32] | None = None
    session: ClassSession | None = None


class BodyMatchService:
    """Fills today's body gallery of each room and matches long-unknown tracks against it.

    Args:
        engine: the database.
        store: the capture bucket.
        embedder: the body re-id model.
        publisher: announces body handoffs to the room.
        rules: thresholds, gallery bounds and retention.
        grace: the timetable's grace windows.
    """

    def __init__(
        self,
        engine: Engine,
        store: ObjectStore,
        embedder: BodyEmbedder,
        publisher: HandoffPublisher,
        *,
        rules: BodyMatchRules | None = None,
        grace: GraceWindows | None = None,
        capture_times: CaptureTimeBounds | None = None,
        publish_lease: timedelta = DEFAULT_PUBLISH_LEASE,
    ) -> None:
        self._engine = engine
        self._store = store
        self._embedder = embedder
        self._handoffs = HandoffOutbox(engine, publisher, lease=publish_lease)
        self._rules = rules or BodyMatchRules()
        self._grace = grace or GraceWindows()
        self._capture_times = capture_times or CaptureTimeBounds()

    def process(self, object_key: str) -> BodyResult:
        """Handle one crop object end to end. Idempotent on ``object_key``."""
        kind: Literal["match", "gallery"] = "gallery" if object_key.startswith(GALLERY_PREFIX) else "match"
        clock = Stopwatch()
        recorded_key = recordable_object_key(object_key)
        with clock.stage("db"), transaction(self._engine) as connection:
            existing = db.get_event(connection, recorded_key)
        if existing is not None:
            return self._replay(existing, kind, clock)
        if recorded_key != object_key:
            detail = f"object key of {len(object_key)} characters; at most {OBJECT_KEY_MAX_CHARS}"
            evaluation = _Evaluation(BodyResult(recorded_key, BodyOutcome.KEY_TOO_LONG, kind, detail=detail))
        elif not object_key.startswith((BODIES_PREFIX, GALLERY_PREFIX)):
            evaluation = _Evaluation(BodyResult(object_key, BodyOutcome.UNEXPECTED_KEY, kind))
        else:
            evaluation = self._evaluate(object_key, kind, clock)
        return self._commit(evaluation, clock)

    # -- the steps --------------------------------------------------------------------------

    def _evaluate(self, object_key: str, kind: Literal["match", "gallery"], clock: Stopwatch) -> _Evaluation:
        try:
            with clock.stage("download"):
                head = self._store.head(object_key)
        except ObjectNotFoundError as e:
            return _Evaluation(BodyResult(object_key, BodyOutcome.OBJECT_MISSING, kind, detail=str(e)))
        model = GalleryCropMetadata if kind == "gallery" else BodyCaptureMetadata
        try:
            meta = model.model_validate(dict(head.metadata))
        except ValidationError as e:
            missing = ", ".join(str(err["loc"][0]) for err in e.errors())
            return _Evaluation(
                BodyResult(
                    object_key, BodyOutcome.MISSING_METADATA, kind, detail=f"missing or invalid: {missing}"
                )
            )
        result = BodyResult(
            object_key,
            BodyOutcome.RECOGNISED,
            kind,
            capture_id=meta.capture_id,
            camera_id=meta.camera_id,
            room_id=meta.room_id,
            tracker_id=meta.tracker_id,
            usn=meta.usn if isinstance(meta, GalleryCropMetadata) else None,
        )
        evaluation = _Evaluation(result, meta)

        def done(outcome: BodyOutcome, detail: str | None = None) -> _Evaluation:
            result.outcome, result.detail = outcome, detail
            if outcome not in (BodyOutcome.GALLERY_STORED, BodyOutcome.RECOGNISED):
                result.usn = None  # a USN on an event says who was identified or enrolled, nothing else
            return evaluation

        implausible = self._capture_times.implausibility(
            meta.captured_at, head.last_modified or datetime.now(UTC)
        )
        if implausible is not None:
            return done(BodyOutcome.IMPLAUSIBLE_CAPTURE_TIME, implausible)

        with clock.stage("db"), transaction(self._engine) as connection:
            context = room_context(connection, meta.room_id, meta.camera_id, "room")
        if isinstance(context, Refusal):
            return done(BodyOutcome(context.outcome), context.detail)
        room = context.room
        try:
            evaluation.class_date = meta.captured_at.astimezone(room_zone(room.timezone)).date()
        except UnknownTimeZoneError as e:
            return done(BodyOutcome.AMBIGUOUS_TIMETABLE, str(e))
        if kind == "match":
            # No class, no body matching: nobody is identified outside class hours.
            session = context.class_at(meta.captured_at, self._grace)
            if isinstance(session, Refusal):
                return done(BodyOutcome(session.outcome), session.detail)
            evaluation.session, result.course_code = session, session.course_code

        if isinstance(meta, GalleryCropMetadata):
            refusal = self._gallery_refusal(meta, evaluation.class_date, clock)
            if refusal is not None:
                return done(*refusal)

        if head.size_bytes > self._rules.max_image_bytes:
            return done(
                BodyOutcome.TOO_LARGE, f"{head.size_bytes} bytes > limit {self._rules.max_image_bytes}"
            )
        try:
            with clock.stage("download"):
                data = self._store.get(object_key).body
        except ObjectNotFoundError as e:
            return done(BodyOutcome.OBJECT_MISSING, str(e))
        try:
            with clock.stage("decode"):
                image = decode_image(
                    data,
                    QualityThresholds(
                        max_image_bytes=self._rules.max_image_bytes,
                        max_image_pixels=self._rules.max_image_pixels,
                    ),
                )
        except FaceRejectedError as e:
            return done(BodyOutcome(e.reason.value), e.detail)
        height = image.shape[0]
        if height < self._rules.min_body_px:
            return done(BodyOutcome.TOO_SMALL, f"crop {height} px high < {self._rules.min_body_px}")

        with clock.stage("embed"):
            evaluation.embedding = self._embedder.embed([image])[0]
        if kind == "gallery":
            return done(BodyOutcome.GALLERY_STORED)

        with clock.stage("db"), transaction(self._engine) as connection:
            usns, vectors = bodies_db.load_body_gallery(
                connection, room.room_id, evaluation.class_date, self._embedder.model_id
            )
        with clock.stage("match"):
            gallery = FaceGallery.from_rows(self._embedder.model_id, usns, vectors)
            students, scores = gallery.student_scores(evaluation.embedding)
            decision = decide(students, scores, threshold=self._rules.threshold, margin=self._rules.margin)
        result.gallery_size = len(students)
        result.similarity = round(decision.similarity, 4) if students else None
        result.runner_up_similarity = (
            round(decision.runner_up_similarity, 4) if decision.runner_up_similarity is not None else None
        )
        if decision.usn is None:
            reason = decision.reason.value if decision.reason else "unknown"
            return done(BodyOutcome.UNKNOWN_PERSON, f"{reason}; {len(students)} students in today's gallery")
        result.usn = decision.usn
        return done(BodyOutcome.RECOGNISED)

    def _gallery_refusal(
        self, meta: GalleryCropMetadata, class_date: date, clock: Stopwatch
    ) -> tuple[BodyOutcome, str] | None:
        with clock.stage("db"), transaction(self._engine) as connection:
            consent = bodies_db.student_consent(connection, meta.usn)
            handed_off = consent.exists and bodies_db.door_handoff_exists(
                connection,
                meta.usn,
                meta.room_id,
                meta.captured_at - _GALLERY_AFTER_HANDOFF,
                meta.captured_at + _CLOCK_SKEW,
            )
            stored = bodies_db.count_body_prints(
                connection, meta.usn, meta.room_id, class_date, self._embedder.model_id
            )
        if not consent.exists:
            return BodyOutcome.UNKNOWN_STUDENT, f"no student {meta.usn!r}"
        if not consent.consented:
            return BodyOutcome.NO_CONSENT, f"{meta.usn} has no consent to biometric processing recorded"
        if not handed_off:
            return BodyOutcome.NO_DOOR_HANDOFF, f"{meta.usn} was not handed off to {meta.room_id} by the door"
        if stored >= self._rules.gallery_max_per_student:
            return BodyOutcome.GALLERY_FULL, f"{stored} prints of {meta.usn} today already"
        return None

    def _commit(self, evaluation: _Evaluation, clock: Stopwatch) -> BodyResult:
        result, meta = evaluation.result, evaluation.meta
        handoff: Handoff | None = None
        claim: PublishClaim | None = None
        try:
            with clock.stage("db"), transaction(self._engine) as connection:
                if result.capture_id:
                    owner = db.capture_id_owner(connection, result.capture_id, result.object_key)
                    if owner is not None:
                        _mark_duplicate_capture_id(result, owner)
                db.insert_event(connection, self._event(result, meta, clock))
                if evaluation.class_date is not None and result.room_id is not None:
                    self._expire_prints(connection, result.room_id, evaluation.class_date)
                if result.outcome is BodyOutcome.GALLERY_STORED and meta and result.usn:
                    assert evaluation.embedding is not None and evaluation.class_date is not None
                    bodies_db.insert_body_print(
                        connection,
                        bodies_db.BodyPrint(
                            usn=result.usn,
                            room_id=meta.room_id,
                            class_date=evaluation.class_date,
                            model_id=self._embedder.model_id,
                            embedding=evaluation.embedding,
                            capture_id=meta.capture_id,
                        ),
                    )
                if result.outcome is BodyOutcome.RECOGNISED and meta and result.usn:
                    handoff = Handoff(
                        usn=result.usn,
                        capture_id=meta.capture_id,
                        captured_at=meta.captured_at,
                        similarity=result.similarity or 0.0,
                        course_code=result.course_code,
                        room_id=meta.room_id,
                        camera_id=meta.camera_id,
                        source="body",
                    )
                    claim = self._handoffs.stage(connection, handoff)
        except IntegrityError:
            return self._after_conflict(result, meta, clock)

        if handoff is not None and claim is not None:
            result.handoff_message_id = self._handoffs.publish(handoff, claim, clock)
        if result.outcome is BodyOutcome.GALLERY_STORED:
            self._delete_crop(result.object_key, clock)
        result.timings_ms = clock.timings_ms
        return result

    def _after_conflict(
        self, result: BodyResult, meta: BodyCaptureMetadata | None, clock: Stopwatch
    ) -> BodyResult:
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
    def _event(result: BodyResult, meta: BodyCaptureMetadata | None, clock: Stopwatch) -> db.RecognitionEvent:
        return db.RecognitionEvent(
            object_key=result.object_key,
            outcome=result.outcome.value,
            capture_id=result.capture_id,
            camera_id=result.camera_id,
            room_id=result.room_id,
            captured_at=meta.captured_at if meta else None,
            usn=result.usn,
            similarity=result.similarity,
            latency_ms=clock.total_ms,
            detail=result.detail,
        )

    def expire_body_prints(self, now: datetime) -> int:
        """Delete every body print older than the retention, each room by its own local day.

        Run on a schedule (hourly: some room's day ends every hour somewhere), so prints go with
        the day even when no crop arrives; each crop also expires its own room's prints.
        """
        deleted = 0
        with transaction(self._engine) as connection:
            for room_id, timezone_name in bodies_db.room_time_zones(connection).items():
                try:
                    today = now.astimezone(room_zone(timezone_name)).date()
                except UnknownTimeZoneError:
                    logger.warning(
                        "room has an unknown time zone; its body prints wait", extra={"room_id": room_id}
                    )
                    continue
                deleted += self._expire_prints(connection, room_id, today)
        return deleted

    def _expire_prints(self, connection: Connection, room_id: str, today: date) -> int:
        deleted = bodies_db.delete_expired_body_prints(
            connection, room_id, today - timedelta(days=self._rules.retention_days)
        )
        if deleted:
            logger.info("expired body prints deleted", extra={"room_id": room_id, "deleted": deleted})
        return deleted

    def _delete_crop(self, object_key: str, clock: Stopwatch) -> None:
        # The print is stored; the image of a named student is not kept beside it.
        with clock.stage("delete"):
            self._store.delete(object_key)

    def _replay(
        self, event: db.RecognitionEvent, kind: Literal["match", "gallery"], clock: Stopwatch
    ) -> BodyResult:
        result = BodyResult(
            object_key=event.object_key,
            outcome=BodyOutcome(event.outcome),
            kind=kind,
            duplicate=True,
            capture_id=event.capture_id,
            camera_id=event.camera_id,
            room_id=event.room_id,
            usn=event.usn,
            similarity=event.similarity,
            detail=event.detail,
        )
        if result.outcome is BodyOutcome.RECOGNISED and event.capture_id:
            sent = self._handoffs.publish_unsent(event.capture_id, event.camera_id, clock)
            if sent is not None:
                result.course_code, result.handoff_message_id = sent.handoff.course_code, sent.message_id
        if result.outcome is BodyOutcome.GALLERY_STORED:
            # The delete may have failed after the print was stored; deleting again is harmless.
            self._delete_crop(event.object_key, clock)
        result.timings_ms = clock.timings_ms
        return result
