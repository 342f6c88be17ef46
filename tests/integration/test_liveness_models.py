"""Liveness on the real MiniFASNet weights (converted to ONNX once, cached under var/) and real
dev samples: printed photos and a laptop-screen replay are refused, live faces pass, and the
ONNX files agree with the PyTorch architecture they were exported from."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from infra.models import minifasnet
from infra.models.convert_antispoof import ensure_converted, sha256_of, softmax
from tests.conftest import DATA_DIR, MODELS_DIR, REPO_ROOT
from vision.faces import YuNetDetector
from vision.liveness import (
    Finding,
    LivenessChecker,
    LivenessError,
    LivenessReport,
    LivenessSettings,
    MiniFASNetEnsemble,
    Source,
    Verdict,
    WindowFrame,
    report_of,
    silent_face_crop,
)
from vision.liveness.evaluation import read_labels, simulated_photo_window, video_windows

pytestmark = pytest.mark.slow

ANTISPOOF = DATA_DIR / "antispoof"
WEIGHTS_DIR = MODELS_DIR / "antispoof"
NUAA_REAL = sorted((ANTISPOOF / "nuaa_dev" / "real").glob("*.jpg"))
NUAA_SPOOF = sorted((ANTISPOOF / "nuaa_dev" / "spoof").glob("*.jpg"))
LIVE_VIDEO = ANTISPOOF / "replay_videos" / "real.mp4"
REPLAY_VIDEO = ANTISPOOF / "replay_videos" / "fake.mp4"


@pytest.fixture(scope="module")
def onnx_paths() -> list[Path]:
    return ensure_converted(WEIGHTS_DIR, REPO_ROOT / "var" / "models" / "antispoof")


@pytest.fixture(scope="module")
def checker(onnx_paths: list[Path]) -> LivenessChecker:
    return LivenessChecker(LivenessSettings(liveness_model_paths=tuple(onnx_paths), liveness_mode="enforce"))


@pytest.fixture(scope="module")
def detector() -> YuNetDetector:
    return YuNetDetector(MODELS_DIR / "face" / "face_detection_yunet.onnx")


def _box(detector: YuNetDetector, image: np.ndarray) -> tuple[float, float, float, float]:
    faces = detector.detect(image)
    assert faces, "the dev sample has a face"
    x1, y1, x2, y2 = (float(v) for v in faces[0].xyxy)
    return x1, y1, x2, y2


def _window(detector: YuNetDetector, timed: list) -> list[WindowFrame]:
    return [WindowFrame(f.image, _box(detector, f.image), f.timestamp_s) for f in timed]


def test_onnx_matches_pytorch_on_real_face_crops(onnx_paths: list[Path], detector: YuNetDetector) -> None:
    # GIVEN real crops (live and printed NUAA frames, a live video frame) at each model's geometry
    images = [cv2.imread(str(p)) for p in (*NUAA_REAL[:4], *NUAA_SPOOF[:4])]
    images.append(next(video_windows(LIVE_VIDEO, window_s=2.0, fps=1.0))[0].image)
    ensemble = MiniFASNetEnsemble(onnx_paths)
    for onnx_path, scale in zip(onnx_paths, ensemble.crop_scales, strict=True):
        crops = np.stack([silent_face_crop(im, _box(detector, im), scale, 80) for im in images])
        blob = crops.transpose(0, 3, 1, 2).astype(np.float32)
        # WHEN both runtimes score them
        torch_model = minifasnet.load(WEIGHTS_DIR / f"{onnx_path.stem}.pth")
        import torch

        with torch.no_grad():
            expected = softmax(torch_model(torch.from_numpy(blob)).numpy())
        import onnxruntime as ort

        got = softmax(ort.InferenceSession(str(onnx_path)).run(None, {"input": blob})[0])
        # THEN they agree to float precision, and the crops span real and spoof decisions
        assert np.abs(expected - got).max() < 1e-4
        assert got[:4, 1].max() > 0.9 and got[4:8, 1].max() < 0.5


def test_converted_models_carry_their_geometry_and_are_not_redone(onnx_paths: list[Path]) -> None:
    import onnxruntime as ort

    scales = {}
    for path in onnx_paths:
        meta = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
        scales[path.stem] = float(meta["crop_scale"])
        assert meta["source_sha256"] == sha256_of(WEIGHTS_DIR / f"{path.stem}.pth")
        assert "Apache-2.0" in meta["licence"]
    assert scales == {"2.7_80x80_MiniFASNetV2": 2.7, "4_0_0_80x80_MiniFASNetV1SE": 4.0}
    before = [p.stat().st_mtime_ns for p in onnx_paths]
    ensure_converted(WEIGHTS_DIR, onnx_paths[0].parent)
    assert [p.stat().st_mtime_ns for p in onnx_paths] == before


@pytest.mark.parametrize("path", NUAA_SPOOF, ids=lambda p: p.name)
def test_printed_photos_are_refused(checker: LivenessChecker, detector: YuNetDetector, path: Path) -> None:
    image = cv2.imread(str(path))
    decision = checker.assess_image(image, _box(detector, image))
    assert decision.verdict is Verdict.SPOOF_SUSPECTED
    assert Source.MODEL in decision.reasons
    assert decision.blocks_attendance


@pytest.mark.parametrize("path", NUAA_REAL, ids=lambda p: p.name)
def test_live_faces_pass(checker: LivenessChecker, detector: YuNetDetector, path: Path) -> None:
    image = cv2.imread(str(path))
    decision = checker.assess_image(image, _box(detector, image))
    assert decision.verdict is Verdict.LIVE, decision.evidence


def test_screen_replay_windows_are_refused(checker: LivenessChecker, detector: YuNetDetector) -> None:
    windows = list(video_windows(REPLAY_VIDEO, window_s=2.0, fps=10.0))[:4]
    assert windows
    for timed in windows:
        decision = checker.assess_window(_window(detector, timed))
        assert decision.verdict is Verdict.SPOOF_SUSPECTED
        report = report_of(decision, checker.version)
        assert LivenessReport.from_metadata(report.to_metadata()) == report


def test_live_video_windows_pass_and_are_not_planar(
    checker: LivenessChecker, detector: YuNetDetector
) -> None:
    windows = list(video_windows(LIVE_VIDEO, window_s=2.0, fps=10.0))[:4]
    assert windows
    for timed in windows:
        decision = checker.assess_window(_window(detector, timed))
        assert decision.verdict is Verdict.LIVE, decision.evidence
        planar = decision.of(Source.PLANAR)
        assert planar is not None and planar.finding is not Finding.SPOOF


@pytest.mark.parametrize("path", [NUAA_REAL[10], NUAA_REAL[20]], ids=lambda p: p.name)
def test_simulated_held_up_photo_of_a_live_frame_is_caught_by_planar_motion(
    checker: LivenessChecker, detector: YuNetDetector, path: Path
) -> None:
    # GIVEN a photo the model alone accepts (a live frame, not recaptured) ...
    image = cv2.imread(str(path))
    assert checker.assess_image(image, _box(detector, image)).verdict is Verdict.LIVE
    # ... held up to the door camera and swaying as one plane (simulated window)
    window = _window(detector, simulated_photo_window(image, frames=20, fps=10.0, seed=7))
    decision = checker.assess_window(window)
    assert decision.verdict is Verdict.SPOOF_SUSPECTED
    assert decision.reasons == (Source.PLANAR,)


def test_a_device_around_the_replayed_face_is_found(
    checker: LivenessChecker, detector: YuNetDetector
) -> None:
    pytest.importorskip("ultralytics")
    from edge_client.cam2.detection import YoloDeviceDetector

    devices = YoloDeviceDetector(MODELS_DIR / "person" / "yolov8n_int8_openvino_model")
    frames = []
    for timed in list(video_windows(REPLAY_VIDEO, window_s=2.0, fps=10.0))[5:7]:
        for f in timed[::4]:
            frames.append(
                WindowFrame(f.image, _box(detector, f.image), f.timestamp_s, devices.detect(f.image), True)
            )
    evidence = checker.assess_window(frames).of(Source.DEVICE)
    assert evidence is not None and evidence.finding is Finding.SPOOF
    # ... and none around a live face
    live = [
        WindowFrame(f.image, _box(detector, f.image), f.timestamp_s, devices.detect(f.image), True)
        for f in next(video_windows(LIVE_VIDEO, window_s=2.0, fps=2.0))
    ]
    assert checker.assess_window(live).of(Source.DEVICE).finding is Finding.LIVE  # type: ignore[union-attr]


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LivenessError, match="convert_antispoof"):
        MiniFASNetEnsemble([tmp_path / "absent.onnx"])


def test_bench_reports_rates_as_one_json_line(tmp_path: Path) -> None:
    # GIVEN a small data folder in the labels.csv format, images and one video
    data = tmp_path / "data"
    data.mkdir()
    rows = [
        ("real", NUAA_REAL[0]),
        ("real", NUAA_REAL[15]),
        ("spoof", NUAA_SPOOF[0]),
        ("spoof", NUAA_SPOOF[15]),
    ]
    with (data / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "attack"])
        for label, path in rows:
            (data / f"{label}_{path.name}").symlink_to(path)
            writer.writerow([f"{label}_{path.name}", label, "live" if label == "real" else "print photo"])
        (data / "replay.mp4").symlink_to(REPLAY_VIDEO)
        writer.writerow(["replay.mp4", "spoof", "laptop-screen replay"])
    assert len(read_labels(data)) == 5
    # WHEN the benchmark runs on it
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "bench" / "liveness.py"),
            "--data",
            str(data),
            "--json",
            "--no-devices",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    # THEN its last line holds the rates over every sample (4 images + the video's 2 s windows)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"apcer", "bpcer", "acer", "samples"} <= summary.keys()
    assert summary["samples"] > 4
    assert summary["apcer"] == 0.0 and summary["bpcer"] == 0.0
    assert "laptop-screen replay" in result.stdout
