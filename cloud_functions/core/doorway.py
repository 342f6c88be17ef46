"""The doorway flow: one face capture in, one recorded outcome out.

``DoorwayService.process`` is the plain function behind the face_match handler. It runs with
no AWS and no Lambda: the object store, the face pipeline, the matcher and the handoff
publisher are ports handed in.

Order of work, cheapest and most private first: metadata → capture time → room → timetable
(no class, no face recognition at all) → download → face → match → liveness (the uploaded crop
re-checked and fused with the edge's report, ``core.liveness``) → one transaction (event,
attendance, handoff row, a flag for a suspected spoof) → publish. A suspected spoof with
liveness enforced is ``spoof_suspected``: the event names the student the face matched, an open
flag holds the scores, and nobody is marked or handed off.

Before a new capture is evaluated, corrections waiting for their embedding (a teacher's "this
was not X", ``core.db.negatives``) are embedded from their stored crops with the same pipeline,
at most a few per capture, so the matcher's negatives for X follow the teacher's word.

Every delivery is at-least-once, so the object key decides
(``CaptureLedger``): an object that already has an event is a duplicate and changes nothing,
except that a handoff stored but not yet published is published now.

Bad input ends in a recorded outcome. Transient failures (database down, S3 or SNS errors)
raise, so the message is retried and, in the end, kept in the dead-letter queue.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

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
from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.enrollment_flags import lookalike_partners
from cloud_functions.core.db.flags import NewFlag, raise_flag
from cloud_functions.core.db.negatives import PendingNegative
from cloud_functions.core.db.rosters import matching_roster
from cloud_functions.core.errors import ObjectNotFoundError
from cloud_functions.core.faces.types import AnalysisMode, FaceAnalysis, FaceRejectedError
from cloud_functions.core.handoff import HandoffPublisher
from cloud_functions.core.handoff_outbox import DEFAULT_PUBLISH_LEASE
from cloud_functions.core.liveness import DoorLiveness, DoorLivenessCheck
from cloud_functions.core.matching import MatchDecision, MatchResult, UnknownReason
from cloud_functions.core.outcomes import Outcome
from cloud_functions.core.rooms import Refusal, locate_class
from cloud_functions.core.storage import ObjectStore
from cloud_functions.core.timetable import CaptureTimeBounds, ClassSession, GraceWindows
from cloud_functions.core.timing import Stopwatch
from contracts.captures import FaceCaptureMetadata
from contracts.handoff import Handoff
from contracts.keys import recordable_object_key

logger = logging.getLogger(__name__)


class FaceAnalyser(Protocol):
    """Port: the face pipeline (``FacePipeline``)."""

    def analyse(self, image_bytes: bytes, mode: AnalysisMode = "capture") -> FaceAnalysis: ...


class IdentityMatcher(Protocol):
    """Port: 1:N search against the enrolled faceprints of the pipeline's model (``Matcher``)."""

    def match(
        self,
        embedding: NDArray[np.floating],
        *,
        roster: Set[str] | None = None,
        lookalikes: Mapping[str, Set[str]] | None = None,
    ) -> MatchResult: ...


class NegativeStore(Protocol):
    """Port: corrections waiting for their crop's embedding (``FaceNegativeRepository``)."""

    def pending(self, limit: int = 10) -> list[PendingNegative]: ...

    def store(self, negative_id: int, model_id: str, embedding: NDArray[np.floating]) -> None: ...

    def mark_unavailable(self, negative_id: int, detail: str) -> None: ...


@dataclass
class DoorwayResult(CaptureResult):
    """The outcome of one door capture; ``attendance_status`` is the row's status after it."""

    attendance_status: str | None = None


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
        liveness: DoorLivenessCheck | None = None,
        negatives: NegativeStore | None = None,
        negatives_per_capture: int = 3,
    ) -> None:
        self._engine = engine
        self._negatives = negatives
        self._negatives_per_capture = negatives_per_capture
        self._liveness = liveness
        self._store = store
        self._faces = faces
        self._matcher = matcher
        self._ledger = CaptureLedger(engine, publisher, publish_lease=publish_lease)
        self._grace = grace or GraceWindows()
        self._max_image_bytes = max_image_bytes
        self._capture_times = capture_times or CaptureTimeBounds()

    def process(self, object_key: str) -> DoorwayResult:
        """Handle one capture object end to end. Idempotent on ``object_key``."""
        clock = Stopwatch()
        existing = self._ledger.recorded(object_key, clock)
        if existing is not None:
            result = DoorwayResult(**replayed_result(existing))
            self._ledger.replay(result, clock)
            return result
        too_long = overlong_key_detail(object_key)
        if too_long is not None:
            result = DoorwayResult(recordable_object_key(object_key), Outcome.KEY_TOO_LONG, detail=too_long)
            self._ledger.commit(result, clock)
            return result
        self._learn_corrections(clock)
        evaluation = self._evaluate(object_key, clock)
        self._ledger.commit(evaluation.result, clock, evaluation.writes())
        return evaluation.result

    def _learn_corrections(self, clock: Stopwatch) -> None:
        """Embed the crops of door recognitions corrected as "not this student" (a few at a time)."""
        if self._negatives is None:
            return
        waiting = self._negatives.pending(self._negatives_per_capture)
        if not waiting:
            return
        with clock.stage("negatives"):
            for negative in waiting:
                try:
                    body = self._store.get(negative.object_key).body
                    analysis = self._faces.analyse(body, "capture")
                except ObjectNotFoundError:
                    self._negatives.mark_unavailable(
                        negative.id, "the capture's crop is no longer in the bucket (capture retention)"
                    )
                    continue
                except FaceRejectedError as e:
                    self._negatives.mark_unavailable(
                        negative.id, f"no usable face in the crop: {e.reason.value}"
                    )
                    continue
                self._negatives.store(negative.id, analysis.model_id, analysis.embedding)
                logger.info(
                    "correction learned as a negative",
                    extra={"usn": negative.usn, "capture_id": negative.capture_id},
                )

    def _evaluate(self, object_key: str, clock: Stopwatch) -> _Evaluation:
        try:
            with clock.stage("download"):
                head = self._store.head(object_key)
        except ObjectNotFoundError as e:
            return _Evaluation(DoorwayResult(object_key, Outcome.OBJECT_MISSING, detail=str(e)))
        try:
            meta = FaceCaptureMetadata.from_s3(head.metadata)
        except ValidationError as e:
            return _Evaluation(
                DoorwayResult(object_key, Outcome.MISSING_METADATA, detail=metadata_problems(e))
            )

        result = DoorwayResult(
            object_key,
            Outcome.RECOGNISED,
            capture_id=meta.capture_id,
            camera_id=meta.camera_id,
            room_id=meta.room_id,
            captured_at=meta.captured_at,
        )

        def done(
            outcome: Outcome,
            detail: str | None = None,
            *,
            session: ClassSession | None = None,
            liveness: DoorLiveness | None = None,
        ) -> _Evaluation:
            # A USN and a course on an event say who was identified in which class (or, for a
            # suspected spoof, whose face was shown), nothing else. A dropped appearance value
            # is noted whatever the outcome: the edge that sent it needs fixing.
            notes = [note for note in (detail, meta.appearance_problem) if note]
            result.outcome, result.detail = outcome, "; ".join(notes) or None
            result.course_code = session.course_code if session else None
            if outcome not in (Outcome.RECOGNISED, Outcome.SPOOF_SUSPECTED, Outcome.NOT_ON_ROSTER):
                result.usn = None
            return _Evaluation(result, meta, session, liveness)

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
                return done(located.outcome, located.detail)
            session = located.session
            roster = matching_roster(connection, session.course_code, session.class_date)
            lookalikes = lookalike_partners(connection)

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
            decision = self._matcher.match(analysis.embedding, roster=roster, lookalikes=lookalikes)
        result.similarity = round(float(decision.similarity), 4)
        liveness = self._judge_liveness(meta, analysis, clock)
        # A suspicion in record_only mode is noted on the event; attendance goes ahead.
        noted = liveness.summary() if liveness is not None and liveness.suspected else None
        if liveness is not None and liveness.blocks_attendance:
            result.usn = decision.usn
            return done(Outcome.SPOOF_SUSPECTED, noted, session=session, liveness=liveness)
        if decision.decision is MatchDecision.NOT_ON_ROSTER:
            # Named for admins (the event's usn and course), never marked or handed off.
            result.usn = decision.best_usn
            evaluation = done(Outcome.NOT_ON_ROSTER, noted, session=session, liveness=liveness)
            return _Evaluation(evaluation.result, meta, None, liveness, flag_session=session)
        if decision.usn is None:
            if noted is None and decision.reason is UnknownReason.CORRECTED_NEGATIVE:
                # The face resembles a capture a teacher said was not this student: refused, said why.
                noted = UnknownReason.CORRECTED_NEGATIVE.value
            evaluation = done(Outcome.UNKNOWN_PERSON, noted, liveness=liveness)
            return _Evaluation(evaluation.result, meta, None, liveness, flag_session=session)
        result.usn = decision.usn
        return done(Outcome.RECOGNISED, noted, session=session, liveness=liveness)

    def _judge_liveness(
        self, meta: FaceCaptureMetadata, analysis: FaceAnalysis, clock: Stopwatch
    ) -> DoorLiveness | None:
        if self._liveness is None:
            return None
        source = analysis.aligned.source
        if source is None:
            logger.warning("face analysis kept no decoded image; liveness not re-checked")
            return None
        with clock.stage("liveness"):
            return self._liveness.judge(meta.liveness, source, analysis.face.xyxy)


@dataclass(frozen=True)
class _Evaluation:
    result: DoorwayResult
    meta: FaceCaptureMetadata | None = None
    session: ClassSession | None = None
    liveness: DoorLiveness | None = None
    flag_session: ClassSession | None = None
    """The class a suspected spoof by an unknown face was shown in (its flag's course)."""

    def writes(self) -> _DoorWrites | None:
        """The attendance row and handoff a recognised student in class gets; a suspected spoof's flag."""
        result, meta = self.result, self.meta
        if meta is None:
            return None
        attends = result.outcome is Outcome.RECOGNISED and self.session is not None and result.usn is not None
        flag = self._flag(meta)
        if not attends and flag is None:
            return None
        return _DoorWrites(result, meta, self.session if attends else None, flag)

    def _flag(self, meta: FaceCaptureMetadata) -> NewFlag | None:
        liveness, session = self.liveness, self.session or self.flag_session
        if liveness is None or not liveness.suspected or session is None:
            return None
        result = self.result
        evidence = liveness.evidence() | {
            "object_key": result.object_key,
            "camera_id": meta.camera_id,
            "captured_at": meta.captured_at,
            "similarity": result.similarity,
            "arrival": session.arrival,
            "outcome": result.outcome.value,
        }
        return NewFlag(
            kind="spoof_suspected",
            dedupe_key=f"spoof_suspected:{meta.capture_id}",
            usn=result.usn,
            room_id=meta.room_id,
            course_code=session.course_code,
            class_date=session.class_date,
            capture_id=meta.capture_id,
            evidence=evidence,
        )


@dataclass(frozen=True)
class _DoorWrites:
    result: DoorwayResult
    meta: FaceCaptureMetadata
    session: ClassSession | None
    flag: NewFlag | None = None

    def __call__(self, connection: Connection) -> Handoff | None:
        result, meta, session = self.result, self.meta, self.session
        if self.flag is not None:
            raise_flag(connection, self.flag)
        if session is None:
            return None
        assert result.usn is not None
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
        return result.handoff("face", meta.appearance)
