"""Presence reports and body crops of unknown tracks (in-memory sink, synthetic frames)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
import supervision as sv

from contracts.presence import PresenceReport
from edge_client.cam2.presence import BodyCropUploader, PresenceReporter
from edge_client.cam2.tracks import DoorZone, TrackRegistry

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FRAME = np.full((480, 640, 3), 127, dtype=np.uint8)


class ListSink:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, dict[str, str], str]] = []

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        self.items.append((key, body, metadata, content_type))


def tracked(*tracker_ids: int) -> sv.Detections:
    boxes = np.array([[100.0 * i, 100.0, 100.0 * i + 50.0, 300.0] for i in tracker_ids]).reshape(-1, 4)
    return sv.Detections(
        xyxy=boxes,
        confidence=np.full(len(tracker_ids), 0.9),
        class_id=np.zeros(len(tracker_ids), dtype=int),
        tracker_id=np.array(tracker_ids, dtype=int),
    )


def step(
    registry: TrackRegistry, stage: PresenceReporter | BodyCropUploader, seconds: float, *ids: int
) -> None:
    at = T0 + timedelta(seconds=seconds)
    detections = registry.update_with_detections(tracked(*ids), at)
    stage.update_with_detections(detections, FRAME, at, registry)


def test_presence_reports_identified_tracks_every_interval() -> None:
    # GIVEN tracks 1 (tagged) and 2 (unknown) in view, and a 10 s reporting interval
    sink = ListSink()
    registry = TrackRegistry(DoorZone([]), startup_frames=0)
    reporter = PresenceReporter(sink, "R101", "cam2", interval_s=10.0)
    step(registry, reporter, 0.0, 1, 2)
    registry.tag(1, "1MS21CS001", "face", T0)
    # WHEN 25 s pass, one frame a second
    for second in range(1, 26):
        step(registry, reporter, float(second), 1, 2)
    # THEN reports were written at 0, 10 and 20 s under captures/presence/<room>/<date>/
    assert [key.split("/")[:4] for key, *_ in sink.items] == [
        ["captures", "presence", "R101", "2026-01-05"]
    ] * 3
    reports = [PresenceReport.model_validate_json(body) for _, body, _, _ in sink.items]
    assert [r.reported_at for r in reports] == [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)]
    # AND each lists the identified track with its dwell time; the unknown one is only counted
    last = reports[-1]
    assert [(t.usn, t.tracker_id, t.dwell_s) for t in last.present] == [("1MS21CS001", 1, 20.0)]
    assert last.unknown_tracks == 1
    assert {ct for *_, ct in sink.items} == {"application/json"}


def test_presence_reports_say_which_capture_named_each_track_and_how_it_came_in() -> None:
    # GIVEN a door zone covering track 1's feet, track 1 entering through it and track 2 already
    # in the room when watching began
    sink = ListSink()
    registry = TrackRegistry(DoorZone([(90, 250), (160, 250), (160, 320), (90, 320)]), startup_frames=1)
    reporter = PresenceReporter(sink, "R101", "cam2", interval_s=10.0)
    step(registry, reporter, 0.0, 2)
    step(registry, reporter, 1.0, 1, 2)
    # WHEN the door's capture c-1 names track 1, capture c-2 names track 2, and then a newer
    # capture c-3 of another student names track 1 too (one body, two faces)
    assert registry.tag(1, "1MS21CS001", "face", T0, capture_id="c-1")
    assert registry.tag(2, "1MS21CS002", "face", T0, capture_id="c-2")
    assert registry.tag(1, "1MS21CS003", "face", T0 + timedelta(seconds=2), capture_id="c-3")
    for second in range(2, 11):
        step(registry, reporter, float(second), 1, 2)
    # THEN the report carries each track's capture, its door entry, and track 1's earlier identity
    last = PresenceReport.model_validate_json(sink.items[-1][1])
    by_track = {t.tracker_id: t for t in last.present}
    one, two = by_track[1], by_track[2]
    assert (one.usn, one.capture_id, one.entered_through_door) == ("1MS21CS003", "c-3", True)
    assert one.entered_at == T0 + timedelta(seconds=1)
    assert [(e.usn, e.capture_id, e.tagged_at) for e in one.earlier_tags] == [("1MS21CS001", "c-1", T0)]
    assert (two.usn, two.capture_id, two.entered_through_door, two.earlier_tags) == (
        "1MS21CS002",
        "c-2",
        False,
        [],
    )


def test_re_id_carry_over_keeps_the_capture_and_the_original_door_entry() -> None:
    # GIVEN track 1 walked in through the door and was named by capture c-1
    registry = TrackRegistry(DoorZone([(90, 250), (160, 250), (160, 320), (90, 320)]), startup_frames=0)
    registry.update_with_detections(tracked(1), T0)
    registry.tag(1, "1MS21CS001", "face", T0, capture_id="c-1")
    # WHEN re-id carries the USN over to track 7, which appeared elsewhere
    registry.update_with_detections(tracked(7), T0 + timedelta(seconds=5))
    registry.transfer(1, 7)
    # THEN track 7 reports capture c-1 and track 1's door entry; track 7 itself stays a non-door track
    record = registry.records[7]
    assert (record.usn, record.usn_source, record.capture_id) == ("1MS21CS001", "reid", "c-1")
    assert record.tag_entry == (True, T0) and record.entered_through_door is False
    assert registry.records[1].capture_id is None and registry.records[1].tag_entry is None


@pytest.mark.parametrize(
    ("seconds_seen", "expected_uploads"),
    [
        (5, 0),  # unknown, but not for long enough
        (25, 1),  # unknown past 20 s: one crop
        (95, 2),  # still unknown 60 s after the first crop: a second one
    ],
)
def test_long_unknown_track_uploads_body_crops_at_most_once_per_interval(
    seconds_seen: int, expected_uploads: int
) -> None:
    sink = ListSink()
    captures: list[tuple[str, int]] = []
    registry = TrackRegistry(DoorZone([]), startup_frames=0)
    uploader = BodyCropUploader(
        sink,
        "R101",
        "cam2",
        unknown_after_s=20.0,
        interval_s=60.0,
        on_capture=lambda c, t: captures.append((c, t)),
    )
    for second in range(seconds_seen + 1):
        step(registry, uploader, float(second), 3)
    assert len(sink.items) == expected_uploads
    for key, body, metadata, content_type in sink.items:
        assert key.startswith("captures/bodies/R101/2026-01-05/") and key.endswith(".jpg")
        assert content_type == "image/jpeg"
        crop = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert crop.shape[:2] == (200, 50)
        assert metadata["tracker_id"] == "3" and metadata["room_id"] == "R101"
    assert [t for _, t in captures] == [3] * expected_uploads


def test_tagged_track_sends_no_body_crop() -> None:
    sink = ListSink()
    registry = TrackRegistry(DoorZone([]), startup_frames=0)
    uploader = BodyCropUploader(sink, "R101", "cam2", unknown_after_s=1.0, interval_s=60.0)
    step(registry, uploader, 0.0, 1)
    registry.tag(1, "1MS21CS001", "face", T0)
    for second in range(1, 5):
        step(registry, uploader, float(second), 1)
    assert sink.items == []
