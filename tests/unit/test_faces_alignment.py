"""ArcFace 5-point alignment: the 112x112 crop puts the landmarks on the template."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud_functions.core.faces import ARCFACE_TEMPLATE, RetinaFaceDetector, YuNetDetector, align_face
from cloud_functions.core.faces.alignment import similarity_transform
from tests.conftest import DATA_DIR, MODELS_DIR

PORTRAIT = DATA_DIR / "faces" / "lfw_subset" / "known" / "Colin_Powell" / "Colin_Powell_0001.jpg"


def _detectors() -> list[pytest.param]:
    return [
        pytest.param(lambda: YuNetDetector(MODELS_DIR / "face" / "face_detection_yunet.onnx"), id="yunet"),
        pytest.param(
            lambda: RetinaFaceDetector(MODELS_DIR / "face" / "retinaface_mnet025_640.onnx"), id="retinaface"
        ),
    ]


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


@pytest.mark.parametrize(
    ("angle_deg", "scale", "shift"),
    [(0.0, 1.0, (0.0, 0.0)), (25.0, 2.5, (300.0, 120.0)), (-40.0, 0.6, (-10.0, 55.0))],
)
def test_similarity_transform_maps_rotated_scaled_template_back_onto_template(
    angle_deg: float, scale: float, shift: tuple[float, float]
) -> None:
    # GIVEN the template moved by a known rotation, scale and shift (a face somewhere in a photo)
    theta = np.deg2rad(angle_deg)
    rotation = scale * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    landmarks = ARCFACE_TEMPLATE @ rotation.T + np.array(shift)
    # WHEN the alignment transform is estimated
    matrix = similarity_transform(landmarks, ARCFACE_TEMPLATE)
    # THEN it maps the landmarks exactly onto the template
    np.testing.assert_allclose(_apply(matrix, landmarks), ARCFACE_TEMPLATE, atol=1e-3)


@pytest.mark.parametrize("make_detector", _detectors())
def test_aligned_real_face_has_its_landmarks_on_the_template(make_detector: object) -> None:
    # GIVEN a real portrait and its detected landmarks
    detector = make_detector()  # type: ignore[operator]
    image = cv2.imread(str(PORTRAIT))
    face = detector.detect(image)[0]
    # WHEN the face is aligned
    aligned = align_face(image, face.landmarks)
    # THEN the crop is 112x112 BGR, and the detector finds the landmarks where the template puts them
    assert aligned.shape == (112, 112, 3)
    assert aligned.dtype == np.uint8
    pad = 56  # the detector needs context around a tight crop
    canvas = cv2.copyMakeBorder(aligned, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    redetected = detector.detect(canvas)
    assert len(redetected) == 1
    offsets = np.linalg.norm(redetected[0].landmarks - pad - ARCFACE_TEMPLATE, axis=1)
    assert offsets.max() < 6.0, offsets


def test_both_detectors_find_the_same_face_and_landmarks_in_the_same_order() -> None:
    # GIVEN a real portrait
    image = cv2.imread(str(PORTRAIT))
    # WHEN both detectors run
    yunet = YuNetDetector(MODELS_DIR / "face" / "face_detection_yunet.onnx").detect(image)[0]
    retina = RetinaFaceDetector(MODELS_DIR / "face" / "retinaface_mnet025_640.onnx").detect(image)[0]
    # THEN their landmarks agree to within a few pixels, eye on the image's left first
    eye_distance = float(np.linalg.norm(yunet.landmarks[1] - yunet.landmarks[0]))
    assert np.linalg.norm(yunet.landmarks - retina.landmarks, axis=1).max() < 0.25 * eye_distance
    for face in (yunet, retina):
        assert face.landmarks[0, 0] < face.landmarks[1, 0]
        assert face.landmarks[3, 0] < face.landmarks[4, 0]


@pytest.mark.parametrize("detector", ["yunet", "retinaface"])
def test_detectors_refuse_missing_weights(tmp_path: Path, detector: str) -> None:
    from cloud_functions.core.errors import ConfigurationError
    from cloud_functions.core.faces.pipeline import make_detector
    from cloud_functions.core.settings import FaceModelSettings

    # the functions build their detector from settings and stop at start-up with a clear error
    settings = FaceModelSettings(face_detector=detector, face_detector_path=tmp_path / "missing.onnx")
    with pytest.raises(ConfigurationError, match="not found"):
        make_detector(settings)
