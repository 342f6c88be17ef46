"""The API's error types and their HTTP status codes, in one table.

Domain code raises the project's ``ClassSightError`` subclasses; ``status_for`` finds the status by
type (the nearest class in the exception's MRO that the table names). Server-side failures (5xx)
answer with a fixed text: driver, SQL and SDK messages stay in the log.
"""

from __future__ import annotations

from cloud_functions.core.errors import (
    ClassSightError,
    ConfigurationError,
    DatabaseUnavailableError,
    InvalidEventError,
    MessagingError,
    ObjectNotFoundError,
    StorageError,
    TransientError,
)
from cloud_functions.core.timetable import (
    AmbiguousTimetableError,
    NoClassInSessionError,
    UnknownTimeZoneError,
)


class AuthenticationError(ClassSightError):
    """No bearer token, or one the API does not know."""


class PermissionDeniedError(ClassSightError):
    """The caller's role may not do this."""


class TooManyAttemptsError(ClassSightError):
    """Too many failed sign-ins for this name or from this address; ``retry_after_s`` says when."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RecordNotFoundError(ClassSightError):
    """The student, course, room, timetable entry or attendance row named does not exist."""


class ConflictError(ClassSightError):
    """The request contradicts stored data (duplicate key, overlapping timetable entry)."""


class ConsentRequiredError(ConflictError):
    """Biometric enrollment asked for a student without recorded consent."""


class InvalidRequestError(ClassSightError):
    """The request is well-formed but cannot be carried out as given.

    ``loc`` names the input it concerns, as validation errors do (``("body", "given_at")``), so
    the answer has the same shape as any other 422 and a form can show it beside its field.
    """

    def __init__(self, message: str, *, loc: tuple[str | int, ...] = ("body",)) -> None:
        super().__init__(message)
        self.loc = loc


class RowsInvalidError(InvalidRequestError):
    """An imported file has problems: one ``(loc, reason)`` per problem, nothing was written."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__(f"{len(problems)} problems in the file; nothing was imported", loc=("body",))
        self.problems = problems


class DeletionNotVerifiedError(ClassSightError):
    """Biometric data was deleted but a re-check still found some of it."""


STATUS_BY_ERROR: dict[type[Exception], int] = {
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    RecordNotFoundError: 404,
    NoClassInSessionError: 404,
    ObjectNotFoundError: 404,
    ConflictError: 409,
    AmbiguousTimetableError: 409,
    InvalidRequestError: 422,
    TooManyAttemptsError: 429,
    InvalidEventError: 422,
    UnknownTimeZoneError: 422,
    DeletionNotVerifiedError: 500,
    ConfigurationError: 500,
    StorageError: 502,
    # A room's handoff queue could not be created: nothing was stored, the admin tries again.
    MessagingError: 503,
    DatabaseUnavailableError: 503,
    TransientError: 503,
    ClassSightError: 500,
}

PUBLIC_SERVER_MESSAGES = {
    500: "internal error",
    502: "object storage failed; try again",
    503: "a dependency is unavailable; try again",
}


def status_for(error: Exception) -> int:
    """The HTTP status of ``error``: the table entry of its nearest class, else 500."""
    for cls in type(error).__mro__:
        status = STATUS_BY_ERROR.get(cls)
        if status is not None:
            return status
    return 500


def field_errors(error: Exception) -> list[dict[str, object]]:
    """A 422 body's ``detail``: one entry naming the input, as request validation answers."""
    if isinstance(error, RowsInvalidError):
        return [{"loc": list(loc), "msg": reason, "type": "value_error"} for loc, reason in error.problems]
    loc = list(error.loc) if isinstance(error, InvalidRequestError) else ["body"]
    return [{"loc": loc, "msg": str(error), "type": "value_error"}]


def public_message(error: Exception, status: int) -> str:
    """What the client may read: our own message for 4xx, a fixed text for 5xx."""
    if status >= 500:
        return PUBLIC_SERVER_MESSAGES.get(status, "internal error")
    return str(error)
