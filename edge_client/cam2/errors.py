"""Errors cam2 raises on purpose; callers decide by type, never by message text."""


class Cam2Error(Exception):
    """Base of every error the room camera raises on purpose."""


class ModelLoadError(Cam2Error):
    """A detector or re-id model could not be loaded from the configured path."""


class InvalidHandoffError(Cam2Error):
    """A queue message is not a handoff this camera understands."""


class ForeignRoomError(InvalidHandoffError):
    """A handoff addressed to another room reached this room's queue."""


class CloudError(Cam2Error):
    """The queue or object store refused or failed an operation."""
