"""The project's own error types.

Adapters turn driver and SDK errors into these (``raise ... from e``); handlers and the API
decide what to do by type, never by message text.
"""


class ClassSightError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigurationError(ClassSightError):
    """Settings are missing or invalid; the process cannot start."""


class TransientError(ClassSightError):
    """A dependency is unavailable for now (database down, throttled). Retrying may succeed."""


class DatabaseUnavailableError(TransientError):
    """The database could not be reached or dropped the connection."""


class HandoffPublishPendingError(TransientError):
    """A stored handoff is unsent and another worker's claim on it is still live.

    That worker may have crashed between its commit and its publish: the delivery must come back
    (not be acknowledged) so that a later one publishes the handoff once the claim lapses.
    """


class StorageError(ClassSightError):
    """The object store refused or failed an operation."""


class ObjectNotFoundError(StorageError):
    """The object named in an event is not (or no longer) in the bucket."""


class MessagingError(ClassSightError):
    """The topic or queue refused or failed an operation."""


class InvalidEventError(ClassSightError):
    """An event, message or request body does not have the expected shape."""
