"""The presence flow: one cam2 presence report in, attendance confirmed for who stayed.

``PresenceService.process`` is the plain function behind the presence handler; the object
store is a port handed in. Order of work: record lookup (a redelivered report changes nothing)
→ download → parse → room and camera → timetable (outside class hours nothing is written) →
one transaction: the report's record and every confirmation.

The minimum dwell is counted inside the class: from the later of the track's first sighting and
the class start, to its last sighting. A student who waited in the room before the class, or
stayed on from the class before, has to be seen that long into *this* class, which is what a
teacher means by "was in my class". The confirmation time is the moment the dwell was reached
(not the report's time), so reports arriving late or out of order confirm the same moment, and
the earliest confirmation wins.

Bad input (malformed JSON, unknown room, no class) ends in a recorded outcome. Transient failures
(database down, storage errors) raise, so the message is retried and finally kept in the DLQ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from cloud_functions.core.cross_check import cross_check
from cloud_functions.core.db import presence as db
from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.students import existing_students
from cloud_functions.core.errors import ObjectNotFoundError
from cloud_functions.core.outcomes import Outcome
from cloud_functions.core.proxy_rules import ProxyRules
from cloud_functions.core.rooms import Refusal, locate_class
from cloud_functions.core.storage import ObjectStore
from cloud_functions.core.timetable import (
    CaptureTimeBounds,
    ClassSession,
    GraceWindows,
)
from contracts.keys import OBJECT_KEY_MAX_CHARS, recordable_object_key
from contracts.presence import MAX_REPORT_BYTES, PresenceReport, PresentTrack


@dataclass
class PresenceResult:
    """The outcome of one report, for the logs."""

    object_key: str
    outcome: Outcome
    duplicate: bool = False
    room_id: str | None = None
    camera_id: str | None = None
    reported_at: datetime | None = None
    course_code: str | None = None
    class_date: date | None = None
    present_count: int = 0
    confirmed_usns: list[str] = field(default_factory=list)
    flags_raised: int = 0
    detail: str | None = None
    latency_ms: float = 0.0

    def log_fields(self) -> dict[str, Any]:
        """The structured log line's fields, JSON-ready."""
        return {
            "object_key": self.object_key,
            "outcome": self.outcome.value,
            "duplicate": self.duplicate,
            "room_id": self.room_id,
            "camera_id": self.camera_id,
            "reported_at": self.reported_at.isoformat() if self.reported_at else None,
            "course_code": self.course_code,
            "class_date": self.class_date.isoformat() if self.class_date else None,
            "present": self.present_count,
            "confirmed_usns": self.confirmed_usns,
            "flags_raised": self.flags_raised,
            "detail": self.detail,
            "latency_ms": self.latency_ms,
        }


def required_dwell(min_dwell: timedelta, session: ClassSession) -> timedelta:
    """The dwell that confirms attendance: ``min_dwell``, at most half the class."""
    return min(min_dwell, (session.ends_at - session.starts_at) / 2)


def confirmation_time(track: PresentTrack, session: ClassSession, required: timedelta) -> datetime | None:
    """When ``track`` had been in the class for ``required``, or None if it has not yet."""
    counted_from = max(track.first_seen_at, session.starts_at)
    in_class = min(track.last_seen_at - counted_from, timedelta(seconds=track.dwell_s))
    if in_class < required:
        return None
    return counted_from + required


class PresenceService:
    """Turns presence reports into confirmed attendance.

    Args:
        engine: the database.
        store: the capture bucket.
        min_dwell: time in the class that confirms a student (capped at half the class).
        grace: the timetable's grace windows (a report just before a class counts for it).
        proxy_rules: the two cameras' cross-check run on each report (:mod:`cross_check`).
    """

    def __init__(
        self,
        engine: Engine,
        store: ObjectStore,
        *,
        min_dwell: timedelta = timedelta(minutes=10),
        grace: GraceWindows | None = None,
        capture_times: CaptureTimeBounds | None = None,
        proxy_rules: ProxyRules | None = None,
    ) -> None:
        self._engine = engine
        self._proxy_rules = proxy_rules or ProxyRules()
        self._store = store
        self._min_dwell = min_dwell
        self._grace = grace or GraceWindows()
        self._capture_times = capture_times or CaptureTimeBounds()

    def process(self, object_key: str) -> PresenceResult:
        """Handle one report object end to end. Idempotent on ``object_key``."""
        started = time.perf_counter()
        recorded_key = recordable_object_key(object_key)
        with transaction(self._engine) as connection:
            existing = db.get_report(connection, recorded_key)
        if existing is not None:
            return _replay(existing)
        if recorded_key != object_key:
            detail = f"object key of {len(object_key)} characters; at most {OBJECT_KEY_MAX_CHARS}"
            return self._commit(PresenceResult(recorded_key, Outcome.KEY_TOO_LONG, detail=detail), [])
        result, confirmations, check = self._evaluate(object_key)
        result.latency_ms = round((time.perf_counter() - started) * 1e3, 2)
        return self._commit(result, confirmations, check)

    def _evaluate(
        self, object_key: str
    ) -> tuple[PresenceResult, list[db.PresenceConfirmation], _CrossCheck | None]:
        def done(outcome: Outcome, detail: str | None = None) -> PresenceResult:
            return PresenceResult(object_key, outcome, detail=detail)

        try:
            head = self._store.head(object_key)
            if head.size_bytes > MAX_REPORT_BYTES:
                return done(Outcome.TOO_LARGE, f"{head.size_bytes} bytes > {MAX_REPORT_BYTES}"), [], None
            body = self._store.get(object_key).body
        except ObjectNotFoundError as e:
            return done(Outcome.OBJECT_MISSING, str(e)), [], None
        try:
            report = PresenceReport.model_validate_json(body)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in e.errors()
            )
            return done(Outcome.MALFORMED_REPORT, problems), [], None

        result = PresenceResult(
            object_key,
            Outcome.PROCESSED,
            room_id=report.room_id,
            camera_id=report.camera_id,
            reported_at=report.reported_at,
            present_count=len(report.present),
        )
        implausible = self._capture_times.implausibility(
            report.reported_at, head.last_modified or datetime.now(UTC)
        )
        if implausible is not None:
            result.outcome, result.detail = Outcome.IMPLAUSIBLE_CAPTURE_TIME, implausible
            return result, [], None
        with transaction(self._engine) as connection:
            located = locate_class(
                connection, report.room_id, report.camera_id, "room", report.reported_at, self._grace
            )
            known = existing_students(
                connection, [u for t in report.present for u in (t.usn, *(e.usn for e in t.earlier_tags))]
            )
        if isinstance(located, Refusal):
            result.outcome, result.detail = located.outcome, located.detail
            return result, [], None
        room, session = located.context.room, located.session
        result.course_code, result.class_date = session.course_code, session.class_date

        required = required_dwell(self._min_dwell, session)
        # One USN may sit on two tracks for a moment (a handoff moving it): the earliest wins.
        earliest: dict[str, tuple[datetime, Literal["face", "body"]]] = {}
        for track in report.present:
            if track.usn not in known:
                continue
            at = confirmation_time(track, session, required)
            if at is None:
                continue
            source: Literal["face", "body"] = "face" if track.source == "face" else "body"
            if track.usn not in earliest or at < earliest[track.usn][0]:
                earliest[track.usn] = (at, source)
        unknown_usns = {t.usn for t in report.present} - known
        if unknown_usns:
            result.detail = f"{len(unknown_usns)} reported USNs are not students"
        result.confirmed_usns = sorted(earliest)
        confirmations = [
            db.PresenceConfirmation(
                usn=usn,
                course_code=session.course_code,
                class_date=session.class_date,
                room_id=room.room_id,
                confirmed_at=at,
                source=source,
            )
            for usn, (at, source) in sorted(earliest.items())
        ]
        return result, confirmations, _CrossCheck(report, session, known)

    def _commit(
        self,
        result: PresenceResult,
        confirmations: list[db.PresenceConfirmation],
        check: _CrossCheck | None = None,
    ) -> PresenceResult:
        try:
            with transaction(self._engine) as connection:
                db.insert_report(
                    connection,
                    db.PresenceReportRecord(
                        object_key=result.object_key,
                        outcome=result.outcome.value,
                        room_id=result.room_id,
                        camera_id=result.camera_id,
                        reported_at=result.reported_at,
                        course_code=result.course_code,
                        class_date=result.class_date,
                        present_count=result.present_count,
                        confirmed_count=len(confirmations),
                        latency_ms=result.latency_ms,
                        detail=result.detail,
                    ),
                )
                for confirmation in confirmations:
                    db.confirm_presence(connection, confirmation)
                if check is not None:
                    checked = cross_check(
                        connection,
                        check.report,
                        check.session,
                        check.known_usns,
                        self._proxy_rules,
                        self._grace,
                    )
                    result.flags_raised = checked.flags_raised
        except IntegrityError:
            # Another delivery of the same report won the race; its transaction is the record.
            result.duplicate = True
        return result


@dataclass(frozen=True)
class _CrossCheck:
    """What the two cameras' cross-check needs of a report that reached its class."""

    report: PresenceReport
    session: ClassSession
    known_usns: set[str]


def _replay(record: db.PresenceReportRecord) -> PresenceResult:
    return PresenceResult(
        object_key=record.object_key,
        outcome=Outcome(record.outcome),
        duplicate=True,
        room_id=record.room_id,
        camera_id=record.camera_id,
        reported_at=record.reported_at,
        course_code=record.course_code,
        class_date=record.class_date,
        present_count=record.present_count,
        detail=record.detail,
    )
