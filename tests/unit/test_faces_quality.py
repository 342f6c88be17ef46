"""Quality gates: each one fires on a real photo, with its reason; clean photos pass."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from cloud_functions.core.faces import ARCFACE_TEMPLATE, FacePipeline, FaceRejectedError, RejectReason
from cloud_functions.core.faces.quality import QualityThresholds, yaw_ratio
from cloud_functions.core.faces.types import AnalysisMode
from cloud_functions.core.settings import FaceModelSettings
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset"
EXAMPLES = DATA_DIR / "faces" / "face_recognition_examples"
PORTRAIT = LFW / "known" / "Colin_Powell" / "Colin_Powell_0001.jpg"
TWO_PEOPLE = EXAMPLES / "extra" / "two_people.jpg"
PROFILE = LFW / "unknown" / "Mercedes_Amor" / "Mercedes_Amor_0001.jpg"  # head turned sideways
STREET = DATA_DIR / "tracking" / "PETS09-S2L1" / "img1" / "000001.jpg"


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline.from_settings(FaceModelSettings())


def _jpeg(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buffer.tobytes()


def _portrait() -> np.ndarray:
    return cv2.imread(str(PORTRAIT))


def truncated_jpeg() -> bytes:
    data = PORTRAIT.read_bytes()
    return data[: len(data) // 2]


def random_bytes() -> bytes:
    return np.random.default_rng(7).bytes(20_000)


def downscaled_portrait() -> bytes:
    # 250 px → 80 px: the face shrinks to about 30 px, still found but below min_face_px (32).
    return _jpeg(cv2.resize(_portrait(), (80, 80), interpolation=cv2.INTER_AREA))


def blurred_portrait() -> bytes:
    return _jpeg(cv2.GaussianBlur(_portrait(), (0, 0), 6))


def street_without_faces() -> bytes:
    # The top-left of a PETS09 frame: road, grass and a building, nobody close enough to show a face.
    return _jpeg(cv2.imread(str(STREET))[:200, :300])


GATE_CASES: list[tuple[str, Callable[[], bytes], AnalysisMode, RejectReason]] = [
    ("empty file", lambda: b"", "enroll", RejectReason.UNDECODABLE),
    ("random bytes", random_bytes, "capture", RejectReason.UNDECODABLE),
    (
        "text, not an image",
        lambda: b"GIVEN a student WHEN enrolling THEN a photo",
        "enroll",
        RejectReason.UNDECODABLE,
    ),
    ("truncated JPEG", truncated_jpeg, "enroll", RejectReason.UNDECODABLE),
    ("no face in the image region", street_without_faces, "capture", RejectReason.NO_FACE),
    ("two people, enrollment", TWO_PEOPLE.read_bytes, "enroll", RejectReason.MULTIPLE_FACES),
    ("downscaled portrait", downscaled_portrait, "enroll", RejectReason.TOO_SMALL),
    ("blurred portrait", blurred_portrait, "enroll", RejectReason.TOO_BLURRY),
    ("profile view", PROFILE.read_bytes, "capture", RejectReason.EXTREME_POSE),
]


@pytest.mark.parametrize(
    ("photo", "mode", "reason"),
    [pytest.param(photo, mode, reason, id=name) for name, photo, mode, reason in GATE_CASES],
)
def test_gate_rejects_real_photo_with_its_reason(
    pipeline: FacePipeline, photo: Callable[[], bytes], mode: AnalysisMode, reason: RejectReason
) -> None:
    # GIVEN a photo that breaks one gate
    data = photo()
    # WHEN it is analysed
    with pytest.raises(FaceRejectedError) as rejected:
        pipeline.analyse(data, mode)
    # THEN the rejection names that gate, with a readable detail
    assert rejected.value.reason is reason
    assert str(rejected.value).startswith(f"{reason.value}: ")
    assert rejected.value.detail


@pytest.mark.parametrize(
    "thresholds",
    [
        pytest.param(QualityThresholds(max_image_bytes=10_000), id="more bytes than allowed"),
        pytest.param(QualityThresholds(max_image_pixels=250 * 249), id="more pixels than allowed"),
    ],
)
def test_too_large_upload_is_rejected_before_decoding(
    pipeline: FacePipeline, thresholds: QualityThresholds
) -> None:
    # GIVEN limits just below a real 250x250, 20 kB photo
    strict = FacePipeline(pipeline.detector, pipeline.embedder, thresholds)
    # WHEN / THEN
    with pytest.raises(FaceRejectedError) as rejected:
        strict.inspect(PORTRAIT.read_bytes(), "enroll")
    assert rejected.value.reason is RejectReason.TOO_LARGE


def test_capture_uses_the_largest_of_several_faces(pipeline: FacePipeline) -> None:
    # GIVEN a photo of two people (refused for enrollment)
    data = TWO_PEOPLE.read_bytes()
    # WHEN it is analysed as a doorway capture
    analysis = pipeline.analyse(data, "capture")
    # THEN the larger face is used
    faces = pipeline.detector.detect(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
    assert analysis.quality.faces_in_image == len(faces) == 2
    assert analysis.face.area_px == pytest.approx(max(face.area_px for face in faces), rel=1e-3)


def test_clean_portrait_passes_every_gate(pipeline: FacePipeline) -> None:
    # GIVEN a sharp frontal portrait WHEN it is analysed for enrollment
    analysis = pipeline.analyse(PORTRAIT.read_bytes(), "enroll")
    # THEN it is accepted, with the measured quality within every threshold
    thresholds = pipeline.thresholds
    assert analysis.quality.size_px >= thresholds.min_face_px
    assert analysis.quality.sharpness >= thresholds.min_sharpness
    assert analysis.quality.yaw_ratio <= thresholds.max_yaw_ratio
    assert analysis.aligned.image.shape == (112, 112, 3)
    assert analysis.embedding.shape == (pipeline.embedder.dim,)
    assert analysis.model_id == pipeline.model_id


def test_analyse_many_keeps_order_and_mixes_rejections_with_analyses(pipeline: FacePipeline) -> None:
    # GIVEN good and bad photos
    photos = [PORTRAIT.read_bytes(), b"", TWO_PEOPLE.read_bytes()]
    # WHEN analysed together for enrollment
    results = pipeline.analyse_many(photos, "enroll")
    # THEN each photo has its own result, in order, and the embedding matches a single analysis
    assert [type(r).__name__ for r in results] == ["FaceAnalysis", "FaceRejectedError", "FaceRejectedError"]
    single = pipeline.analyse(photos[0], "enroll")
    assert float(results[0].embedding @ single.embedding) == pytest.approx(1.0, abs=1e-5)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("roll_deg", "nose_shift", "expected"),
    [
        pytest.param(0.0, 0.0, 0.0, id="frontal"),
        pytest.param(30.0, 0.0, 0.0, id="frontal, head tilted"),
        pytest.param(0.0, 0.3, 0.3, id="turned"),
        pytest.param(-25.0, -0.5, 0.5, id="turned the other way, tilted"),
    ],
)
def test_yaw_ratio_measures_nose_offset_along_the_eye_axis(
    roll_deg: float, nose_shift: float, expected: float
) -> None:
    # GIVEN template landmarks with the nose moved sideways by a share of the eye distance, then rolled
    points = ARCFACE_TEMPLATE.astype(np.float64).copy()
    eye_mid = (points[0] + points[1]) / 2
    points[2] = [eye_mid[0] + nose_shift * (points[1, 0] - points[0, 0]), points[2, 1]]
    theta = np.deg2rad(roll_deg)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    # WHEN / THEN the ratio ignores the roll
    assert yaw_ratio(points @ rotation.T) == pytest.approx(expected, abs=0.01)
