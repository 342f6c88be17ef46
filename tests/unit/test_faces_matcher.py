"""The match rule (threshold + margin over the runner-up student) and the warm gallery cache."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pytest

from cloud_functions.core.faces import Matcher
from cloud_functions.core.matching import Gallery, MatchDecision, UnknownReason, decide


@pytest.mark.parametrize(
    ("scores", "threshold", "margin", "usn", "reason"),
    [
        pytest.param({"A": 0.70, "B": 0.20}, 0.4, 0.1, "A", None, id="clear winner"),
        pytest.param(
            {"A": 0.39, "B": 0.10}, 0.4, 0.1, None, UnknownReason.BELOW_THRESHOLD, id="below threshold"
        ),
        pytest.param({"A": 0.40, "B": 0.10}, 0.4, 0.1, "A", None, id="exactly at threshold"),
        pytest.param(
            {"A": 0.62, "B": 0.58}, 0.4, 0.1, None, UnknownReason.LOW_MARGIN, id="look-alike runner-up"
        ),
        pytest.param({"A": 0.60, "B": 0.50}, 0.4, 0.1, "A", None, id="lead exactly the margin"),
        pytest.param({"B": 0.30, "A": 0.55}, 0.4, 0.1, "A", None, id="best is not first"),
        pytest.param({"A": 0.45}, 0.4, 0.1, "A", None, id="only one student enrolled"),
        pytest.param({}, 0.4, 0.1, None, UnknownReason.NO_FACEPRINTS, id="nobody enrolled"),
    ],
)
def test_decide(
    scores: dict[str, float], threshold: float, margin: float, usn: str | None, reason: UnknownReason | None
) -> None:
    students = list(scores)
    result = decide(students, np.array(list(scores.values())), threshold=threshold, margin=margin)
    assert result.usn == usn
    assert result.reason == reason
    assert result.decision is (MatchDecision.MATCH if usn else MatchDecision.UNKNOWN)


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_runner_up_is_another_student_not_the_same_students_other_pose() -> None:
    # GIVEN student A enrolled with two nearly identical poses and student B far away
    gallery = Gallery.from_rows("m", ["A", "B", "A"], [_unit(1, 0, 0), _unit(0, 0, 1), _unit(0.99, 0.14, 0)])
    # WHEN a face close to both of A's poses is matched
    students, scores = gallery.student_scores(_unit(1, 0.05, 0))
    result = decide(students, scores, threshold=0.5, margin=0.1)
    # THEN A wins: its own second pose is not a rival
    assert students == ("A", "B")
    assert result.usn == "A"
    assert result.runner_up_similarity == pytest.approx(float(_unit(1, 0.05, 0) @ _unit(0, 0, 1)))


def test_gallery_refuses_an_embedding_of_another_dimension() -> None:
    gallery = Gallery.from_rows("m", ["A"], [_unit(1, 0, 0)])
    with pytest.raises(ValueError, match="dimensions"):
        gallery.student_scores(_unit(1, 0))


class CountingSource:
    """An in-memory GallerySource that counts full loads."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[str, np.ndarray]]] = {"m": [("A", _unit(1, 0))], "other": []}
        self.version = 0
        self.loads = 0

    def gallery_version(self, model_id: str) -> Hashable:
        return (model_id, self.version)

    def load_gallery(self, model_id: str) -> Gallery:
        self.loads += 1
        rows = self.rows[model_id]
        return Gallery.from_rows(model_id, [u for u, _ in rows], [e for _, e in rows])


def test_matcher_reloads_the_gallery_only_when_its_version_changes() -> None:
    # GIVEN a matcher over one enrolled student
    source = CountingSource()
    matcher = Matcher(source, "m", threshold=0.5, margin=0.1)
    # WHEN it matches several faces with no enrollment in between
    first = [matcher.match(_unit(0, 1)) for _ in range(3)]
    # THEN the gallery was loaded once, and the unknown face stayed unknown
    assert source.loads == 1
    assert all(result.usn is None for result in first)
    # WHEN that face's owner enrolls (the version changes)
    source.rows["m"].append(("B", _unit(0, 1)))
    source.version += 1
    # THEN the next match sees the new faceprint
    assert matcher.match(_unit(0, 1)).usn == "B"
    assert source.loads == 2


class _VersionCounter:
    """A gallery source whose version the test bumps, counting the version queries."""

    def __init__(self) -> None:
        self.version = 0
        self.version_queries = 0

    def gallery_version(self, model_id: str) -> Hashable:
        self.version_queries += 1
        return self.version

    def load_gallery(self, model_id: str) -> Gallery:
        return Gallery.from_rows(model_id, [f"S{self.version}"], [_unit(1, 0, 0)])


def test_refresh_interval_spares_the_version_query_and_still_sees_changes_after_it() -> None:
    source, now = _VersionCounter(), [100.0]
    matcher = Matcher(source, "m", threshold=0.5, margin=0.1, refresh_s=1.0, clock=lambda: now[0])
    assert matcher.match(_unit(1, 0, 0)).usn == "S0"
    # WHEN the faceprints change and captures arrive within the interval
    source.version = 1
    now[0] += 0.5
    # THEN the warm gallery answers without asking the source
    assert matcher.match(_unit(1, 0, 0)).usn == "S0"
    assert source.version_queries == 1
    # AND once the interval has passed the change is seen
    now[0] += 0.6
    assert matcher.match(_unit(1, 0, 0)).usn == "S1"
    assert source.version_queries == 2


@pytest.mark.parametrize(
    ("cached", "written"),
    [
        pytest.param([("B", "front"), ("D", "left")], [("C", "front")], id="new student between two"),
        pytest.param(
            [("B", "front"), ("D", "left")], [("A", "up"), ("E", "up")], id="before first, after last"
        ),
        pytest.param([("B", "front"), ("B", "left")], [("B", "front")], id="replaced pose"),
        pytest.param([("B", "left")], [("B", "down"), ("B", "front"), ("B", "up")], id="poses around one"),
        pytest.param(
            [("B", "front"), ("C", "front")], [("C", "front"), ("A", "x"), ("B", "front")], id="mixed"
        ),
        pytest.param([], [("A", "front")], id="empty gallery"),
        pytest.param([("A", "front")], [], id="nothing written"),
    ],
)
def test_merged_rows_equal_a_gallery_built_from_scratch(
    cached: list[tuple[str, str]], written: list[tuple[str, str]]
) -> None:
    rng = np.random.default_rng(0)
    vectors = {key: rng.standard_normal(4).astype(np.float32) for key in cached}
    gallery = Gallery.from_rows("m", [u for u, _ in cached], list(vectors.values()), [p for _, p in cached])
    new = rng.standard_normal((len(written), 4)).astype(np.float32)
    # WHEN the written prints are merged into the cached gallery
    merged = gallery.with_rows([u for u, _ in written], [p for _, p in written], new)
    # THEN it equals the gallery read from scratch: sorted rows, each pose once, newest vector
    vectors.update(zip(written, new, strict=True))
    fresh = Gallery.from_rows("m", [u for u, _ in vectors], list(vectors.values()), [p for _, p in vectors])
    assert merged.usns == fresh.usns and merged.poses == fresh.poses
    np.testing.assert_array_equal(merged.embeddings, fresh.embeddings)
