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

Every object gets one ``recognition_events`` row (``CaptureLedger``, as in the doorway flow: a
redelivery changes nothing, except that a stored but unpublished handoff is published now).
Bad input ends in a recorded outcome; transient failures raise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine

from cloud_functions.core.captures import (
    CaptureLedger,
    CaptureResult,
    metadata_problems,
    overlong_key_detail,
    replayed_result,
)
from cloud_functions.core.db import bodies as bodies_db
from cloud_functions.core.db import handoffs as handoffs_db
from cloud_functions.core.db import rooms as rooms_db
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.students import student_consent
from cloud_functions.core.errors import ObjectNotFoundError
from cloud_functions.core.handoff import HandoffPublisher
from cloud_functions.core.handoff_outbox import DEFAULT_PUBLISH_LEASE
from cloud_functions.core.images import ImageRejectedError, decode_image
from cloud_functions.core.matching import Gallery, decide
from cloud_functions.core.outcomes import Outcome
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
from contracts.captures import BodyCaptureMetadata, GalleryCropMetadata
from contracts.handoff import Handoff
from contracts.keys import BODIES_PREFIX, GALLERY_PREFIX, recordable_object_key

logger = logging.getLogger(__name__)

# A gallery crop must follow a door handoff of the same student to the same room: cam2 sends it
# seconds after the tag; the window allows for a slow outbox, not for crops of another day.
_GALLERY_AFTER_HANDOFF = timedelta(hours=2)
_CLOCK_SKEW = timedelta(minutes=5)
# Outcomes whose event names a student: identified by a body match, or enrolled into the gallery.
_NAMES_A_STUDENT = (Outcome.GALLERY_STORED, Outcome.BODY_RECOGNISED)


@dataclass
class BodyResult(CaptureResult):
    """The outcome of one body or gallery crop, with what the match saw."""

    kind: Literal["match", "gallery"] = "match"
    tracker_id: int | None = None
    runner_up_similarity: float | None = None
    gallery_size: int | None = None


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
        capture_times: how far a crop's timestamp may lie from its arrival.
        publish_lease: how long a committing worker's claim on a handoff lasts.
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
        self._ledger = CaptureLedger(engine, publisher, publish_lease=publish_lease)
        self._rules = rules or BodyMatchRules()
        self._grace = grace or GraceWindows()
        self._capture_times = capture_times or CaptureTimeBounds()

    def process(self, object_key: str) -> BodyResult:
        """Handle one crop object end to end. Idempotent on ``object_key``."""
        kind: Literal["match", "gallery"] = "gallery" if object_key.startswith(GALLERY_PREFIX) else "match"
        clock = Stopwatch()
        existing = self._ledger.recorded(object_key, clock)
        if existing is not None:
            result = BodyResult(**replayed_result(existing), kind=kind)
            self._ledger.replay(result, clock)
            if result.outcome is Outcome.GALLERY_STORED:
                # The delete may have failed after the print was stored; deleting again is harmless.
                self._delete_crop(result.object_key, clock)
            return result
        too_long = overlong_key_detail(object_key)
        if too_long is not None:
            key = recordable_object_key(object_key)
            evaluation = _Evaluation(BodyResult(key, Outcome.KEY_TOO_LONG, kind=kind, detail=too_long))
        elif not object_key.startswith((BODIES_PREFIX, GALLERY_PREFIX)):
            evaluation = _Evaluation(BodyResult(object_key, Outcome.UNEXPECTED_KEY, kind=kind))
        else:
            evaluation = self._evaluate(object_key, kind, clock)
        result = evaluation.result
        self._ledger.commit(result, clock, lambda connection: self._write(connection, evaluation))
        if result.outcome is Outcome.GALLERY_STORED:
            self._delete_crop(result.object_key, clock)
        return result

    # -- the steps --------------------------------------------------------------------------

    def _evaluate(self, object_key: str, kind: Literal["match", "gallery"], clock: Stopwatch) -> _Evaluation:
        try:
            with clock.stage("download"):
                head = self._store.head(object_key)
        except ObjectNotFoundError as e:
            return _Evaluation(BodyResult(object_key, Outcome.OBJECT_MISSING, kind=kind, detail=str(e)))
        model = GalleryCropMetadata if kind == "gallery" else BodyCaptureMetadata
        try:
            meta = model.from_s3(head.metadata)
        except ValidationError as e:
            return _Evaluation(
                BodyResult(object_key, Outcome.MISSING_METADATA, kind=kind, detail=metadata_problems(e))
            )
        result = BodyResult(
            object_key,
            Outcome.BODY_RECOGNISED,
            kind=kind,
            capture_id=meta.capture_id,
            camera_id=meta.camera_id,
            room_id=meta.room_id,
            captured_at=meta.captured_at,
            tracker_id=meta.tracker_id,
            usn=meta.usn if isinstance(meta, GalleryCropMetadata) else None,
        )
        evaluation = _Evaluation(result, meta)

        def done(outcome: Outcome, detail: str | None = None) -> _Evaluation:
            result.outcome, result.detail = outcome, detail
            if outcome not in _NAMES_A_STUDENT:
                result.usn = None  # a USN on an event says who was identified or enrolled, nothing else
            return evaluation

        implausible = self._capture_times.implausibility(
            meta.captured_at, head.last_modified or datetime.now(UTC)
        )
        if implausible is not None:
            return done(Outcome.IMPLAUSIBLE_CAPTURE_TIME, implausible)

        with clock.stage("db"), transaction(self._engine) as connection:
            context = room_context(
                connection, meta.room_id, meta.camera_id, "room", meta.captured_at, self._grace
            )
        if isinstance(context, Refusal):
            return done(context.outcome, context.detail)
        room = context.room
        try:
            evaluation.class_date = meta.captured_at.astimezone(room_zone(room.timezone)).date()
        except UnknownTimeZoneError as e:
            return done(Outcome.AMBIGUOUS_TIMETABLE, str(e))
        if kind == "match":
            # No class, no body matching: nobody is identified outside class hours.
            session = context.class_at(meta.captured_at, self._grace)
            if isinstance(session, Refusal):
                return done(session.outcome, session.detail)
            evaluation.session, result.course_code = session, session.course_code

        if isinstance(meta, GalleryCropMetadata):
            refusal = self._gallery_refusal(meta, evaluation.class_date, clock)
            if refusal is not None:
                return done(*refusal)

        if head.size_bytes > self._rules.max_image_bytes:
            return done(Outcome.TOO_LARGE, f"{head.size_bytes} bytes > limit {self._rules.max_image_bytes}")
        try:
            with clock.stage("download"):
                data = self._store.get(object_key).body
        except ObjectNotFoundError as e:
            return done(Outcome.OBJECT_MISSING, str(e))
        try:
            with clock.stage("decode"):
                image = decode_image(
                    data, max_bytes=self._rules.max_image_bytes, max_pixels=self._rules.max_image_pixels
                )
        except ImageRejectedError as e:
            return done(Outcome(e.reason), e.detail)
        height = image.shape[0]
        if height < self._rules.min_body_px:
            return done(Outcome.TOO_SMALL, f"crop {height} px high < {self._rules.min_body_px}")

        with clock.stage("embed"):
            evaluation.embedding = self._embedder.embed([image])[0]
        if kind == "gallery":
            return done(Outcome.GALLERY_STORED)

        with clock.stage("db"), transaction(self._engine) as connection:
            usns, vectors = bodies_db.load_body_gallery(
                connection, room.room_id, evaluation.class_date, self._embedder.model_id
            )
        with clock.stage("match"):
            gallery = Gallery.from_rows(self._embedder.model_id, usns, vectors)
            students, scores = gallery.student_scores(evaluation.embedding)
            decision = decide(students, scores, threshold=self._rules.threshold, margin=self._rules.margin)
        result.gallery_size = len(students)
        result.similarity = round(decision.similarity, 4) if students else None
        result.runner_up_similarity = (
            round(decision.runner_up_similarity, 4) if decision.runner_up_similarity is not None else None
        )
        if decision.usn is None:
            reason = decision.reason.value if decision.reason else "unknown"
            return done(Outcome.BODY_UNKNOWN, f"{reason}; {len(students)} students in today's gallery")
        result.usn = decision.usn
        return done(Outcome.BODY_RECOGNISED)

    def _gallery_refusal(
        self, meta: GalleryCropMetadata, class_date: date, clock: Stopwatch
    ) -> tuple[Outcome, str] | None:
        with clock.stage("db"), transaction(self._engine) as connection:
            consent = student_consent(connection, meta.usn)
            handed_off = (
                consent is not None
                and consent.has_consent
                and handoffs_db.door_handoff_exists(
                    connection,
                    meta.usn,
                    meta.room_id,
                    meta.captured_at - _GALLERY_AFTER_HANDOFF,
                    meta.captured_at + _CLOCK_SKEW,
                )
            )
            stored = bodies_db.count_body_prints(
                connection, meta.usn, meta.room_id, class_date, self._embedder.model_id
            )
        if consent is None:
            return Outcome.UNKNOWN_STUDENT, f"no student {meta.usn!r}"
        if not consent.has_consent:
            return Outcome.NO_CONSENT, f"{meta.usn} has no consent to biometric processing recorded"
        if not handed_off:
            return Outcome.NO_DOOR_HANDOFF, f"{meta.usn} was not handed off to {meta.room_id} by the door"
        if stored >= self._rules.gallery_max_per_student:
            return Outcome.GALLERY_FULL, f"{stored} prints of {meta.usn} today already"
        return None

    def _write(self, connection: Connection, evaluation: _Evaluation) -> Handoff | None:
        """In the event's transaction: expire the room's old prints, store a print, name a handoff."""
        result, meta = evaluation.result, evaluation.meta
        if evaluation.class_date is not None and result.room_id is not None:
            self._expire_prints(connection, result.room_id, evaluation.class_date)
        if result.outcome is Outcome.GALLERY_STORED and meta and result.usn:
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
        if result.outcome is Outcome.BODY_RECOGNISED and meta and result.usn:
            return result.handoff("body")
        return None

    def expire_body_prints(self, now: datetime) -> int:
        """Delete every body print older than the retention, each room by its own local day.

        Run on a schedule (hourly: some room's day ends every hour somewhere), so prints go with
        the day even when no crop arrives; each crop also expires its own room's prints.
        """
        deleted = 0
        with transaction(self._engine) as connection:
            for room_id, timezone_name in rooms_db.room_time_zones(connection).items():
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
