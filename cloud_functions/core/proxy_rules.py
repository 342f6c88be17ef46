"""Proxy rules from the two cameras: what the door saw checked against what the room saw.

Plain functions over recorded events (no database, no clock): the door recognitions of a
class (face_match), the room camera's door-zone entries and the tags it gave its tracks from
handoffs (cam2), and each student's sightings per room. Each rule returns ``ProxyFlag`` values
that :func:`as_new_flags` turns into ``flags`` rows (unique ``dedupe_key``: running a rule twice
over the same events adds nothing).

1. ``not_confirmed``: a door recognition that never became a room track entering through the
   door zone within ``entry_window_s`` stays "arrived, not confirmed" and is flagged (a photo
   shown at the door by someone who never walks in, or a face shown from the corridor).
2. ``one_body_two_faces``: one room track that received two door identities within
   ``two_faces_window_s`` (one body, two faces shown at the door): both students are flagged.
3. ``two_rooms``: one student recognised in two rooms at overlapping times: both flagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from cloud_functions.core.db.flags import NewFlag

ProxyKind = Literal["not_confirmed", "one_body_two_faces", "two_rooms"]


@dataclass(frozen=True)
class DoorRecognition:
    """A student recognised at a room's door (a recorded ``recognised`` event)."""

    usn: str
    room_id: str
    capture_id: str
    seen_at: datetime


@dataclass(frozen=True)
class DoorZoneEntry:
    """A room track that entered through the door zone (cam2)."""

    room_id: str
    tracker_id: int
    entered_at: datetime


@dataclass(frozen=True)
class TrackTag:
    """cam2 tagged a track with a door handoff's student."""

    room_id: str
    tracker_id: int
    usn: str
    capture_id: str
    tagged_at: datetime


@dataclass(frozen=True)
class RoomSighting:
    """A student seen in a room from ``first_seen_at`` to ``last_seen_at`` (door or room camera)."""

    usn: str
    room_id: str
    first_seen_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class ProxyFlag:
    """One rule's finding for one student, with the evidence a teacher needs to judge it."""

    kind: ProxyKind
    usn: str
    room_id: str
    key: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProxyRules:
    """The rules' windows.

    Args:
        entry_window_s: how long after (or before: clocks differ) a door recognition a track must
            enter through the door zone carrying that capture's tag. Longer forgives a slow
            doorway and a late handoff; shorter catches a photo shown and walked away from sooner.
        two_faces_window_s: two door identities given to one track within this time are one body
            showing two faces. Longer catches slower swaps but risks a track id reused by the
            tracker for the next person.
    """

    entry_window_s: float = 30.0
    two_faces_window_s: float = 10.0

    def not_confirmed(
        self,
        doors: Sequence[DoorRecognition],
        entries: Sequence[DoorZoneEntry],
        tags: Sequence[TrackTag],
        now: datetime,
    ) -> list[ProxyFlag]:
        """Door recognitions whose window has passed with no tagged track entering through the door."""
        window = timedelta(seconds=self.entry_window_s)
        entered = defaultdict(list)
        for e in entries:
            entered[(e.room_id, e.tracker_id)].append(e.entered_at)
        tagged = defaultdict(list)
        for t in tags:
            tagged[t.capture_id].append(t)
        found = []
        for door in doors:
            if now < door.seen_at + window:
                continue  # still within its window: not judged yet
            confirmed = any(
                abs(at - door.seen_at) <= window
                for tag in tagged.get(door.capture_id, [])
                if tag.room_id == door.room_id
                for at in entered.get((tag.room_id, tag.tracker_id), [])
            )
            if not confirmed:
                found.append(
                    ProxyFlag(
                        "not_confirmed",
                        door.usn,
                        door.room_id,
                        f"not_confirmed:{door.capture_id}",
                        {
                            "capture_id": door.capture_id,
                            "seen_at": door.seen_at,
                            "entry_window_s": self.entry_window_s,
                            "tagged_tracks": [t.tracker_id for t in tagged.get(door.capture_id, [])],
                        },
                    )
                )
        return found

    def one_body_two_faces(
        self, tags: Sequence[TrackTag], doors: Sequence[DoorRecognition] = ()
    ) -> list[ProxyFlag]:
        """Both students of every pair of different identities given to one track close together.

        "Close" is measured between the door captures behind the tags where ``doors`` has them
        (a handoff reaches the room camera after a varying delay), else between the tags.
        """
        window = timedelta(seconds=self.two_faces_window_s)
        seen_at = {d.capture_id: d.seen_at for d in doors}

        def when(tag: TrackTag) -> datetime:
            return seen_at.get(tag.capture_id, tag.tagged_at)

        by_track = defaultdict(list)
        for t in tags:
            by_track[(t.room_id, t.tracker_id)].append(t)
        found: dict[str, ProxyFlag] = {}
        for (room_id, tracker_id), track_tags in by_track.items():
            ordered = sorted(track_tags, key=when)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    if when(b) - when(a) > window:
                        break
                    if a.usn == b.usn:
                        continue
                    evidence = {
                        "tracker_id": tracker_id,
                        "captures": [a.capture_id, b.capture_id],
                        "usns": [a.usn, b.usn],
                        "seen_at": [when(a), when(b)],
                        "window_s": self.two_faces_window_s,
                    }
                    for tag in (a, b):
                        key = f"one_body_two_faces:{room_id}:{tracker_id}:{tag.capture_id}"
                        found.setdefault(
                            key, ProxyFlag("one_body_two_faces", tag.usn, room_id, key, evidence)
                        )
        return list(found.values())

    @staticmethod
    def two_rooms(sightings: Iterable[RoomSighting]) -> list[ProxyFlag]:
        """Both sightings of a student seen in two rooms over overlapping times."""
        by_usn = defaultdict(list)
        for s in sightings:
            by_usn[s.usn].append(s)
        found: dict[str, ProxyFlag] = {}
        for usn, seen in by_usn.items():
            for i, a in enumerate(seen):
                for b in seen[i + 1 :]:
                    if a.room_id == b.room_id:
                        continue
                    if a.first_seen_at <= b.last_seen_at and b.first_seen_at <= a.last_seen_at:
                        rooms = sorted((a.room_id, b.room_id))
                        evidence = {
                            "rooms": rooms,
                            "intervals": {s.room_id: [s.first_seen_at, s.last_seen_at] for s in (a, b)},
                        }
                        for s in (a, b):
                            key = f"two_rooms:{usn}:{s.room_id}:{s.first_seen_at.isoformat()}"
                            found.setdefault(key, ProxyFlag("two_rooms", usn, s.room_id, key, evidence))
        return list(found.values())


def as_new_flags(found: Iterable[ProxyFlag], *, course_of: dict[str, str], class_date: date) -> list[NewFlag]:
    """``flags`` rows for the findings; ``course_of`` maps each room to its class's course."""
    return [
        NewFlag(
            kind=f.kind,
            dedupe_key=f.key,
            usn=f.usn,
            room_id=f.room_id,
            course_code=course_of.get(f.room_id),
            class_date=class_date,
            capture_id=f.evidence.get("capture_id"),
            evidence=f.evidence,
        )
        for f in found
    ]
