"""Liveness pure logic: crop geometry, device enclosure, fusion, report metadata, operating-point rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from vision.liveness import (
    DeviceBox,
    Evidence,
    Finding,
    LivenessReport,
    LivenessReportError,
    LivenessSettings,
    Source,
    Verdict,
    WindowFrame,
    combine,
    evenly_spaced,
    fuse,
    report_of,
    silent_face_box,
)
from vision.liveness.evaluation import choose_threshold, error_rates, simulated_photo_window
from vision.liveness.evidence import device_enclosure, device_score, planar_motion


@pytest.mark.parametrize(
    ("frame_hw", "xyxy", "scale", "expected"),
    [
        # 100x100 box (w = h = 101 inclusive) in the middle of 640x480, grown 2x about its centre.
        ((480, 640), (270, 190, 370, 290), 2.0, (219, 139, 421, 341)),
        # Near the left/top edge: the grown box slides right/down, it is not shrunk.
        ((480, 640), (0, 0, 100, 100), 2.0, (0, 0, 202, 202)),
        # Near the right/bottom edge: it slides left/up to end on the last pixel.
        ((480, 640), (539, 379, 639, 479), 2.0, (437, 277, 639, 479)),
        # A scale that would not fit is capped at what the frame allows: (481 - 1) / 160 = 3.
        ((481, 641), (200, 150, 359, 309), 4.0, (40, 0, 520, 480)),
    ],
)
def test_crop_box_follows_the_silent_face_geometry(
    frame_hw: tuple[int, int],
    xyxy: tuple[float, float, float, float],
    scale: float,
    expected: tuple[int, int, int, int],
) -> None:
    assert silent_face_box(frame_hw, xyxy, scale) == expected


def _device(xyxy: tuple[float, float, float, float], label: str = "cell phone") -> DeviceBox:
    return DeviceBox(xyxy, label, 0.8)


@pytest.mark.parametrize(
    ("device", "encloses"),
    [
        (_device((90, 90, 210, 230)), True),  # a phone around the face
        (_device((90, 90, 210, 230), label="tv"), True),
        (_device((90, 90, 210, 230), label="person"), False),  # not a presentation device
        (_device((150, 90, 210, 230)), False),  # covers only half the face
        (_device((0, 0, 4000, 4000), label="tv"), False),  # the face is lost in a wall-sized screen
    ],
)
def test_device_counts_only_when_it_encloses_the_face(device: DeviceBox, encloses: bool) -> None:
    face = (100.0, 100.0, 200.0, 220.0)
    assert device_enclosure(face, device, min_face_share=0.02) is encloses


def test_unchecked_frames_give_no_device_evidence() -> None:
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    face = (100.0, 100.0, 200.0, 220.0)
    unchecked = [WindowFrame(image, face, 0.0, (_device((90, 90, 210, 230)),), devices_checked=False)]
    checked_empty = [WindowFrame(image, face, 0.0, (), devices_checked=True)]
    assert device_score(unchecked, min_face_share=0.02) is None
    assert device_score(checked_empty, min_face_share=0.02) == 0.0


def _evidence(source: Source, finding: Finding, score: float | None = 0.5) -> Evidence:
    return Evidence(source, finding, score, 0.1)


@pytest.mark.parametrize(
    ("findings", "verdict"),
    [
        ((Finding.LIVE, Finding.LIVE, Finding.INCONCLUSIVE), Verdict.LIVE),
        ((Finding.LIVE, Finding.INCONCLUSIVE, Finding.INCONCLUSIVE), Verdict.LIVE),
        ((Finding.LIVE, Finding.SPOOF, Finding.INCONCLUSIVE), Verdict.SPOOF_SUSPECTED),
        ((Finding.SPOOF, Finding.LIVE, Finding.LIVE), Verdict.SPOOF_SUSPECTED),
    ],
)
def test_any_spoof_finding_makes_a_suspected_spoof_and_inconclusive_never_does(
    findings: tuple[Finding, ...], verdict: Verdict
) -> None:
    sources = (Source.MODEL, Source.PLANAR, Source.DEVICE)
    decision = fuse(
        [_evidence(s, f) for s, f in zip(sources, findings, strict=True)],
        frames=5,
        enforced=True,
        elapsed_ms=1,
    )
    assert decision.verdict is verdict
    assert decision.reasons == tuple(s for s, f in zip(sources, findings, strict=True) if f is Finding.SPOOF)
    assert decision.blocks_attendance is (verdict is Verdict.SPOOF_SUSPECTED)


def test_record_only_never_blocks_attendance() -> None:
    decision = fuse([_evidence(Source.MODEL, Finding.SPOOF)], frames=1, enforced=False, elapsed_ms=1)
    assert decision.verdict is Verdict.SPOOF_SUSPECTED
    assert not decision.blocks_attendance


def test_report_round_trips_through_object_metadata_in_a_few_small_strings() -> None:
    decision = fuse(
        [
            Evidence(Source.MODEL, Finding.LIVE, 0.98765, 0.045),
            Evidence(Source.PLANAR, Finding.SPOOF, 0.0012345, 0.008, measures={"motion": 0.2345}),
            Evidence(Source.DEVICE, Finding.INCONCLUSIVE, None, 0.3),
        ],
        frames=14,
        enforced=True,
        elapsed_ms=80,
    )
    report = report_of(decision, "1:models")
    metadata = report.to_metadata()
    assert metadata["liveness_scores"] == "model=0.988;motion=0.234;planar=0.0012"
    assert metadata["liveness_reasons"] == "planar"
    assert sum(len(k) + len(v) for k, v in metadata.items()) < 200
    # S3 hands user metadata back with lower-cased keys.
    again = LivenessReport.from_metadata({k.upper(): v for k, v in metadata.items()} | {"room_id": "R101"})
    assert again == report


@pytest.mark.parametrize(
    "metadata",
    [
        {"liveness_verdict": "maybe", "liveness_version": "1", "liveness_frames": "3"},
        {"liveness_verdict": "live", "liveness_version": "1", "liveness_frames": "x"},
        {
            "liveness_verdict": "live",
            "liveness_version": "1",
            "liveness_frames": "3",
            "liveness_scores": "model=nan",
        },
        {
            "liveness_verdict": "live",
            "liveness_version": "1",
            "liveness_frames": "3",
            "liveness_scores": "eyes=1",
        },
    ],
)
def test_malformed_liveness_metadata_is_a_clear_error(metadata: dict[str, str]) -> None:
    with pytest.raises(LivenessReportError):
        LivenessReport.from_metadata(metadata)


def test_no_liveness_metadata_means_no_edge_report() -> None:
    assert LivenessReport.from_metadata({"room_id": "R101", "camera_id": "R101-door"}) is None


@pytest.mark.parametrize(
    ("edge_verdict", "cloud_finding", "combined"),
    [
        (None, Finding.LIVE, Verdict.LIVE),
        (None, Finding.SPOOF, Verdict.SPOOF_SUSPECTED),
        (Verdict.LIVE, Finding.LIVE, Verdict.LIVE),
        # An edge claiming "live" cannot overrule the cloud's own finding on the pixels.
        (Verdict.LIVE, Finding.SPOOF, Verdict.SPOOF_SUSPECTED),
        (Verdict.SPOOF_SUSPECTED, Finding.LIVE, Verdict.SPOOF_SUSPECTED),
    ],
)
def test_combine_keeps_either_sides_suspicion(
    edge_verdict: Verdict | None, cloud_finding: Finding, combined: Verdict
) -> None:
    edge = (
        None
        if edge_verdict is None
        else LivenessReport(
            version="1",
            verdict=edge_verdict,
            frames=10,
            reasons=(Source.PLANAR,) if edge_verdict is Verdict.SPOOF_SUSPECTED else (),
        )
    )
    cloud = fuse([_evidence(Source.MODEL, cloud_finding)], frames=1, enforced=True, elapsed_ms=1)
    result = combine(edge, cloud)
    assert result.verdict is combined
    assert result.blocks_attendance is (combined is Verdict.SPOOF_SUSPECTED)
    if combined is Verdict.SPOOF_SUSPECTED:
        assert result.reasons


@pytest.mark.parametrize(
    ("real", "spoof", "spoof_below", "budget", "expected"),
    [
        # A clean gap: the middle of it.
        ([0.5, 0.9], [0.0, 0.1], True, 0.05, 0.3),
        # One real face among the attacks: with no budget it stays accepted, the attack above it too.
        ([0.05, 0.5, 0.6, 0.7], [0.0, 0.1], True, 0.0, 0.025),
        # With a budget of one in four, the threshold may refuse it to catch the second attack.
        ([0.05, 0.5, 0.6, 0.7], [0.0, 0.1], True, 0.25, 0.3),
        # Flag above (device confidence): no real device seen, attacks at 0.4 and 0.6.
        ([0.0, 0.0], [0.4, 0.6], False, 0.0, 0.2),
    ],
)
def test_operating_point_rule(
    real: list[float], spoof: list[float], spoof_below: bool, budget: float, expected: float
) -> None:
    chosen = choose_threshold(real, spoof, spoof_below=spoof_below, max_bpcer=budget)
    assert chosen == pytest.approx(expected)
    flagged_real = [(r < chosen) if spoof_below else (r > chosen) for r in real]
    assert sum(flagged_real) / len(real) <= budget


def test_error_rates() -> None:
    rates = error_rates([True, True, True, True, False, False], [True, True, True, False, False, True])
    assert (rates.apcer, rates.bpcer, rates.acer) == (0.25, 0.5, 0.375)


@pytest.mark.parametrize(
    ("count", "wanted", "expected"), [(10, 5, [0, 2, 4, 7, 9]), (3, 5, [0, 1, 2]), (1, 5, [0])]
)
def test_evenly_spaced(count: int, wanted: int, expected: list[int]) -> None:
    assert evenly_spaced(count, wanted) == expected


def test_a_textured_plane_swaying_moves_as_one_plane() -> None:
    # GIVEN a synthetic textured picture held up and swayed as one plane (simulated)
    rng = np.random.default_rng(1)
    picture = (rng.random((60, 80)) * 255).astype(np.uint8)
    picture = np.asarray(np.kron(picture, np.ones((8, 8))), dtype=np.uint8)
    picture = np.dstack([picture] * 3)
    window = simulated_photo_window(picture, frames=20, fps=10, seed=3)
    face = (220.0, 140.0, 420.0, 340.0)
    frames = [WindowFrame(f.image, face, f.timestamp_s) for f in window]
    # WHEN its points are tracked
    measure = planar_motion(frames, min_points=12)
    # THEN it moved, and one homography explains it to a fraction of a pixel
    assert measure is not None
    assert measure.motion > 0.03
    assert measure.residual < 0.003


def test_settings_are_bounded_and_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        LivenessSettings(liveness_model_threshold=1.5)
    with pytest.raises(ValidationError):
        LivenessSettings(liveness_mode="sometimes")  # type: ignore[arg-type]
    monkeypatch.setenv("CLASSSIGHT_LIVENESS_MODEL_PATHS", "/m/a.onnx, /m/b.onnx")
    monkeypatch.setenv("CLASSSIGHT_LIVENESS_MODE", "record_only")
    settings = LivenessSettings()
    assert settings.liveness_model_paths == (Path("/m/a.onnx"), Path("/m/b.onnx"))
    assert settings.liveness_mode == "record_only"
