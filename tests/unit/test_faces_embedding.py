"""Embedders: one interface, batched, L2-normalised float32, a model id naming the weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud_functions.core.errors import ConfigurationError
from cloud_functions.core.faces import (
    DeepFaceArcFaceEmbedder,
    OnnxArcFaceEmbedder,
    YuNetDetector,
    align_face,
)
from cloud_functions.core.faces.embedding import build_deepface_arcface, make_embedder, weights_fingerprint
from cloud_functions.core.settings import FaceModelSettings
from tests.conftest import DATA_DIR, MODELS_DIR

LFW = DATA_DIR / "faces" / "lfw_subset" / "known"
ONNX_WEIGHTS = MODELS_DIR / "face" / "arcface_mobilefacenet_128d.onnx"


@pytest.fixture(scope="module")
def aligned_faces() -> dict[str, list[np.ndarray]]:
    """Two aligned photos each of two real people."""
    detector = YuNetDetector(MODELS_DIR / "face" / "face_detection_yunet.onnx")
    faces: dict[str, list[np.ndarray]] = {}
    for person, numbers in (("Colin_Powell", (1, 2)), ("Serena_Williams", (1, 2))):
        for number in numbers:
            image = cv2.imread(str(LFW / person / f"{person}_{number:04d}.jpg"))
            faces.setdefault(person, []).append(align_face(image, detector.detect(image)[0].landmarks))
    return faces


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxArcFaceEmbedder:
    return OnnxArcFaceEmbedder(ONNX_WEIGHTS, batch_size=3)


def test_onnx_embeddings_are_unit_float32_rows_and_batching_changes_nothing(
    onnx_embedder: OnnxArcFaceEmbedder, aligned_faces: dict[str, list[np.ndarray]]
) -> None:
    # GIVEN four aligned faces (more than one batch of 3)
    faces = [face for person in aligned_faces.values() for face in person]
    # WHEN embedded together and one by one
    together = onnx_embedder.embed(faces)
    alone = np.concatenate([onnx_embedder.embed([face]) for face in faces])
    # THEN one unit-length float32 row per face, identical either way
    assert together.shape == (4, 128) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_onnx_same_person_is_closer_than_another_person(
    onnx_embedder: OnnxArcFaceEmbedder, aligned_faces: dict[str, list[np.ndarray]]
) -> None:
    powell = onnx_embedder.embed(aligned_faces["Colin_Powell"])
    serena = onnx_embedder.embed(aligned_faces["Serena_Williams"])
    same = float(powell[0] @ powell[1])
    different = float(powell[0] @ serena[0])
    assert same > different + 0.2, (same, different)


def test_onnx_model_id_names_file_and_weights(onnx_embedder: OnnxArcFaceEmbedder) -> None:
    assert onnx_embedder.model_id == f"onnx:arcface_mobilefacenet_128d@{weights_fingerprint(ONNX_WEIGHTS)}"
    assert onnx_embedder.dim == 128


@pytest.mark.parametrize(
    ("faces", "expected"),
    [
        pytest.param([], (0, 128), id="no faces"),
        pytest.param(np.zeros((2, 112, 112, 3), np.uint8), (2, 128), id="array batch"),
    ],
)
def test_onnx_accepts_lists_arrays_and_empty_batches(
    onnx_embedder: OnnxArcFaceEmbedder, faces: object, expected: tuple[int, int]
) -> None:
    assert onnx_embedder.embed(faces).shape == expected  # type: ignore[arg-type]


def test_unaligned_input_is_refused(onnx_embedder: OnnxArcFaceEmbedder) -> None:
    with pytest.raises(ValueError, match="112, 112, 3"):
        onnx_embedder.embed(np.zeros((1, 100, 100, 3), np.uint8))


def test_missing_weights_are_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        OnnxArcFaceEmbedder(tmp_path / "absent.onnx")
    with pytest.raises(ConfigurationError):
        DeepFaceArcFaceEmbedder(tmp_path / "arcface_weights.h5", download_if_missing=False)


def test_deepface_embedder_refuses_an_onnx_weights_path() -> None:
    # GIVEN the DeepFace embedder selected but the path still naming the ONNX model
    settings = FaceModelSettings(face_embedder="deepface", face_embedder_path=ONNX_WEIGHTS)
    # WHEN / THEN the mistake is named before any model loads
    with pytest.raises(ConfigurationError, match=r"arcface_weights\.h5"):
        make_embedder(settings)


def test_deepface_arcface_adapter_wiring(tmp_path: Path, aligned_faces: dict[str, list[np.ndarray]]) -> None:
    """Wiring only, NOT accuracy: DeepFace's ``arcface_weights.h5`` cannot be downloaded here, so the
    weights file is generated from DeepFace's own ArcFace architecture with random initialisation
    and saved the way Keras saves it. The test checks that the adapter loads such a file from the
    configured path, feeds it aligned faces in batches and returns unit 512-d float32 rows with a
    model id naming the weights. Accuracy tests use the ONNX model on real photos."""
    # GIVEN a weights file with DeepFace's ArcFace architecture (random init)
    weights = tmp_path / "arcface_weights.h5"
    build_deepface_arcface().save_weights(str(weights))
    # WHEN the settings select it and it embeds three real aligned faces in batches of two
    embedder = make_embedder(
        FaceModelSettings(face_embedder="deepface", face_embedder_path=weights, embed_batch_size=2)
    )
    assert isinstance(embedder, DeepFaceArcFaceEmbedder)
    faces = [*aligned_faces["Colin_Powell"], aligned_faces["Serena_Williams"][0]]
    vectors = embedder.embed(faces)
    # THEN one unit 512-d row per face, the same as embedding them one at a time
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors[2], embedder.embed(faces[2:])[0], atol=1e-4)
    assert embedder.model_id == f"deepface-arcface:arcface_weights@{weights_fingerprint(weights)}"
