"""Errors cam1 raises on purpose; callers decide by type, never by message text."""


class Cam1Error(Exception):
    """Base of every error the doorway camera raises on purpose."""


class CaptureError(Cam1Error):
    """A decision could not be turned into an upload (empty crop, crop too large to encode)."""


class PreviewError(Cam1Error):
    """The requested preview cannot run here (port taken, no display)."""


class ReplayError(Cam1Error):
    """A photo of the replay cannot be read."""
