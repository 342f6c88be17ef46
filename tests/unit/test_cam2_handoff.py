"""Handoff messages and their assignment to door entries (no camera, no network)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import supervision as sv

from contracts.handoff import Handoff
from edge_client.cam2.errors import ForeignRoomError, InvalidHandoffError
from edge_client.cam2.handoff import HandoffAssigner, ensure_room, parse_handoff
from edge_client.cam2.pipeline import RoomPipeline
from edge_client.cam2.tracking import ByteTrackPersonTracker
from edge_client.cam2.tracks import DoorZone, TrackRegistry
from vision.appearance import clothing_below_face, clothing_descriptor

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DOOR = DoorZone([(0, 0), (100, 0), (100, 100), (0, 100)])
IN_DOOR_XYXY = (40.0, 20.0, 60.0, 80.0)  # feet at (50, 80): inside
IN_ROOM_XYXY = (300.0, 300.0, 340.0, 400.0)  # feet at (320, 400): outside


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def handoff_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "usn": "1MS21CS001",
        "capture_id": "cap-1",
        "captured_at": "2026-01-05T09:00:00Z",
        "similarity": 0.72,
        "course_code": "CS501",
        "room_id": "R101",
        "camera_id": "door-1",
        "source": "face",
    }
    body.update(overrides)
    return body


def handoff(usn: str, capture_id: str, captured_s: float, source: str = "face") -> Handoff:
    return Handoff.model_validate(
        handoff_body(usn=usn, capture_id=capture_id, captured_at=at(captured_s).isoformat(), source=source)
    )


def see(registry: TrackRegistry, seconds: float, tracks: dict[int, bool]) -> sv.Detections:
    """One frame in which each tracker id stands in the door (True) or in the room (False)."""
    xyxy = np.array([IN_DOOR_XYXY if in_door else IN_ROOM_XYXY for in_door in tracks.values()], dtype=float)
    detections = sv.Detections(
        xyxy=xyxy.reshape(-1, 4),
        confidence=np.full(len(tracks), 0.9),
        class_id=np.zeros(len(tracks), dtype=int),
        tracker_id=np.array(list(tracks), dtype=int),
    )
    return registry.update_with_detections(detections, at(seconds))


# --- parsing ---------------------------------------------------------------------------------


def sns_envelope(message: dict[str, object], room_attribute: str = "R101") -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "m-1",
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:handoffs",
            "Message": json.dumps(message),
            "MessageAttributes": {"room_id": {"Type": "String", "Value": room_attribute}},
        }
    )


@pytest.mark.parametrize(
    ("body", "attributes"),
    [
        (json.dumps(handoff_body()), None),
        (json.dumps(handoff_body()), {"room_id": "R101", "camera_id": "door-1"}),
        (sns_envelope(handoff_body()), None),
        (json.dumps(handoff_body(camera_id=None, course_code=None)), {"camera_id": "door-1"}),
    ],
    ids=["raw", "raw-with-attributes", "sns-envelope", "optional-fields-absent"],
)
def test_parse_accepts_raw_and_enveloped_handoffs(body: str, attributes: dict[str, str] | None) -> None:
    message = parse_handoff(body, attributes)
    assert message.usn == "1MS21CS001"
    assert message.captured_at == T0
    assert message.captured_at.tzinfo is not None


def test_parse_converts_capture_time_to_utc() -> None:
    message = parse_handoff(json.dumps(handoff_body(captured_at="2026-01-05T14:30:00+05:30")))
    assert message.captured_at == T0
    assert message.captured_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("body", "attributes"),
    [
        ("not json", None),
        ("[1, 2]", None),
        (json.dumps({k: v for k, v in handoff_body().items() if k != "usn"}), None),
        (json.dumps(handoff_body(captured_at="2026-01-05T09:00:00")), None),  # no time zone
        (json.dumps(handoff_body(source="rumour")), None),
        (json.dumps(handoff_body(similarity=3.0)), None),
        (json.dumps(handoff_body()), {"room_id": "R202"}),
        (sns_envelope(handoff_body(), room_attribute="R202"), None),
        (json.dumps({"Type": "Notification", "Message": "{broken"}), None),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "missing-usn",
        "naive-time",
        "unknown-source",
        "similarity-out-of-range",
        "attribute-contradicts-room",
        "envelope-attribute-contradicts-room",
        "broken-envelope",
    ],
)
def test_parse_rejects_malformed_handoffs(body: str, attributes: dict[str, str] | None) -> None:
    with pytest.raises(InvalidHandoffError):
        parse_handoff(body, attributes)


def test_foreign_room_is_rejected_by_type() -> None:
    message = parse_handoff(json.dumps(handoff_body(room_id="R202")))
    assert ensure_room(parse_handoff(json.dumps(handoff_body())), "R101").room_id == "R101"
    with pytest.raises(ForeignRoomError):
        ensure_room(message, "R101")


# --- door entries ----------------------------------------------------------------------------


def test_only_tracks_born_in_the_door_after_startup_entered_through_it() -> None:
    # GIVEN a registry that treats its first two frames as startup
    registry = TrackRegistry(DOOR, startup_frames=2)
    # WHEN track 1 is in the door at startup, track 2 appears in the room and walks into the
    # door, and track 3 appears in the door later
    see(registry, 0.0, {1: True})
    see(registry, 0.1, {1: True, 2: False})
    see(registry, 0.2, {1: True, 2: True})
    see(registry, 0.3, {1: True, 2: True, 3: True})
    # THEN only track 3 entered through the door
    assert {t: r.entered_through_door for t, r in registry.records.items()} == {1: False, 2: False, 3: True}
    assert registry.records[3].first_seen_at == at(0.3)


# --- assignment ------------------------------------------------------------------------------


def test_joint_assignment_beats_greedy() -> None:
    # GIVEN two handoffs expected at 10.0 s and 11.0 s (walk delay 3 s) and two door entries at
    # 9.2 s and 10.2 s. Greedy (A first) would give A the 10.2 s track (gap 0.2) and leave B
    # the 9.2 s one (gap 1.8): total 2.0 s. The joint optimum pairs and B-10.2: 1.6 s.
    registry = TrackRegistry(DOOR, startup_frames=0)
    assigner = HandoffAssigner(walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=1.0, wait_s=10.0)
    assigner.submit(handoff("USN-A", "cap-a", 7.0))
    assigner.submit(handoff("USN-B", "cap-b", 8.0))
    see(registry, 9.2, {1: True})
    see(registry, 10.2, {1: False, 2: True})
    # WHEN time passes beyond both settle windows
    outcomes = assigner.update(registry, at(12.5))
    # THEN both are applied at once, on the jointly best pairs
    assert {o.message.usn: o.tracker_id for o in outcomes} == {"USN-A": 1, "USN-B": 2}
    assert registry.records[1].usn == "USN-A"
    assert registry.records[2].usn == "USN-B"
    assert assigner.pending == {}


RED_SHIRT, BLUE_SHIRT = (40, 40, 200), (200, 60, 30)  # BGR


def door_camera_colour(shirt: tuple[int, int, int]) -> list[float]:
    """What cam1 sends: the colour below a face box, close to the door camera."""
    frame = np.full((480, 640, 3), 90, dtype=np.uint8)
    frame[60:140, 280:350] = (140, 170, 210)  # the face
    frame[150:480, 230:400] = shirt
    colour = clothing_below_face(frame, (285, 60, 345, 140))
    assert colour is not None
    return colour.tolist()


def room_camera_colour(shirt: tuple[int, int, int]) -> np.ndarray:
    """What cam2 computes for a door-entry track: the torso of a small person box, further away."""
    frame = np.full((360, 480, 3), 60, dtype=np.uint8)
    frame[110:200, 52:88] = shirt
    colour = clothing_descriptor(frame, (45, 80, 95, 260))
    assert colour is not None
    return colour


@pytest.mark.parametrize(
    ("weight_s", "colours_sent", "expected"),
    [
        (2.0, True, {"USN-RED": 1, "USN-BLUE": 2}),  # colour outweighs 0.4 s of clock jitter
        (0.0, True, {"USN-RED": 2, "USN-BLUE": 1}),  # weight 0: time alone, swapped
        (2.0, False, {"USN-RED": 2, "USN-BLUE": 1}),  # no colour sent (older cam1): time alone
    ],
)
def test_the_door_cameras_clothing_colour_tells_apart_people_entering_half_a_second_apart(
    weight_s: float, colours_sent: bool, expected: dict[str, int]
) -> None:
    # GIVEN a red-shirted and a blue-shirted student entering 0.5 s apart (red first), whose
    # handoffs' capture times are off so that by time alone the second fits red better
    registry = TrackRegistry(DOOR, startup_frames=0)
    assigner = HandoffAssigner(
        walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=1.0, wait_s=10.0, appearance_weight_s=weight_s
    )
    for usn, captured_s, shirt in (("USN-RED", 7.4, RED_SHIRT), ("USN-BLUE", 6.9, BLUE_SHIRT)):
        body = handoff_body(usn=usn, capture_id=f"cap-{usn}", captured_at=at(captured_s).isoformat())
        if colours_sent:
            body["appearance"] = door_camera_colour(shirt)
        assigner.submit(Handoff.model_validate(body))
    see(registry, 10.0, {1: True})
    registry.records[1].appearance = room_camera_colour(RED_SHIRT)
    see(registry, 10.5, {1: False, 2: True})
    registry.records[2].appearance = room_camera_colour(BLUE_SHIRT)
    # WHEN both handoffs settle
    outcomes = assigner.update(registry, at(12.5))
    # THEN each goes to the track the evidence points at
    assert {o.message.usn: o.tracker_id for o in outcomes} == expected


def test_handoff_waits_to_settle_before_it_is_applied() -> None:
    registry = TrackRegistry(DOOR, startup_frames=0)
    assigner = HandoffAssigner(walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=1.0, wait_s=10.0)
    assigner.submit(handoff("USN-A", "cap-a", 0.0))
    see(registry, 3.1, {1: True})
    # WHEN the expected arrival (3.0 s) has passed but not the settle window (4.0 s)
    assert assigner.update(registry, at(3.5)) == []
    # THEN it is applied once the window has passed
    outcomes = assigner.update(registry, at(4.0))
    assert [(o.message.usn, o.tracker_id) for o in outcomes] == [("USN-A", 1)]


@pytest.mark.parametrize(
    ("entry_s", "in_door", "tagged"),
    [
        (3.0, True, 1),  # on time through the door
        (9.5, True, None),  # far too late: beyond max_time_diff_s
        (3.0, False, None),  # on time, but not through the door
    ],
)
def test_candidates_must_enter_through_the_door_near_the_expected_time(
    entry_s: float, in_door: bool, tagged: int | None
) -> None:
    registry = TrackRegistry(DOOR, startup_frames=0)
    assigner = HandoffAssigner(walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=1.0, wait_s=10.0)
    assigner.submit(handoff("USN-A", "cap-a", 0.0), ack="receipt-1")
    see(registry, entry_s, {1: in_door})
    outcomes = assigner.update(registry, at(entry_s + 1.0))
    outcomes += assigner.update(registry, at(13.5))  # past expected + wait: decided either way
    assert [(o.tracker_id, o.ack) for o in outcomes] == [(tagged, "receipt-1")]
    assert assigner.pending == {}


def test_expired_handoff_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = TrackRegistry(DOOR, startup_frames=0)
    assigner = HandoffAssigner(walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=1.0, wait_s=5.0)
    assigner.submit(handoff("USN-A", "cap-a", 0.0))
    with caplog.at_level(logging.WARNING):
        outcomes = assigner.update(registry, at(8.5))
    assert [o.tracker_id for o in outcomes] == [None]
    assert "expired" in caplog.text


def test_redelivered_handoff_is_not_applied_twice() -> None:
    registry = TrackRegistry(DOOR, startup_frames=0)
    assigner = HandoffAssigner(walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=0.0, wait_s=5.0)
    assigner.submit(handoff("USN-A", "cap-a", 0.0), ack="first")
    see(registry, 3.0, {1: True})
    assert [o.tracker_id for o in assigner.update(registry, at(3.0))] == [1]
    # WHEN the queue delivers the same capture again
    duplicate = assigner.submit(handoff("USN-A", "cap-a", 0.0), ack="second")
    # THEN it is answered at once (so it can be deleted) and nothing is pending
    assert duplicate is not None and duplicate.ack == "second" and duplicate.tracker_id == 1
    assert assigner.pending == {}


@pytest.mark.parametrize(
    ("second_capture_s", "holder"),
    [(5.0, 2), (-5.0, 1)],
    ids=["newer-evidence-moves-the-usn", "older-evidence-is-refused"],
)
def test_usn_on_another_live_track_is_resolved_by_recency(
    second_capture_s: float, holder: int, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN track 1 tagged USN-A from a capture at 0 s
    registry = TrackRegistry(DOOR, startup_frames=0)
    see(registry, 1.0, {1: False, 2: False})
    assert registry.tag(1, "USN-A", "face", at(0.0))
    # WHEN another capture of USN-A (newer or older) names track 2
    with caplog.at_level(logging.WARNING):
        registry.tag(2, "USN-A", "face", at(second_capture_s))
    # THEN the USN sits on exactly one track, the one with the newer evidence, and it was logged
    assert [t for t, r in registry.records.items() if r.usn == "USN-A"] == [holder]
    assert "usn USN-A" in caplog.text


@pytest.mark.parametrize(
    ("holder_live", "expected_holder"),
    [(True, 1), (False, 2)],
    ids=["live-face-track-keeps-it", "lost-face-track-gives-it-up"],
)
def test_body_evidence_never_takes_a_usn_from_a_live_face_tagged_track(
    holder_live: bool, expected_holder: int, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN track 1 tagged USN-A by a face handoff, live or already lost
    registry = TrackRegistry(DOOR, startup_frames=0)
    see(registry, 1.0, {1: False, 2: False})
    assert registry.tag(1, "USN-A", "face", at(0.0))
    see(registry, 2.0, {1: False, 2: False} if holder_live else {2: False})
    # WHEN a newer body match names track 2
    with caplog.at_level(logging.WARNING):
        registry.tag(2, "USN-A", "body", at(10.0))
    # THEN a live face-tagged holder keeps the USN; a lost one gives it up to the body match
    assert [t for t, r in registry.records.items() if r.usn == "USN-A"] == [expected_holder]


def test_body_evidence_never_renames_a_face_tagged_track() -> None:
    registry = TrackRegistry(DOOR, startup_frames=0)
    see(registry, 1.0, {1: False})
    assert registry.tag(1, "USN-A", "face", at(0.0))
    assert not registry.tag(1, "USN-B", "body", at(5.0))
    assert (registry.records[1].usn, registry.records[1].usn_source) == ("USN-A", "face")


def test_body_handoff_tags_the_track_its_crop_came_from() -> None:
    registry = TrackRegistry(DOOR, startup_frames=0)
    assigner = HandoffAssigner(walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=1.0, wait_s=5.0)
    see(registry, 0.0, {1: False, 2: False})
    assigner.register_body_capture("body-7", tracker_id=2)
    assigner.submit(handoff("USN-B", "body-7", 0.0, source="body"))
    outcomes = assigner.update(registry, at(0.5))
    assert [(o.message.usn, o.tracker_id) for o in outcomes] == [("USN-B", 2)]
    assert registry.records[2].usn_source == "body"


def test_a_stalled_frame_loop_refuses_handoffs_beyond_its_inbox_instead_of_growing() -> None:
    # GIVEN a pipeline whose frame loop is not running, with room for two handoffs
    pipeline = RoomPipeline(
        None,
        ByteTrackPersonTracker(frame_rate=10.0),
        TrackRegistry(DoorZone([])),
        HandoffAssigner(),
        inbox_max=2,
    )
    handoffs = [
        Handoff(usn=f"1MS21CS00{i}", capture_id=f"c{i}", captured_at=T0, similarity=0.7, room_id="R101")
        for i in range(3)
    ]
    # WHEN three arrive THEN the third is refused (its message stays on the queue) and counted
    assert [pipeline.submit_handoff(h, ack=f"r{i}") for i, h in enumerate(handoffs)] == [True, True, False]
    assert pipeline.refused_handoffs == 1
