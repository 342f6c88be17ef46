"""Double enrollments (whole gallery) and course-mate look-alikes become admin flags, stored once."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from cloud_functions.core.db.enrollment_flags import open_flags, record_flags
from cloud_functions.core.db.schema import students
from cloud_functions.core.faces.lookalikes import FlagKind, lookalike_flags
from cloud_functions.core.matching import Gallery


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


GALLERY = Gallery.from_rows(
    "m",
    ["TWIN", "STRANGER", "SAMEPHOTO"],
    [_unit(1, 0.5, 0), _unit(0, 0, 1), _unit(1, 0.02, 0)],
)
NEW = _unit(1, 0, 0)


@pytest.mark.parametrize(
    ("course_mates", "expected"),
    [
        pytest.param(frozenset(), {("SAMEPHOTO", FlagKind.DUPLICATE)}, id="no rosters: duplicates only"),
        pytest.param(
            frozenset({"TWIN"}),
            {("SAMEPHOTO", FlagKind.DUPLICATE), ("TWIN", FlagKind.LOOKALIKE)},
            id="a course-mate look-alike",
        ),
        pytest.param(
            frozenset({"STRANGER"}), {("SAMEPHOTO", FlagKind.DUPLICATE)}, id="a dissimilar course-mate"
        ),
    ],
)
def test_flags(course_mates: frozenset[str], expected: set[tuple[str, FlagKind]]) -> None:
    flags = lookalike_flags(
        "NEW", NEW, GALLERY, duplicate_similarity=0.95, lookalike_similarity=0.8, course_mates=course_mates
    )
    assert {(f.other_usn, f.kind) for f in flags} == expected


def test_own_faceprints_are_no_duplicate() -> None:
    gallery = Gallery.from_rows("m", ["NEW"], [NEW])
    assert lookalike_flags("NEW", NEW, gallery, duplicate_similarity=0.9, lookalike_similarity=0.8) == []


def test_flags_are_stored_once_per_pair(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [
                {"usn": u, "name": u, "consent_given_at": datetime.now(UTC)}
                for u in ("NEW", "SAMEPHOTO", "TWIN")
            ],
        )
    flags = lookalike_flags(
        "NEW", NEW, GALLERY, duplicate_similarity=0.95, lookalike_similarity=0.8, course_mates={"TWIN"}
    )
    # WHEN the same enrollment is processed twice (a redelivered event)
    for _ in range(2):
        with engine.begin() as connection:
            record_flags(connection, flags)
    # THEN each pair is flagged once, for the admin
    with engine.begin() as connection:
        stored = open_flags(connection)
    assert sorted((f.other_usn, f.kind) for f in stored) == [
        ("SAMEPHOTO", FlagKind.DUPLICATE),
        ("TWIN", FlagKind.LOOKALIKE),
    ]
    assert stored[0].similarity == pytest.approx(float(NEW @ _unit(1, 0.02, 0)), abs=1e-5)
