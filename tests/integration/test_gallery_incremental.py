"""A warm matcher sees new, replaced and deleted faceprints, reading only what changed.

Runs on SQLite and MariaDB: the incremental read depends on how each assigns row ids.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from cloud_functions.core.db.faceprints import EnrollmentRepository, FaceprintRepository
from cloud_functions.core.db.schema import students
from cloud_functions.core.faces import Matcher
from cloud_functions.core.matching import Gallery, GalleryVersion

MODEL = "onnx:test@0"
DIM = 16


class CountingSource:
    """The real repository, counting how often the whole gallery is read."""

    def __init__(self, repository: FaceprintRepository) -> None:
        self.repository = repository
        self.full_loads = 0
        self.rows_read_since = 0

    def gallery_version(self, model_id: str) -> GalleryVersion:
        return self.repository.gallery_version(model_id)

    def load_gallery(self, model_id: str) -> Gallery:
        self.full_loads += 1
        return self.repository.load_gallery(model_id)

    def faceprints_since(self, model_id: str, since: GalleryVersion) -> Gallery:
        recent = self.repository.faceprints_since(model_id, since)
        self.rows_read_since += len(recent.usns)
        return recent


def _vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def enrolled(engine: Engine) -> FaceprintRepository:
    """Twenty students with three poses each, plus one student (S99) with consent and no faceprint."""
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [
                {"usn": f"S{i:02d}", "name": f"Student {i}", "consent_given_at": datetime.now(UTC)}
                for i in [*range(20), 99]
            ],
        )
    repository = FaceprintRepository(engine)
    vectors = iter(_vectors(60, seed=1))
    for i in range(20):
        for pose in ("front", "left", "right"):
            repository.save(f"S{i:02d}", pose, MODEL, next(vectors))
    return repository


def test_new_enrollment_reaches_a_warm_matcher_without_a_full_reload(enrolled: FaceprintRepository) -> None:
    source = CountingSource(enrolled)
    matcher = Matcher(source, MODEL, threshold=0.9, margin=0.01)
    newcomer = _vectors(1, seed=2)[0]
    # GIVEN a warm matcher that does not know S99
    assert matcher.match(newcomer).usn is None
    assert source.full_loads == 1
    # WHEN S99 enrolls (another process writes the row)
    enrolled.save("S99", "front", MODEL, newcomer)
    # THEN the next match finds S99, reading only the new row
    result = matcher.match(newcomer)
    assert result.usn == "S99"
    assert source.full_loads == 1
    # (the newest cached row is read again: ids are compared with >=, as SQLite may reuse one)
    assert source.rows_read_since <= 2
    assert len(matcher.gallery().usns) == 61


def test_a_replaced_pose_replaces_its_row_in_the_warm_gallery(enrolled: FaceprintRepository) -> None:
    source = CountingSource(enrolled)
    matcher = Matcher(source, MODEL, threshold=0.9, margin=0.01)
    matcher.gallery()
    replacement = _vectors(1, seed=3)[0]
    # WHEN S05 re-enrolls the front pose
    enrolled.save("S05", "front", MODEL, replacement)
    # THEN the gallery holds the new vector in place of the old one, same size, no full reload
    gallery = matcher.gallery()
    assert source.full_loads == 1
    assert len(gallery.usns) == 60
    rows = [
        i
        for i, (u, p) in enumerate(zip(gallery.usns, gallery.poses, strict=True))
        if (u, p) == ("S05", "front")
    ]
    assert len(rows) == 1
    np.testing.assert_allclose(gallery.embeddings[rows[0]], replacement, atol=1e-6)
    assert matcher.match(replacement).usn == "S05"
    # AND the warm gallery equals one read from scratch
    fresh = enrolled.load_gallery(MODEL)
    assert gallery.usns == fresh.usns and gallery.poses == fresh.poses
    np.testing.assert_array_equal(gallery.embeddings, fresh.embeddings)


def test_a_deleted_faceprint_forces_a_full_reload(engine: Engine, enrolled: FaceprintRepository) -> None:
    source = CountingSource(enrolled)
    matcher = Matcher(source, MODEL, threshold=0.9, margin=0.01)
    gone = enrolled.load_gallery(MODEL)
    s07_front = gone.embeddings[gone.usns.index("S07")]
    assert matcher.match(s07_front).usn == "S07"
    # WHEN a newer photo of S07's poses is rejected (its faceprints are dropped) and S99 enrolls
    EnrollmentRepository(engine).reject("S07", "front", "too_blurry: test")
    enrolled.save("S99", "front", MODEL, _vectors(1, seed=4)[0])
    # THEN the matcher notices the count does not add up and reloads: S07's front pose is gone
    gallery = matcher.gallery()
    assert source.full_loads == 2
    assert ("S07", "front") not in set(zip(gallery.usns, gallery.poses, strict=True))
    assert len(gallery.usns) == 60


def test_deleting_only_the_newest_faceprint_reloads_without_failing(
    engine: Engine, enrolled: FaceprintRepository
) -> None:
    # Regression: nothing was written since, so the rows since the version were none, and merging
    # an empty read failed (an empty matrix cannot be reshaped) instead of reloading.
    source = CountingSource(enrolled)
    matcher = Matcher(source, MODEL, threshold=0.9, margin=0.01)
    matcher.gallery()
    # WHEN the newest faceprint (S19 right) goes and nothing is written after it
    EnrollmentRepository(engine).reject("S19", "right", "too_blurry: test")
    # THEN the matcher reloads and the pose is gone
    gallery = matcher.gallery()
    assert source.full_loads == 2
    assert ("S19", "right") not in set(zip(gallery.usns, gallery.poses, strict=True))
    assert len(gallery.usns) == 59


def test_the_full_load_equals_a_row_by_row_read_across_chunks(engine: Engine) -> None:
    # MariaDB packs 1,024 faceprints per result row; 2,500 spans three packed rows.
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [
                {"usn": f"T{i:04d}", "name": f"T {i}", "consent_given_at": datetime.now(UTC)}
                for i in range(500)
            ],
        )
    repository = FaceprintRepository(engine)
    vectors = iter(_vectors(2_500, seed=5))
    # Written in an order unlike the sorted one, with a gap in the ids where a pose was replaced.
    for pose in ("up", "front", "left", "right", "down"):
        for i in reversed(range(500)):
            repository.save(f"T{i:04d}", pose, MODEL, next(vectors))
    replacement = _vectors(1, seed=6)[0]
    repository.save("T0007", "front", MODEL, replacement)
    gallery = repository.load_gallery(MODEL)
    rows = repository.faceprints_since(MODEL, GalleryVersion(0, 0, None))
    assert len(gallery.usns) == 2_500
    assert gallery.usns == rows.usns and gallery.poses == rows.poses
    np.testing.assert_array_equal(gallery.embeddings, rows.embeddings)
    assert gallery.max_id == rows.max_id == repository.gallery_version(MODEL).max_id
    assert list(zip(gallery.usns, gallery.poses, strict=True)) == sorted(
        zip(gallery.usns, gallery.poses, strict=True)
    )
    at = list(zip(gallery.usns, gallery.poses, strict=True)).index(("T0007", "front"))
    np.testing.assert_allclose(gallery.embeddings[at], replacement, atol=1e-6)
