"""Handoffs from the door camera: the message, its parsing, and who in the room it belongs to.

A handoff says "student ``usn`` was seen at the door of ``room_id`` at ``captured_at``". cam2
expects that person to appear through the door zone about ``walk_delay_s`` later and tags the
unknown track that did, choosing for all waiting handoffs at once (minimum total time
difference, :func:`scipy.optimize.linear_sum_assignment`) rather than first come, first served.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError
from scipy.optimize import linear_sum_assignment

from contracts.handoff import Handoff
from edge_client.cam2.errors import ForeignRoomError, InvalidHandoffError
from edge_client.cam2.settings import Cam2Settings
from edge_client.cam2.tracks import TrackRecord, TrackRegistry

logger = logging.getLogger(__name__)

# Cost of an impossible pairing; anything this large is never committed.
_INFEASIBLE = 1e9
# Capture ids remembered for de-duplication and body-crop routing: far more than a day of a
# classroom's handoffs, small enough that memory stays flat on a PC running for months.
_REMEMBERED_CAPTURES = 10_000


def _remember(memory: OrderedDict[str, int], capture_id: str, tracker_id: int) -> None:
    memory[capture_id] = tracker_id
    memory.move_to_end(capture_id)
    while len(memory) > _REMEMBERED_CAPTURES:
        memory.popitem(last=False)


def parse_handoff(body: str, attributes: Mapping[str, str] | None = None) -> Handoff:
    """Parse an SQS message body: a raw handoff, or one wrapped in an SNS notification envelope.

    Args:
        body: the SQS message body.
        attributes: SQS message attributes as plain strings (raw delivery puts SNS message
            attributes there); ``room_id``/``camera_id`` found there must agree with the body.

    Raises:
        InvalidHandoffError: not JSON, not a handoff, or attributes contradicting the body.
    """
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, TypeError) as e:
        raise InvalidHandoffError(f"handoff body is not JSON: {e}") from e
    found: dict[str, str] = dict(attributes or {})
    if isinstance(payload, dict) and payload.get("Type") == "Notification" and "Message" in payload:
        for name, attribute in (payload.get("MessageAttributes") or {}).items():
            if isinstance(attribute, dict) and "Value" in attribute:
                found[name] = str(attribute["Value"])
        try:
            payload = json.loads(payload["Message"])
        except (json.JSONDecodeError, TypeError) as e:
            raise InvalidHandoffError(f"SNS envelope holds no JSON handoff: {e}") from e
    if not isinstance(payload, dict):
        raise InvalidHandoffError(f"handoff must be a JSON object, got {type(payload).__name__}")
    try:
        message = Handoff.model_validate(payload)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise InvalidHandoffError(f"not a handoff: {problems}") from e
    for name in ("room_id", "camera_id"):
        value = getattr(message, name)
        if name in found and value is not None and found[name] != value:
            raise InvalidHandoffError(f"message attribute {name}={found[name]!r} contradicts body {value!r}")
    return message


def ensure_room(message: Handoff, room_id: str) -> Handoff:
    """Return ``message`` if it is for ``room_id``; raise ``ForeignRoomError`` otherwise."""
    if message.room_id != room_id:
        raise ForeignRoomError(f"handoff {message.capture_id} is for room {message.room_id}, not {room_id}")
    return message


@dataclass
class PendingHandoff:
    """A handoff waiting for its person; ``ack`` is handed back once it is applied or dropped."""

    message: Handoff
    expected_at: datetime
    ack: object = None


@dataclass(frozen=True)
class HandoffOutcome:
    """What became of a handoff.

    ``tracker_id`` is the track it tagged, or ``None`` when it tagged nobody: either it expired
    with no candidate (``expired``), or newer evidence already holds the USN (decided all the
    same, so the message may be deleted).
    """

    message: Handoff
    tracker_id: int | None
    ack: object = None
    expired: bool = False

    @property
    def applied(self) -> bool:
        """The handoff was decided and its message can be deleted."""
        return not self.expired


class ClockOffsetEstimator:
    """How far the room's clock runs ahead of the door camera's, learned from confident pairs.

    Each confident pairing (the handoff had one candidate and the candidate one handoff) gives
    one sample: the track's appearance minus the handoff's expected arrival. The estimate is
    the median of the recent samples after dropping those far from it (median absolute
    deviation), clamped to ``+-max_offset_s``: one person who lingered at the door, or a wrong
    pairing, cannot drag it. Walkers slower or faster than ``walk_delay_s`` on average show up
    here too, which is the same correction.

    Args:
        max_offset_s: largest offset believed; beyond it clocks need fixing, not guessing.
        samples: recent pairs kept; more is steadier, fewer follows a drifting clock sooner.
        min_samples: pairs needed before any correction is applied.
    """

    def __init__(self, max_offset_s: float = 5.0, samples: int = 20, min_samples: int = 3) -> None:
        self.max_offset_s = max_offset_s
        self.min_samples = min_samples
        self._samples: deque[float] = deque(maxlen=samples)

    def observe(self, offset_s: float) -> None:
        """Add one pair's arrival minus expected arrival (seconds)."""
        self._samples.append(float(offset_s))

    @property
    def sample_count(self) -> int:
        """Confident pairs the estimate rests on."""
        return len(self._samples)

    @property
    def offset_s(self) -> float:
        """The correction to add to a handoff's expected arrival (0 until ``min_samples``)."""
        if len(self._samples) < self.min_samples:
            return 0.0
        values = np.array(self._samples)
        median = float(np.median(values))
        spread = float(np.median(np.abs(values - median))) * 1.4826
        kept = values[np.abs(values - median) <= max(3.0 * spread, 0.5)]
        estimate = float(np.median(kept)) if len(kept) else median
        return float(np.clip(estimate, -self.max_offset_s, self.max_offset_s))

    def reset(self) -> None:
        """Forget every sample."""
        self._samples.clear()


class HandoffAssigner:
    """Pairs waiting handoffs with tracks that entered through the door, jointly.

    Args:
        walk_delay_s: expected time from the door camera's capture to appearing in this view.
        max_time_diff_s: largest gap between expected arrival and a track's appearance for the
            pair to be possible. Larger tolerates slow walkers but pairs unrelated people.
        settle_s: wait past the expected arrival before committing a pair, so that a later but
            closer match can still win. Longer is more accurate but tags later.
        wait_s: how long past the expected arrival a handoff waits for any candidate.
        clock: estimates the door/room clock offset from confident pairs and corrects expected
            arrivals with it; ``None``: the clocks are trusted as they are.
        confident_gap_s: a pairing counts as confident for the clock only when no other
            candidate or handoff lies within this many seconds of it.
        appearance_weight_s: when a handoff carries the clothing colour the door camera saw
            and the track has its own, a full colour mismatch costs as much as this many
            seconds of time difference. 0: time alone decides.
    """

    def __init__(
        self,
        walk_delay_s: float = 3.0,
        max_time_diff_s: float = 4.0,
        settle_s: float = 1.0,
        wait_s: float = 10.0,
        clock: ClockOffsetEstimator | None = None,
        confident_gap_s: float = 2.0,
        appearance_weight_s: float = 0.0,
    ) -> None:
        self.walk_delay = timedelta(seconds=walk_delay_s)
        self.max_time_diff_s = max_time_diff_s
        self.settle = timedelta(seconds=settle_s)
        self.wait = timedelta(seconds=wait_s)
        self.clock = clock
        self.confident_gap_s = confident_gap_s
        self.appearance_weight_s = appearance_weight_s
        self.pending: dict[str, PendingHandoff] = {}
        self.applied: OrderedDict[str, int] = OrderedDict()
        self.body_captures: OrderedDict[str, int] = OrderedDict()

    def submit(self, message: Handoff, ack: object = None) -> HandoffOutcome | None:
        """Queue a handoff for assignment.

        Returns an outcome at once when nothing is left to do: the capture was already applied
        (an at-least-once redelivery), so its ``ack`` can be released. A redelivery of a
        still-pending handoff replaces the pending one's ``ack`` with the newer one.
        """
        if message.capture_id in self.applied:
            logger.info("handoff %s already applied; duplicate delivery dropped", message.capture_id)
            return HandoffOutcome(message, self.applied[message.capture_id], ack)
        expected_at = message.captured_at + (self.walk_delay if message.source == "face" else timedelta(0))
        self.pending[message.capture_id] = PendingHandoff(message, expected_at, ack)
        logger.info(
            "handoff %s for %s pending, expected at %s",
            message.capture_id,
            message.usn,
            expected_at.isoformat(),
        )
        return None

    def register_body_capture(self, capture_id: str, tracker_id: int) -> None:
        """Remember which track a body crop came from, so a body handoff can name it directly."""
        _remember(self.body_captures, capture_id, tracker_id)

    def update(self, registry: TrackRegistry, now: datetime) -> list[HandoffOutcome]:
        """Apply every handoff that can be decided at ``now``; return what became of them."""
        outcomes = self._apply_body_handoffs(registry, now)
        outcomes += self._assign_door_handoffs(registry, now)
        for capture_id, pending in list(self.pending.items()):
            if now - self._expected(pending) > self.wait:
                del self.pending[capture_id]
                logger.warning(
                    "handoff %s for %s expired: nobody entered through the door near %s",
                    capture_id,
                    pending.message.usn,
                    pending.expected_at.isoformat(),
                )
                outcomes.append(HandoffOutcome(pending.message, None, pending.ack, expired=True))
        return outcomes

    def _apply_body_handoffs(self, registry: TrackRegistry, now: datetime) -> list[HandoffOutcome]:
        outcomes = []
        for capture_id, pending in list(self.pending.items()):
            if pending.message.source != "body":
                continue
            tracker_id = self.body_captures.get(capture_id)
            if tracker_id is None or tracker_id not in registry.records:
                continue  # expires through the normal wait
            outcomes.append(self._commit(registry, pending, tracker_id))
        return outcomes

    def _assign_door_handoffs(self, registry: TrackRegistry, now: datetime) -> list[HandoffOutcome]:
        waiting = [p for p in self.pending.values() if p.message.source == "face"]
        candidates = [r for r in registry.records.values() if r.entered_through_door and r.usn is None]
        if not waiting or not candidates:
            return []
        cost = np.array([[self._time_cost(p, r) for r in candidates] for p in waiting], dtype=float).reshape(
            len(waiting), len(candidates)
        )
        rows, cols = linear_sum_assignment(cost)
        outcomes = []
        for row, col in zip(rows, cols, strict=True):
            pending = waiting[row]
            if cost[row, col] >= _INFEASIBLE or now < self._expected(pending) + self.settle:
                continue
            record = candidates[col]
            if self.clock is not None and self._confident(cost, row, col):
                self.clock.observe(
                    (record.first_seen_at - self._expected(pending, corrected=False)).total_seconds()
                )
            outcomes.append(self._commit(registry, pending, record.tracker_id))
        return outcomes

    def _confident(self, cost: np.ndarray, row: int, col: int) -> bool:
        """No other candidate near this handoff, no other handoff near this candidate."""
        near = cost < min(cost[row, col] + self.confident_gap_s, _INFEASIBLE)
        return int(near[row].sum()) == 1 and int(near[:, col].sum()) == 1

    def _expected(self, pending: PendingHandoff, *, corrected: bool = True) -> datetime:
        """When the person is expected in this view, on this camera's clock."""
        if not corrected or self.clock is None:
            return pending.expected_at
        return pending.expected_at + timedelta(seconds=self.clock.offset_s)

    @property
    def clock_offset_s(self) -> float:
        """The door-to-room clock offset applied now (0 when not estimated)."""
        return self.clock.offset_s if self.clock is not None else 0.0

    def _time_cost(self, pending: PendingHandoff, record: TrackRecord) -> float:
        gap_s = abs((record.first_seen_at - self._expected(pending)).total_seconds())
        if gap_s > self.max_time_diff_s:
            return _INFEASIBLE
        seen_at_door = pending.message.appearance
        if self.appearance_weight_s > 0 and seen_at_door and record.appearance is not None:
            door = np.asarray(seen_at_door, dtype=np.float32)
            if door.shape == record.appearance.shape:
                similarity = float(np.clip(door @ record.appearance, 0.0, 1.0))
                return gap_s + self.appearance_weight_s * (1.0 - similarity)
        return gap_s

    def _commit(self, registry: TrackRegistry, pending: PendingHandoff, tracker_id: int) -> HandoffOutcome:
        message = pending.message
        del self.pending[message.capture_id]
        applied = registry.tag(
            tracker_id, message.usn, message.source, message.captured_at, capture_id=message.capture_id
        )
        _remember(self.applied, message.capture_id, tracker_id)
        return HandoffOutcome(message, tracker_id if applied else None, pending.ack)

    def reset(self) -> None:
        """Forget pending and applied handoffs."""
        self.pending.clear()
        self.applied.clear()
        self.body_captures.clear()
        if self.clock is not None:
            self.clock.reset()


def build_assigner(settings: Cam2Settings, clock: ClockOffsetEstimator | None = None) -> HandoffAssigner:
    """The handoff assigner the settings describe (``clock``: share an estimator, e.g. across runs)."""
    if clock is None and settings.clock_correction_enabled:
        clock = ClockOffsetEstimator(settings.clock_max_offset_s, settings.clock_samples)
    return HandoffAssigner(
        walk_delay_s=settings.walk_delay_s,
        max_time_diff_s=settings.handoff_max_time_diff_s,
        settle_s=settings.handoff_settle_s,
        wait_s=settings.handoff_wait_s,
        clock=clock,
        appearance_weight_s=settings.handoff_appearance_weight_s,
    )
