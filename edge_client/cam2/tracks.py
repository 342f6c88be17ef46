"""What cam2 remembers about each track: when and where it appeared, door entry, identity.

:class:`TrackRegistry` is a per-frame stage like the tracker: ``update_with_detections`` takes
the tracked ``sv.Detections`` and returns them with ``data["usn"]`` filled for annotation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import supervision as sv

from contracts.presence import MAX_EARLIER_TAGS

logger = logging.getLogger(__name__)

IdentitySource = Literal["face", "body", "reid"]


def tracker_ids(detections: sv.Detections) -> list[int]:
    """The tracker ids of tracked detections as plain ints (empty when untracked)."""
    if detections.tracker_id is None:
        return []
    return [int(t) for t in detections.tracker_id]


class DoorZone:
    """The door, as a polygon in the camera's pixel coordinates.

    A person is "in" the door zone when the bottom centre of their box (their feet) is inside
    the polygon: the feet, not the box centre, say where someone stands.
    """

    def __init__(self, polygon: list[tuple[int, int]] | np.ndarray) -> None:
        self.polygon = np.asarray(polygon, dtype=np.int32).reshape(-1, 2)

    @property
    def defined(self) -> bool:
        """Whether a door was configured at all."""
        return len(self.polygon) >= 3

    def contains(self, detections: sv.Detections) -> np.ndarray:
        """Boolean mask: which detections stand inside the door zone."""
        if not self.defined or len(detections) == 0:
            return np.zeros(len(detections), dtype=bool)
        anchors = detections.get_anchors_coordinates(sv.Position.BOTTOM_CENTER)
        import cv2

        contour = self.polygon.astype(np.float32)
        return np.array(
            [cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in anchors],
            dtype=bool,
        )


@dataclass
class TrackRecord:
    """One person track as cam2 knows it."""

    tracker_id: int
    first_seen_at: datetime
    first_anchor: tuple[float, float]
    last_seen_at: datetime
    last_anchor: tuple[float, float]
    last_xyxy: tuple[float, float, float, float]
    entered_through_door: bool = False
    usn: str | None = None
    usn_source: IdentitySource | None = None
    tagged_at: datetime | None = None  # capture time of the evidence behind usn
    capture_id: str | None = None  # the door capture or body crop behind usn
    # Whether the track the capture named walked in through the door, and when it appeared: kept
    # when re-id carries the USN over, so the cloud's proxy rules see the original entry.
    tag_entry: tuple[bool, datetime] | None = None
    earlier_tags: list[tuple[str, str | None, datetime]] = field(default_factory=list)
    frames_seen: int = 0
    embedding: np.ndarray | None = None
    embedded_at: datetime | None = None
    appearance: np.ndarray | None = None  # clothing colour when it entered (door entries only)
    last_body_upload_at: datetime | None = None
    gallery_uploads: int = 0
    last_gallery_upload_at: datetime | None = None

    def dwell_s(self) -> float:
        """Seconds between the first and the last sighting."""
        return (self.last_seen_at - self.first_seen_at).total_seconds()


class TrackRegistry:
    """Records of live and recently lost tracks.

    Args:
        door: the door zone. A track entered through the door when its feet are inside the zone
            at its first sighting. Walking *into* the zone later (someone leaving, or a track
            reborn after an id switch) does not count.
        forget_after_s: records of tracks not seen for this long are dropped.
        startup_frames: tracks that appear within this many frames of the first one were
            already in the room when watching began, so they entered through no door. Set it
            to the tracker's confirmation delay plus one.
    """

    def __init__(self, door: DoorZone, forget_after_s: float = 30.0, startup_frames: int = 3) -> None:
        self.door = door
        self.forget_after = timedelta(seconds=forget_after_s)
        self.startup_frames = startup_frames
        self.frames_processed = 0
        self.records: dict[int, TrackRecord] = {}
        self.live_ids: set[int] = set()
        self.now: datetime | None = None

    def update_with_detections(self, detections: sv.Detections, at: datetime) -> sv.Detections:
        """Record this frame's tracks; return ``detections`` with ``data["usn"]`` ("" = unknown)."""
        self.now = at
        self.frames_processed += 1
        ids = tracker_ids(detections)
        anchors = detections.get_anchors_coordinates(sv.Position.BOTTOM_CENTER)
        in_door = self.door.contains(detections)
        for index, tracker_id in enumerate(ids):
            anchor = (float(anchors[index][0]), float(anchors[index][1]))
            x1, y1, x2, y2 = (float(v) for v in detections.xyxy[index])
            xyxy = (x1, y1, x2, y2)
            record = self.records.get(tracker_id)
            if record is None:
                record = TrackRecord(tracker_id, at, anchor, at, anchor, xyxy)
                record.entered_through_door = bool(in_door[index]) and (
                    self.frames_processed > self.startup_frames
                )
                self.records[tracker_id] = record
                if record.entered_through_door:
                    logger.info("track %d entered through the door", tracker_id)
                else:
                    logger.debug("track %d appeared at %s", tracker_id, anchor)
            record.last_seen_at, record.last_anchor = at, anchor
            record.last_xyxy = xyxy
            record.frames_seen += 1
        self.live_ids = set(ids)
        for tracker_id in [t for t, r in self.records.items() if at - r.last_seen_at > self.forget_after]:
            del self.records[tracker_id]
        return self.label(detections)

    def label(self, detections: sv.Detections) -> sv.Detections:
        """Set ``data["usn"]`` of tracked detections to each track's USN ("" when unknown)."""
        usns = [(self.records[t].usn or "") if t in self.records else "" for t in tracker_ids(detections)]
        detections.data["usn"] = np.array(usns, dtype=np.object_).reshape(len(usns))
        return detections

    def live(self) -> list[TrackRecord]:
        """Tracks seen in the latest frame."""
        return [self.records[t] for t in self.live_ids if t in self.records]

    def lost(self) -> list[TrackRecord]:
        """Tracks still remembered but not seen in the latest frame."""
        return [r for t, r in self.records.items() if t not in self.live_ids]

    def holder_of(self, usn: str) -> TrackRecord | None:
        """The live or remembered track that currently carries ``usn``."""
        for record in self.records.values():
            if record.usn == usn:
                return record
        return None

    def tag(
        self,
        tracker_id: int,
        usn: str,
        source: IdentitySource,
        evidence_at: datetime,
        capture_id: str | None = None,
    ) -> bool:
        """Attach ``usn`` to a track; return whether it was attached.

        A USN lives on one track. When another track already carries it, the more recent
        evidence wins (``evidence_at``: when the face or body was captured): a newer tag takes
        the USN from the older holder, an older one is refused. Body evidence never takes a USN
        from a live track a face handoff tagged, nor renames such a track. Refusals are logged.
        """
        record = self.records[tracker_id]
        holder = self.holder_of(usn)
        if source == "body" and record.usn_source == "face" and record.usn not in (None, usn):
            # A face at the door outranks a body match: body re-id never renames a face-tagged track.
            logger.warning(
                "track %d keeps face-tagged usn %s; body evidence for %s refused", tracker_id, record.usn, usn
            )
            return False
        if holder is not None and holder.tracker_id != tracker_id:
            if source == "body" and holder.usn_source == "face" and holder.tracker_id in self.live_ids:
                logger.warning(
                    "usn %s stays on live face-tagged track %d; body evidence for track %d refused",
                    usn,
                    holder.tracker_id,
                    tracker_id,
                )
                return False
            if holder.tagged_at is not None and holder.tagged_at > evidence_at:
                logger.warning(
                    "usn %s stays on track %d (evidence %s); older evidence (%s) for track %d refused",
                    usn,
                    holder.tracker_id,
                    holder.tagged_at.isoformat(),
                    evidence_at.isoformat(),
                    tracker_id,
                )
                return False
            logger.warning(
                "usn %s moves from track %d (evidence %s) to track %d (evidence %s): newer evidence wins",
                usn,
                holder.tracker_id,
                holder.tagged_at.isoformat() if holder.tagged_at else "none",
                tracker_id,
                evidence_at.isoformat(),
            )
            holder.usn, holder.usn_source, holder.tagged_at = None, None, None
            holder.capture_id, holder.tag_entry = None, None
        if record.usn is not None and record.usn != usn:
            logger.warning("track %d changes identity %s -> %s (%s)", tracker_id, record.usn, usn, source)
            if record.tagged_at is not None:
                record.earlier_tags = [
                    *record.earlier_tags,
                    (record.usn, record.capture_id, record.tagged_at),
                ][-MAX_EARLIER_TAGS:]
        record.usn, record.usn_source, record.tagged_at = usn, source, evidence_at
        record.capture_id = capture_id
        record.tag_entry = (record.entered_through_door, record.first_seen_at)
        logger.info("track %d tagged %s (%s)", tracker_id, usn, source)
        return True

    def transfer(self, from_tracker_id: int, to_tracker_id: int) -> None:
        """Move a USN from a lost track to its continuation (identity carry-over); source "reid".

        The evidence time stays that of the original capture, so recency comparisons with later
        handoffs still see how old the identification is.
        """
        old, new = self.records[from_tracker_id], self.records[to_tracker_id]
        if old.usn is None:
            raise ValueError(f"track {from_tracker_id} carries no USN to transfer")
        new.usn, new.usn_source, new.tagged_at = old.usn, "reid", old.tagged_at
        new.capture_id, new.tag_entry = old.capture_id, old.tag_entry
        new.embedding = old.embedding
        old.usn, old.usn_source, old.tagged_at = None, None, None
        old.capture_id, old.tag_entry = None, None

    def reset(self) -> None:
        """Forget every record."""
        self.records.clear()
        self.live_ids.clear()
        self.now = None
        self.frames_processed = 0
