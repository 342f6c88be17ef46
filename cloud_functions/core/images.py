"""Uploaded images decoded safely: size limits before decoding, truncation and bombs refused.

Face crops, enrollment photos and body crops all arrive as bytes from the bucket; a rejection
says why in one of two words (``undecodable``, ``too_large``), which are outcomes in every flow.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from cloud_functions.core.errors import ClassSightError

UNDECODABLE: Literal["undecodable"] = "undecodable"
TOO_LARGE: Literal["too_large"] = "too_large"


class ImageRejectedError(ClassSightError):
    """The bytes are not an image that may be decoded; ``reason`` is ``undecodable`` or ``too_large``."""

    def __init__(self, reason: Literal["undecodable", "too_large"], detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit greyscale scaled to 8 bits: PIL's own conversion clips it, and a face turns white."""
    if image.mode.startswith("I;16"):
        return Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8), mode="L")
    return image


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int) -> NDArray[np.uint8]:
    """Decode JPEG/PNG/... bytes to a BGR image, or reject them as undecodable or too large.

    The pixel count is read from the header before decoding, so a small file that expands to a
    huge bitmap is refused without allocating it. A truncated file is refused rather than
    decoded with a grey band. EXIF orientation is applied, as phones store portraits sideways.
    """
    if not data:
        raise ImageRejectedError(UNDECODABLE, "empty file")
    if len(data) > max_bytes:
        raise ImageRejectedError(TOO_LARGE, f"{len(data)} bytes > limit {max_bytes}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejectedError(TOO_LARGE, f"{width}x{height} px > limit {max_pixels} px")
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            rgb = np.asarray(_eight_bit(upright).convert("RGB"), dtype=np.uint8)
    except Image.DecompressionBombError as e:
        raise ImageRejectedError(TOO_LARGE, "image dimensions too large") from e
    except UnidentifiedImageError as e:
        raise ImageRejectedError(UNDECODABLE, "not an image") from e
    except (OSError, ValueError, SyntaxError) as e:
        # PIL reports truncated and corrupt data as OSError (SyntaxError for some bad headers).
        raise ImageRejectedError(UNDECODABLE, f"corrupt image data ({e})") from e
    return np.ascontiguousarray(rgb[:, :, ::-1])
