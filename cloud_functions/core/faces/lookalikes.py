"""Possible double enrollments and look-alikes, found when a student's faceprint is stored.

A new faceprint is compared with every other student's (exact duplicates: the same person
enrolled under two USNs, or the same photo uploaded twice) and, where course rosters are known,
with the students sharing a course at the lower look-alike similarity (twins, siblings): those
are the people a door capture must tell apart. Either one becomes a flag for an admin.

Course sharing comes through the ``CourseMates`` port (``RosterCourseMates`` reads the course
rosters). ``LookalikeScreen`` runs the rule after enrollment stores a faceprint and records the
flags; the door matcher then demands its margin between every flagged pair
(``core.matching.decide_for_class``), even when one of the two is off the class's roster or
below the threshold.
"""

from __future__ import annotations

import logging
from collections.abc import Set
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from cloud_functions.core.db.engine import transaction
from cloud_functions.core.db.rosters import course_mates
from cloud_functions.core.matching import Gallery

if TYPE_CHECKING:
    from cloud_functions.core.faces.matcher import Matcher

logger = logging.getLogger(__name__)


class FlagKind(StrEnum):
    DUPLICATE = "duplicate"
    LOOKALIKE = "lookalike"


@dataclass(frozen=True)
class LookalikeFlag:
    usn: str
    other_usn: str
    kind: FlagKind
    similarity: float


class CourseMates(Protocol):
    """Who shares a course with a student on a date (rosters)."""

    def course_mates(self, usn: str, on_date: date) -> Set[str]:
        """USNs of every student on a roster of any of ``usn``'s courses on ``on_date``."""
        ...


def lookalike_flags(
    usn: str,
    embedding: NDArray[np.floating],
    gallery: Gallery,
    *,
    duplicate_similarity: float,
    lookalike_similarity: float,
    course_mates: Set[str] = frozenset(),
) -> list[LookalikeFlag]:
    """Flags for ``usn``'s new faceprint against every other student of ``gallery``.

    Args:
        duplicate_similarity: best-print similarity at which two USNs are likely one person,
            checked against the whole gallery. Lower catches more double enrollments and flags
            more look-alikes for nothing.
        lookalike_similarity: similarity flagged among ``course_mates`` only (below the
            duplicate level): two people the door camera may confuse in the same class.
    """
    students, scores = gallery.student_scores(embedding)
    flags = []
    for other, score in zip(students, scores.tolist(), strict=True):
        if other == usn:
            continue
        if score >= duplicate_similarity:
            flags.append(LookalikeFlag(usn, other, FlagKind.DUPLICATE, score))
        elif other in course_mates and score >= lookalike_similarity:
            flags.append(LookalikeFlag(usn, other, FlagKind.LOOKALIKE, score))
    return flags


class RosterCourseMates:
    """``CourseMates`` from the ``course_rosters`` table (current and future roster rows)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def course_mates(self, usn: str, on_date: date) -> Set[str]:
        with transaction(self._engine) as connection:
            return course_mates(connection, usn, on_date)


class LookalikeScreen:
    """Compares a just-stored faceprint with the gallery and course mates; stores the flags.

    Args:
        engine: where ``enrollment_flags`` live.
        matcher: its warm, incrementally refreshed gallery is what is compared against (the
            new faceprint is already in it; a student is never compared with themselves).
        course_mates: who shares a course with the new student.
        duplicate_similarity, lookalike_similarity: see ``lookalike_flags``.
    """

    def __init__(
        self,
        engine: Engine,
        matcher: Matcher,
        course_mates: CourseMates,
        *,
        duplicate_similarity: float,
        lookalike_similarity: float,
    ) -> None:
        self._engine = engine
        self._matcher = matcher
        self._course_mates = course_mates
        self.duplicate_similarity = duplicate_similarity
        self.lookalike_similarity = lookalike_similarity

    def screen(
        self, usn: str, embedding: NDArray[np.floating], on_date: date | None = None
    ) -> list[LookalikeFlag]:
        """Flags for ``usn``'s new faceprint, stored once per pair and kind (a redelivery adds none)."""
        from cloud_functions.core.db.enrollment_flags import record_flags

        on_date = on_date or datetime.now(UTC).date()
        flags = lookalike_flags(
            usn,
            embedding,
            self._matcher.gallery(),
            duplicate_similarity=self.duplicate_similarity,
            lookalike_similarity=self.lookalike_similarity,
            course_mates=self._course_mates.course_mates(usn, on_date),
        )
        if flags:
            try:
                with transaction(self._engine) as connection:
                    record_flags(connection, flags)
            except IntegrityError:
                # Another pose of the same student, enrolled at the same moment, inserted the
                # pair first; now the row exists and this one only raises its similarity.
                with transaction(self._engine) as connection:
                    record_flags(connection, flags)
            logger.info(
                "enrollment flags raised",
                extra={"usn": usn, "flags": [(f.other_usn, f.kind.value) for f in flags]},
            )
        return flags
