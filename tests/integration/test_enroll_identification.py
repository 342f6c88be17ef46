"""Enroll the LFW subset through the enrollment service, then identify held-out photos 1:N.

Protocol (the same as ``bench/faces.py``): each of the 12 known people enrolls the first 3 of
their photos that pass the enrollment gates; every other photo of theirs is a doorway query
(largest face). A query the gates reject counts as a miss. The 20 unknown people must come out
"unknown". Threshold and margin are the settings' defaults, calibrated by ``bench/faces.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.engine import Engine

from cloud_functions.core.faces import (
    EnrollmentPhoto,
    EnrollmentRepository,
    EnrollmentService,
    FacePipeline,
    FaceprintRepository,
    FaceRejectedError,
    MatchDecision,
    Matcher,
    MatchResult,
)
from cloud_functions.core.settings import FaceModelSettings
from infra.seed import Person, lfw_people, seed_students
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset"
ENROLL_PER_PERSON = 3


@dataclass(frozen=True)
class Identification:
    truth: str | None  # the query's USN; None for an unknown person
    result: MatchResult | None  # None when the gates rejected the query


@pytest.fixture(scope="module")
def settings() -> FaceModelSettings:
    return FaceModelSettings()


@pytest.fixture(scope="module")
def pipeline(settings: FaceModelSettings) -> FacePipeline:
    return FacePipeline.from_settings(settings)


def enroll_subset(service: EnrollmentService, people: list[Person]) -> dict[str, list[bytes]]:
    """Enroll each person's first enrollable photos; return the held-out photos per USN."""
    held_out: dict[str, list[bytes]] = {}
    for person in people:
        accepted = 0
        for path in person.photos:
            data = path.read_bytes()
            if accepted < ENROLL_PER_PERSON:
                outcome = service.enroll(EnrollmentPhoto(person.usn, path.stem[-32:], data))
                if outcome.accepted:
                    accepted += 1
                    continue
            held_out.setdefault(person.usn, []).append(data)
        assert accepted == ENROLL_PER_PERSON, person.name
    return held_out


def identify(pipeline: FacePipeline, matcher: Matcher, data: bytes, truth: str | None) -> Identification:
    try:
        embedding = pipeline.analyse(data, "capture").embedding
    except FaceRejectedError:
        return Identification(truth, None)
    return Identification(truth, matcher.match(embedding))


@pytest.fixture
def identifications(
    engine: Engine, pipeline: FacePipeline, settings: FaceModelSettings
) -> list[Identification]:
    people = lfw_people(LFW)
    seed_students(engine, people)
    held_out = enroll_subset(EnrollmentService(pipeline, EnrollmentRepository(engine)), people)
    matcher = Matcher.from_settings(settings, FaceprintRepository(engine), pipeline.model_id)
    known = [identify(pipeline, matcher, data, usn) for usn, photos in held_out.items() for data in photos]
    unknown = [identify(pipeline, matcher, p.read_bytes(), None) for p in sorted(LFW.glob("unknown/*/*.jpg"))]
    return known + unknown


def test_held_out_photos_of_enrolled_people_are_identified(identifications: list[Identification]) -> None:
    # GIVEN the LFW subset enrolled (3 photos per person) WHEN every held-out photo is matched
    known = [i for i in identifications if i.truth is not None]
    rank1 = sum(i.result is not None and i.result.best_usn == i.truth for i in known) / len(known)
    identified = sum(i.result is not None and i.result.usn == i.truth for i in known) / len(known)
    wrong = [i for i in known if i.result is not None and i.result.is_match and i.result.usn != i.truth]
    # THEN rank-1 and the identification rate at threshold + margin are >= 97%; no one is mistaken
    assert len(known) >= 80
    assert rank1 >= 0.97, rank1
    assert identified >= 0.97, identified
    assert wrong == []


def test_unknown_people_are_rarely_accepted(identifications: list[Identification]) -> None:
    # GIVEN the 20 LFW people who never enrolled WHEN their photos are matched
    unknown = [i for i in identifications if i.truth is None]
    accepted = [i for i in unknown if i.result is not None and i.result.is_match]
    # THEN the false-accept rate at the chosen threshold is <= 5%
    assert len(unknown) == 20
    assert len(accepted) / len(unknown) <= 0.05, accepted


def test_an_unknown_person_is_unknown(
    engine: Engine, pipeline: FacePipeline, settings: FaceModelSettings
) -> None:
    # GIVEN the LFW subset enrolled
    people = lfw_people(LFW)
    seed_students(engine, people)
    enroll_subset(EnrollmentService(pipeline, EnrollmentRepository(engine)), people)
    matcher = Matcher.from_settings(settings, FaceprintRepository(engine), pipeline.model_id)
    # WHEN someone who never enrolled comes to the door
    stranger = (LFW / "unknown" / "Jack_Welch" / "Jack_Welch_0001.jpg").read_bytes()
    result = matcher.match(pipeline.analyse(stranger, "capture").embedding)
    # THEN the answer is "unknown", with the closest student's score below the threshold
    assert result.decision is MatchDecision.UNKNOWN
    assert result.usn is None
    assert result.similarity < settings.match_threshold
