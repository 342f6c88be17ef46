"""The error responses every operation documents, with the bodies the app really sends.

Each route names the failures it can answer with (``documented(...)``); the routers add what
every authenticated operation shares (``AUTHENTICATED``). A schemathesis run over the OpenAPI
document (tests/integration/test_api_contract.py) fails on any status a route sends but does not
document, and on any body that does not match its model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorPublic(BaseModel):
    """A failure the client can read: what went wrong, in words."""

    detail: str = Field(description="What went wrong; for 5xx a fixed text (the details are logged).")


class FieldErrorPublic(BaseModel):
    """One problem with one input value."""

    loc: list[str | int] = Field(description='Where: ["body", "start_time"], ["path", "usn"], ...')
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(
        description="A machine-readable kind (missing, string_pattern_mismatch, value_error ...)."
    )


class ValidationErrorPublic(BaseModel):
    """The request's values are malformed or break a rule: one entry per problem."""

    detail: list[FieldErrorPublic]


_DESCRIPTIONS = {
    400: "The request is malformed (e.g. an invalid Content-Length).",
    401: "No bearer token, or one the API does not know.",
    403: "The caller's role may not do this.",
    404: "The student, course, room, entry or record named does not exist.",
    409: "The request contradicts stored data (duplicate, overlap, missing consent).",
    413: "The request body is larger than the API accepts.",
    422: "A value is malformed or breaks a rule; each problem names its field.",
    429: "Too many failed sign-ins for this name or from this address; see Retry-After (seconds).",
    500: "An internal error (logged).",
    502: "Object storage failed; try again.",
    503: "The database or another dependency is unavailable; try again.",
}


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until another sign-in attempt is admitted.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entries for ``statuses``, each with its body model and description."""
    return {
        status: {
            "model": ValidationErrorPublic if status == 422 else ErrorPublic,
            "description": _DESCRIPTIONS[status],
            **({"headers": _RETRY_AFTER} if status == 429 else {}),
        }
        for status in statuses
    }


# Every operation behind a bearer token can fail these ways.
AUTHENTICATED = documented(401, 500, 503)
# Operations with a body: the size limit and the values.
WITH_BODY = documented(400, 413, 422)
