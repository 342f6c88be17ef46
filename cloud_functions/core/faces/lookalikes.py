"""Possible double enrollments and look-alikes, found when a student's faceprint is stored.

A new faceprint is compared with every other student's (exact duplicates: the same person
enrolled under two USNs, or the same photo uploaded twice) and, where course rosters are known,
with the students sharing a course at the lower look-alike similarity (twins, siblings): those
are the people a door capture must tell apart. Either one becomes a flag for an admin.

Course sharing comes through the ``CourseMates`` port, so roster storage plugs in without
changing this rule.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.matching import Gallery


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
