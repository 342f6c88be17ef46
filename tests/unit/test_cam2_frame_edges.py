"""People cut by the frame's side edges (FrameEdges) and the first frame's tracks."""

from __future__ import annotations

import numpy as np
import supervision as sv

from edge_client.cam2.tracking import ByteTrackPersonTracker, FrameEdges, IdentityGuard

WIDTH = 640


def boxes(rows: list[tuple[float, float, float, float]], ids: list[int]) -> sv.Detections:
    return sv.Detections(xyxy=np.array(rows, dtype=float).reshape(-1, 4), tracker_id=np.array(ids, dtype=int))


def test_a_person_walking_out_keeps_their_width_until_mostly_out() -> None:
    # GIVEN a person seen in full view, 80 px wide, then cut by the right edge
    edges = FrameEdges()
    edges.apply(boxes([(500.0, 100.0, 580.0, 300.0)], [3]), WIDTH)
    cut = edges.apply(boxes([(590.0, 100.0, 639.0, 300.0)], [3]), WIDTH)
    # THEN the cut box reaches past the edge to the width they had
    np.testing.assert_allclose(cut.xyxy[0], (590.0, 100.0, 670.0, 300.0))
    # AND once that full box's centre is past the edge, they are not reported
    gone = edges.apply(boxes([(610.0, 100.0, 639.0, 300.0)], [3]), WIDTH)
    assert len(gone) == 0


def test_a_person_entering_from_the_left_takes_the_typical_width() -> None:
    # GIVEN people seen uncut with width = 0.4 x height, and someone stepping in at the left edge
    edges = FrameEdges()
    edges.apply(boxes([(200.0, 100.0, 280.0, 300.0), (300.0, 100.0, 380.0, 300.0)], [1, 2]), WIDTH)
    entering = edges.apply(boxes([(0.0, 100.0, 30.0, 300.0)], [5]), WIDTH)
    # THEN with only 30 of their 80 px in view their centre is outside: not reported yet
    assert len(entering) == 0
    # AND once most of them is in, the box is widened to the left, past the edge
    [box] = edges.apply(boxes([(0.0, 100.0, 60.0, 300.0)], [5]), WIDTH).xyxy
    np.testing.assert_allclose(box, (-20.0, 100.0, 60.0, 300.0))


def test_uncut_boxes_and_frame_filling_boxes_are_left_alone() -> None:
    # GIVEN a box in the middle and one spanning the whole width
    edges = FrameEdges()
    rows = [(100.0, 50.0, 180.0, 250.0), (0.0, 0.0, 639.0, 470.0)]
    out = edges.apply(boxes(rows, [1, 2]), WIDTH)
    # THEN both come back as they were
    np.testing.assert_allclose(out.xyxy, np.array(rows))
    # AND with no frame width known yet, nothing changes at all
    fresh = FrameEdges().apply(boxes([(0.0, 0.0, 10.0, 100.0)], [1]))
    assert len(fresh) == 1


def test_a_predicted_frame_does_not_teach_widths() -> None:
    # GIVEN a width learned from a detected frame
    edges = FrameEdges()
    edges.apply(boxes([(500.0, 100.0, 580.0, 300.0)], [3]), WIDTH)
    # WHEN a predicted frame shows the person narrower
    edges.apply(boxes([(500.0, 100.0, 540.0, 300.0)], [3]), learn=False)
    # THEN the cut box still takes the detected width
    [box] = edges.apply(boxes([(600.0, 100.0, 639.0, 300.0)], [3]), WIDTH).xyxy
    np.testing.assert_allclose(box, (600.0, 100.0, 680.0, 300.0))


class PassThrough:
    """A motion tracker that keeps the ids it is given."""

    def update_with_detections(
        self, detections: sv.Detections, timestamp_s: float, frame: np.ndarray | None = None
    ) -> sv.Detections:
        return detections

    def reset(self) -> None:
        pass


def test_the_guard_reports_edge_boxes_through_frame_edges() -> None:
    # GIVEN the guard with frame-edge handling and a person leaving on the right
    guard = IdentityGuard(PassThrough(), frame_edges=FrameEdges())  # type: ignore[arg-type]
    frame = np.zeros((480, WIDTH, 3), dtype=np.uint8)
    guard.update_with_detections(boxes([(500.0, 100.0, 580.0, 300.0)], [1]), 0.0, frame)
    out = guard.update_with_detections(boxes([(600.0, 100.0, 639.0, 300.0)], [1]), 0.1, frame)
    # THEN the box the guard hands on is the full-width one
    np.testing.assert_allclose(out.xyxy[0], (600.0, 100.0, 680.0, 300.0))


def test_people_in_view_on_the_first_frame_get_ids_at_once() -> None:
    # GIVEN ByteTrack waiting two frames before confirming a new track
    tracker = ByteTrackPersonTracker(min_consecutive_frames=2, frame_rate=10.0)
    first = sv.Detections(
        xyxy=np.array([[10.0, 10.0, 50.0, 110.0], [200.0, 10.0, 240.0, 110.0]]),
        confidence=np.array([0.9, 0.8]),
    )
    # WHEN the source's first frame is tracked
    out = tracker.update_with_detections(first, 0.0)
    # THEN both people already carry distinct ids, and keep them on the next frame
    assert len(out) == 2 and len(set(out.tracker_id.tolist())) == 2
    again = tracker.update_with_detections(first, 0.1)
    assert sorted(again.tracker_id.tolist()) == sorted(out.tracker_id.tolist())
    # AND someone appearing later still waits to be confirmed
    later = sv.Detections(
        xyxy=np.array([[10.0, 10.0, 50.0, 110.0], [200.0, 10.0, 240.0, 110.0], [400.0, 10.0, 440.0, 110.0]]),
        confidence=np.array([0.9, 0.8, 0.9]),
    )
    assert len(tracker.update_with_detections(later, 0.2)) == 2
    # AND after a reset the next first frame is confirmed at once again
    tracker.reset()
    assert len(tracker.update_with_detections(first, 0.0)) == 2
