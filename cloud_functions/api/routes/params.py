"""Path and query parameters shared by the routers, with the same patterns as the bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

from cloud_functions.api.schemas import CODE_PATTERN, POSE_PATTERN
from contracts.ids import USN_MAX_CHARS, USN_PATTERN, normalise_usn

# Either case is accepted and the canonical (upper case) form is what the routes see, so a path
# names the same student on every database and in every object key.
UsnPath = Annotated[str, Path(pattern=USN_PATTERN, max_length=USN_MAX_CHARS), AfterValidator(normalise_usn)]
CourseCodePath = Annotated[str, Path(pattern=CODE_PATTERN, max_length=32)]
RoomIdPath = Annotated[str, Path(pattern=CODE_PATTERN, max_length=32)]
PosePath = Annotated[str, Path(pattern=POSE_PATTERN, max_length=32)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
