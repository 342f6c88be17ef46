"""The two-camera proxy rules on scripted door/room streams: they fire on proxies and stay quiet
on normal entries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cloud_functions.core.proxy_rules import (
    DoorRecognition,
    DoorZoneEntry,
    ProxyRules,
    RoomSighting,
    TrackTag,
    as_new_flags,
)

T0 = datetime(2026, 11, 23, 3, 32, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
RULES = ProxyRules(entry_window_s=30, two_faces_window_s=10)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def honest_entry(
    usn: str, capture: str, tracker: int, at: float, *, enter_after: float = 3, tag_after: float = 5
):
    return (
        DoorRecognition(usn, "R101", capture, s(at)),
        DoorZoneEntry("R101", tracker, s(at + enter_after)),
        TrackTag("R101", tracker, usn, capture, s(at + tag_after)),
    )


def streams(*entries: tuple) -> tuple[list, list, list]:
    doors = [e[0] for e in entries if e[0] is not None]
    zone = [e[1] for e in entries if e[1] is not None]
    tags = [e[2] for e in entries if e[2] is not None]
    return doors, zone, tags


def test_normal_entries_raise_no_flag() -> None:
    # GIVEN three students walking in one after another, one of them slow and tagged late
    doors, zone, tags = streams(
        honest_entry("A", "c1", 1, 0),
        honest_entry("B", "c2", 2, 4),
        honest_entry("C", "c3", 3, 9, enter_after=25, tag_after=28),
    )
    # THEN no rule fires
    assert RULES.not_confirmed(doors, zone, tags, LATER) == []
    assert RULES.one_body_two_faces(tags, doors) == []
    sightings = [RoomSighting(u, "R101", s(0), LATER) for u in "ABC"]
    # AND a student in another room after this class is not in two rooms at once
    sightings.append(RoomSighting("A", "R102", LATER + timedelta(minutes=10), LATER + timedelta(hours=1)))
    assert RULES.two_rooms(sightings) == []


def test_a_door_recognition_that_never_walks_in_is_flagged_once_its_window_has_passed() -> None:
    doors, zone, tags = streams(
        honest_entry("A", "c1", 1, 0),
        (DoorRecognition("P", "R101", "c-photo", s(10)), None, None),  # a photo; nobody enters
    )
    # WHILE its window is open it is not judged
    assert RULES.not_confirmed(doors, zone, tags, s(20)) == []
    # AFTER it, only the photo's student is flagged, with the capture as evidence
    [flag] = RULES.not_confirmed(doors, zone, tags, s(41))
    assert (flag.kind, flag.usn, flag.evidence["capture_id"]) == ("not_confirmed", "P", "c-photo")


@pytest.mark.parametrize(
    ("case", "entry", "tag", "flagged"),
    [
        (
            "tagged but entered too long after",
            DoorZoneEntry("R101", 1, s(45)),
            TrackTag("R101", 1, "A", "c1", s(46)),
            True,
        ),
        ("tagged track never entered through the door", None, TrackTag("R101", 1, "A", "c1", s(5)), True),
        ("entered but its track was never tagged", DoorZoneEntry("R101", 1, s(3)), None, True),
        (
            "entered and tagged in time",
            DoorZoneEntry("R101", 1, s(3)),
            TrackTag("R101", 1, "A", "c1", s(5)),
            False,
        ),
        (
            "clocks differ: entry logged before the capture",
            DoorZoneEntry("R101", 1, s(-4)),
            TrackTag("R101", 1, "A", "c1", s(2)),
            False,
        ),
    ],
)
def test_not_confirmed_table(
    case: str, entry: DoorZoneEntry | None, tag: TrackTag | None, flagged: bool
) -> None:
    doors, zone, tags = streams((DoorRecognition("A", "R101", "c1", s(0)), entry, tag))
    assert bool(RULES.not_confirmed(doors, zone, tags, LATER)) is flagged, case


def test_one_body_given_two_door_identities_flags_both_students() -> None:
    doors = [DoorRecognition("A", "R101", "c1", s(0)), DoorRecognition("B", "R101", "c2", s(6))]
    # The handoffs land late and far apart; the door captures were 6 s apart.
    tags = [TrackTag("R101", 7, "A", "c1", s(2)), TrackTag("R101", 7, "B", "c2", s(19))]
    found = RULES.one_body_two_faces(tags, doors)
    assert sorted(f.usn for f in found) == ["A", "B"]
    assert found[0].evidence["tracker_id"] == 7 and found[0].evidence["usns"] == ["A", "B"]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # The same student re-tagged (a second handoff for one face) is no proxy.
        ([TrackTag("R101", 7, "A", "c1", s(0)), TrackTag("R101", 7, "A", "c2", s(5))], []),
        # Two identities, but minutes apart: the tracker reused its id for the next person.
        ([TrackTag("R101", 7, "A", "c1", s(0)), TrackTag("R101", 7, "B", "c2", s(300))], []),
        # Same track id in two rooms: two different cameras' tracks.
        ([TrackTag("R101", 7, "A", "c1", s(0)), TrackTag("R102", 7, "B", "c2", s(3))], []),
        ([TrackTag("R101", 7, "A", "c1", s(0)), TrackTag("R101", 7, "B", "c2", s(3))], ["A", "B"]),
    ],
)
def test_one_body_two_faces_table(tags: list[TrackTag], expected: list[str]) -> None:
    assert sorted(f.usn for f in RULES.one_body_two_faces(tags)) == expected


def test_a_student_in_two_rooms_at_overlapping_times_flags_both_sightings() -> None:
    sightings = [
        RoomSighting("A", "R101", s(0), LATER),
        RoomSighting("A", "R102", s(600), LATER + timedelta(minutes=30)),
        RoomSighting("B", "R101", s(0), LATER),
    ]
    found = RULES.two_rooms(sightings)
    assert sorted((f.usn, f.room_id) for f in found) == [("A", "R101"), ("A", "R102")]
    # AND as flag rows each room's flag belongs to that room's course, keys stable for a rerun
    rows = as_new_flags(found, course_of={"R101": "CS501", "R102": "CS502"}, class_date=date(2026, 11, 23))
    assert sorted((r.room_id, r.course_code) for r in rows) == [("R101", "CS501"), ("R102", "CS502")]
    again = as_new_flags(RULES.two_rooms(sightings), course_of={}, class_date=date(2026, 11, 23))
    assert {r.dedupe_key for r in rows} == {r.dedupe_key for r in again}


def test_the_simulation_catches_every_scripted_proxy_with_no_false_flag_when_cam2_sees_every_entry() -> None:
    import random

    from bench.proxy_rules import KINDS, START, simulate_class

    rng = random.Random(3)
    for k in range(5):
        streams_ = simulate_class(rng, 20, k, missed_entry=0.0, late_s=20.0)
        now = START + timedelta(hours=2)
        found = {
            "not_confirmed": {
                f.usn for f in RULES.not_confirmed(streams_.doors, streams_.entries, streams_.tags, now)
            },
            "one_body_two_faces": {f.usn for f in RULES.one_body_two_faces(streams_.tags, streams_.doors)},
            "two_rooms": {f.usn for f in RULES.two_rooms(streams_.sightings)},
        }
        for kind in KINDS:
            assert found[kind] == streams_.attacks[kind], kind
