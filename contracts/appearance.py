"""The clothing colour cam1 sends with a face capture, as one short S3 user-metadata value.

The descriptor (``vision.appearance``: a 12 x 4 hue/saturation histogram, square-rooted, unit
length) has ``APPEARANCE_SIZE`` values in ``[0, 1]``. On the wire each value is one byte
(``round(255 * v)``) written as two hex digits, so the ``appearance`` key holds exactly
``APPEARANCE_HEX_CHARS`` characters, under a twentieth of S3's 2 KB metadata limit. A byte per
value moves a Bhattacharyya similarity by well under 0.01, far below what tells two people apart.

Needs nothing but the standard library: the edge and the functions both import it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

APPEARANCE_METADATA_KEY = "appearance"
APPEARANCE_SIZE = 48
"""Values of the descriptor (``vision.appearance.DESCRIPTOR_SIZE``)."""
APPEARANCE_HEX_CHARS = 2 * APPEARANCE_SIZE
_HEX = re.compile(rf"[0-9a-f]{{{APPEARANCE_HEX_CHARS}}}")


class AppearanceError(ValueError):
    """An ``appearance`` value that is not a descriptor."""


def encode_appearance(values: Sequence[float]) -> str:
    """The metadata value of a descriptor: one byte per value, in hex.

    Raises:
        AppearanceError: not ``APPEARANCE_SIZE`` finite values in ``[0, 1]``.
    """
    if len(values) != APPEARANCE_SIZE:
        raise AppearanceError(f"{len(values)} values; a descriptor has {APPEARANCE_SIZE}")
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise AppearanceError("descriptor values must lie in [0, 1]")
    return bytes(round(255 * v) for v in values).hex()


def decode_appearance(text: str) -> tuple[float, ...]:
    """The unit-length descriptor a metadata value holds.

    Raises:
        AppearanceError: not ``APPEARANCE_HEX_CHARS`` lower-case hex digits, or all zero.
    """
    value = text.strip().lower()
    if not _HEX.fullmatch(value):
        raise AppearanceError(
            f"appearance must be {APPEARANCE_HEX_CHARS} hex digits, got {len(value)} characters"
        )
    levels = bytes.fromhex(value)
    norm = math.sqrt(sum(level * level for level in levels))
    if norm == 0:
        raise AppearanceError("appearance is all zero")
    return tuple(level / norm for level in levels)
