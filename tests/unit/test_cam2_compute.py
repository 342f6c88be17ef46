"""The per-CPU detector schedule, and frames the detector skips (tracker prediction in between)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from edge_client.cam2.compute import choose_detector_plan, classify_cpu, cpu_flags, measure_detector_ms
from edge_client.cam2.tracking import ByteTrackPersonTracker, IdentityGuard

VNNI = {"avx2", "fma", "avx512f", "avx512_vnni"}
AVX2 = {"avx2", "fma"}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (VNNI, "int8-dot-product"),
        ({"avx2", "avx_vnni"}, "int8-dot-product"),
        ({"avx2", "amx_int8"}, "int8-dot-product"),
        (AVX2, "avx2"),
        ({"sse4_2"}, "older"),
        (set(), "older"),
    ],
)
def test_cpu_class_follows_int8_dot_product_instructions(flags: set[str], expected: str) -> None:
    assert classify_cpu(flags) == expected


@pytest.mark.parametrize(
    ("flags", "cores", "fps", "detector_ms", "expected_fps", "dropped"),
    [
        (VNNI, 2, 7.0, None, 7.0, 0.0),  # a slow replay keeps up anywhere
        (VNNI, 2, 25.0, 13.3, 25.0, 0.0),  # the Xeon, timed: (13.3 + 8) x 1.6 = 34 ms < 40 ms
        (VNNI, 2, 25.0, None, 20.6, 0.177),  # typical VNNI: (22.4 + 8) x 1.6 = 48.6 ms
        (VNNI, 8, 25.0, None, 25.0, 0.0),  # cores of its own
        (AVX2, 2, 25.0, None, 10.3, 0.587),  # the AVX2-only EPYC with cam1 beside it
        (AVX2, 8, 25.0, None, 16.5, 0.339),
        ({"sse4_2"}, 2, 25.0, None, 4.9, 0.805),
    ],
)
def test_detector_plan_per_cpu(
    flags: set[str],
    cores: int,
    fps: float,
    detector_ms: float | None,
    expected_fps: float,
    dropped: float,
) -> None:
    """Every CPU keeps the detector on every frame (skipping detections was measured to cost more
    identity than dropping frames); the plan says what to expect: frame rate and dropped share."""
    plan = choose_detector_plan(flags, cores, fps, detector_ms)
    assert plan.detect_every_n == 1
    assert plan.measured is (detector_ms is not None)
    assert plan.expected_fps == pytest.approx(expected_fps, abs=0.05)
    assert plan.dropped_share == pytest.approx(dropped, abs=0.001)
    assert "on every frame" in plan.reason
    assert ("dropped (newest frame wins)" in plan.reason) is (dropped > 0)
    assert ("timed at start-up" in plan.reason) is (detector_ms is not None)


def test_detector_time_is_the_median_after_a_warm_up() -> None:
    class SlowDetector:
        calls = 0

        def detect(self, frame: np.ndarray) -> sv.Detections:
            SlowDetector.calls += 1
            assert frame.shape == (480, 640, 3)
            time.sleep(0.05 if SlowDetector.calls == 1 else 0.01)  # the first call compiles
            return sv.Detections.empty()

    ms = measure_detector_ms(SlowDetector(), runs=3)
    assert SlowDetector.calls == 4
    assert 9.0 <= ms < 40.0


def test_pipeline_plan_times_the_detector_it_is_given(caplog: pytest.LogCaptureFixture) -> None:
    from edge_client.cam2.app import build_pipeline
    from edge_client.cam2.settings import Cam2Settings

    class Detector:
        calls = 0

        def detect(self, frame: np.ndarray) -> sv.Detections:
            Detector.calls += 1
            return sv.Detections.empty()

    settings = Cam2Settings(
        room_id="R101",
        bucket_name="bench",
        reid_enabled=False,
        track_relink_enabled=False,
        stream_enabled=False,
    )
    with caplog.at_level(logging.INFO, logger="edge_client.cam2.app"):
        pipeline = build_pipeline(settings, detector=Detector(), sink=None, frame_rate=25.0)
    assert Detector.calls == 6  # one warm-up, five timed
    logged = [r.getMessage() for r in caplog.records]
    assert any("on every frame" in line and "timed at start-up" in line for line in logged)
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert all(pipeline.process(frame, start + timedelta(seconds=i / 25.0)).detected for i in range(3))


def test_cpu_flags_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Some CPU\nflags\t\t: fpu avx2 avx512_vnni\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_vnni"}
    assert cpu_flags(tmp_path / "absent") == frozenset()


def person(x: float, score: float = 0.9) -> sv.Detections:
    return sv.Detections(
        xyxy=np.array([[x, 100.0, x + 60.0, 280.0]]),
        confidence=np.array([score]),
        class_id=np.array([0]),
    )


def test_predicted_frames_keep_the_id_and_move_the_box() -> None:
    """GIVEN a person walking right at 10 px a frame, detected on every 2nd frame only
    WHEN the skipped frames are predicted
    THEN they carry the same public id, the box lies between the detections, and the next
    detection continues the track."""
    guard = IdentityGuard(ByteTrackPersonTracker(frame_rate=10.0, min_consecutive_frames=1))
    ids, boxes = [], []
    for frame in range(12):
        t = frame / 10.0
        if frame % 2 == 0:
            out = guard.update_with_detections(person(100.0 + 10 * frame), t)
        else:
            out = guard.predict(t)
        if len(out):
            ids.append(int(out.tracker_id[0]))
            boxes.append(float(out.xyxy[0][0]))
    assert len(set(ids)) == 1
    assert len(ids) >= 10
    predicted_x = boxes[-2]  # frame 11 is predicted, between detections at 200 and (next) 220
    assert 195.0 <= predicted_x <= 225.0


def test_prediction_without_tracks_is_empty() -> None:
    guard = IdentityGuard(ByteTrackPersonTracker(frame_rate=10.0))
    assert len(guard.predict(0.1)) == 0


def test_pipeline_runs_the_detector_on_one_frame_in_n() -> None:
    from edge_client.cam2.app import build_pipeline
    from edge_client.cam2.settings import Cam2Settings

    class CountingDetector:
        calls = 0

        def detect(self, frame: np.ndarray) -> sv.Detections:
            CountingDetector.calls += 1
            return person(100.0 + 5 * CountingDetector.calls)

    settings = Cam2Settings(
        room_id="R101",
        bucket_name="bench",
        person_detect_every_n=3,
        reid_enabled=False,
        track_relink_enabled=False,
        stream_enabled=False,
    )
    pipeline = build_pipeline(settings, detector=CountingDetector(), sink=None, frame_rate=25.0)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    results = [pipeline.process(frame, start + timedelta(seconds=i / 25.0)) for i in range(12)]
    assert CountingDetector.calls == 4
    assert [r.detected for r in results[:6]] == [True, False, False, True, False, False]
    tracked = [r for r in results[6:] if len(r.detections)]
    assert len(tracked) == 6, "predicted frames keep the confirmed track in view"
    pipeline.reset()
    assert pipeline.process(frame, start + timedelta(seconds=1)).detected
