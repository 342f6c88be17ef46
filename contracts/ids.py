"""Identifiers that name students, courses, rooms and cameras, with the database's limits.

A USN is case-insensitive to people and to MySQL's default collation, but case-sensitive to
S3 keys, SQLite and Python. It is therefore put in one canonical form (upper case, no
surrounding space) wherever it enters: API paths and bodies, object keys and metadata, files.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

USN_MAX_CHARS = 32
USN_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{USN_MAX_CHARS - 1}}}$"


def normalise_usn(value: str) -> str:
    """The canonical form of a USN: surrounding space removed, upper case."""
    return value.strip().upper()


def same_usn(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` name the same student (as the database compares them)."""
    return normalise_usn(a) == normalise_usn(b)


Usn = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=USN_PATTERN, max_length=USN_MAX_CHARS),
    AfterValidator(normalise_usn),
]
"""A USN as accepted at a boundary: letters in either case, stored and compared upper case."""
