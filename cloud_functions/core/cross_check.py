"""The two cameras' cross-check, run with each presence report: the proxy rules on stored events.

The room camera's report says which track each door capture named and whether that track walked
in through the door zone (``room_tags``); the door's recognitions are in ``recognition_events``.
On every report of a room the rules of :mod:`cloud_functions.core.proxy_rules` look back over a
few minutes of both and raise flags (unique ``dedupe_key``: the same finding from the next report,
or from a redelivered one, adds nothing):

- ``not_confirmed``: a door recognition in this room whose entry window has passed with no tagged
  track that walked in through the door. Judged only for recognitions made while this camera was
  already reporting, so a room camera starting late flags nobody it could not have seen.
- ``one_body_two_faces``: one track of this room given two door identities close together.
- ``two_rooms``: a student this camera sees in its room while a door of another room recognised
  them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.flags import NewFlag, raise_flag
from cloud_functions.core.db.room_tags import RoomTag, door_recognitions, record_tags, tags_in_room
from cloud_functions.core.db.rooms import get_room
from cloud_functions.core.db.schema import presence_reports
from cloud_functions.core.proxy_rules import (
    DoorRecognition,
    DoorZoneEntry,
    ProxyRules,
    RoomSighting,
    TrackTag,
    as_new_flags,
)
from cloud_functions.core.rooms import Refusal, locate_class
from cloud_functions.core.timetable import ClassSession, GraceWindows
from contracts.presence import PresenceReport

# How far before the report the rules look, beyond the entry window and two report intervals.
_LOOKBACK_MARGIN = timedelta(minutes=1)
# How far back a camera's earlier reports show it was already watching.
_WATCHING_LOOKBACK = timedelta(minutes=30)


@dataclass(frozen=True)
class CrossCheckResult:
    """What one report's cross-check stored and found."""

    tags_stored: int
    flags_raised: int


def report_tags(report: PresenceReport, known_usns: set[str]) -> list[RoomTag]:
    """The report's tracks named by a capture (and the identities they carried before), as rows."""
    found: list[RoomTag] = []
    for track in report.present:
        entered_at = track.entered_at or track.first_seen_at
        named = [(track.usn, track.capture_id, track.tagged_at)]
        named += [(e.usn, e.capture_id, e.tagged_at) for e in track.earlier_tags]
        for usn, capture_id, tagged_at in named:
            if capture_id is None or tagged_at is None or usn not in known_usns:
                continue
            found.append(
                RoomTag(
                    room_id=report.room_id,
                    camera_id=report.camera_id,
                    tracker_id=track.tracker_id,
                    usn=usn,
                    capture_id=capture_id,
                    entered_through_door=track.entered_through_door,
                    entered_at=entered_at,
                    tagged_at=tagged_at,
                )
            )
    return found


def _watching_since(connection: Connection, report: PresenceReport) -> datetime:
    """The earliest report of this camera in the last half hour (this one at the latest)."""
    earliest = connection.execute(
        sa.select(sa.func.min(presence_reports.c.reported_at)).where(
            presence_reports.c.camera_id == report.camera_id,
            presence_reports.c.room_id == report.room_id,
            presence_reports.c.reported_at.between(
                report.reported_at - _WATCHING_LOOKBACK, report.reported_at
            ),
        )
    ).scalar_one_or_none()
    if earliest is None:
        return report.reported_at
    earliest = earliest if earliest.tzinfo else earliest.replace(tzinfo=report.reported_at.tzinfo)
    return min(earliest, report.reported_at)


def _course_at(connection: Connection, room_id: str, at: datetime, grace: GraceWindows) -> str | None:
    """The course of the class in another room at ``at`` (its term's sessions, or its timetable)."""
    room = get_room(connection, room_id)
    if room is None:
        return None
    located = locate_class(connection, room_id, room.cam1_id or "", "door", at, grace)
    return None if isinstance(located, Refusal) else located.session.course_code


def cross_check(
    connection: Connection,
    report: PresenceReport,
    session: ClassSession,
    known_usns: set[str],
    rules: ProxyRules,
    grace: GraceWindows,
) -> CrossCheckResult:
    """Store the report's tags and raise the proxy rules' flags, in the caller's transaction."""
    stored = record_tags(connection, report_tags(report, known_usns))
    now = report.reported_at
    window = timedelta(seconds=rules.entry_window_s)
    since = now - window * 2 - timedelta(seconds=report.interval_s * 2) - _LOOKBACK_MARGIN
    room_id = report.room_id

    watching_since = _watching_since(connection, report)
    doors = [
        DoorRecognition(d.usn, d.room_id, d.capture_id, d.seen_at)
        for d in door_recognitions(connection, since, now, room_id=room_id)
    ]
    tags = tags_in_room(connection, room_id, since - window, now + window)
    entries = [DoorZoneEntry(room_id, t.tracker_id, t.entered_at) for t in tags if t.entered_through_door]
    track_tags = [TrackTag(room_id, t.tracker_id, t.usn, t.capture_id, t.tagged_at) for t in tags]
    judged = [d for d in doors if d.seen_at >= watching_since]
    found = rules.not_confirmed(judged, entries, track_tags, now)
    found += rules.one_body_two_faces(track_tags, doors)

    present = [t for t in report.present if t.usn in known_usns]
    sightings = [RoomSighting(t.usn, room_id, t.first_seen_at, t.last_seen_at) for t in present]
    if present:
        elsewhere = door_recognitions(
            connection,
            min(t.first_seen_at for t in present),
            max(t.last_seen_at for t in present),
            usns=[t.usn for t in present],
        )
        sightings += [
            RoomSighting(d.usn, d.room_id, d.seen_at, d.seen_at) for d in elsewhere if d.room_id != room_id
        ]
    found += rules.two_rooms(sightings)

    course_of = {room_id: session.course_code}
    for flag in found:
        if flag.room_id not in course_of:
            course_of[flag.room_id] = _course_at(connection, flag.room_id, now, grace) or ""
    new_flags: list[NewFlag] = as_new_flags(
        found,
        course_of={room: course for room, course in course_of.items() if course},
        class_date=session.class_date,
    )
    raised = sum(1 for flag in new_flags if raise_flag(connection, flag))
    return CrossCheckResult(tags_stored=stored, flags_raised=raised)
