"""Operator view: the frame with the followed face, a stability bar and the last upload status.

Two outputs behind one ``Preview`` interface:

- :class:`WebPreview`: a small page on ``http://127.0.0.1:<port>/`` (``/stream.mjpg`` is the
  MJPEG stream, ``/snapshot.jpg`` the latest frame). It listens on loopback by default because
  the frames show faces.
- :class:`WindowPreview`: an OpenCV window; needs a display and a GUI build of OpenCV.

Headless (no preview) is the default for services.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

import cv2
import numpy as np

from edge_client.cam1.errors import PreviewError
from edge_client.cam1.gate import GateState, GateStatus
from edge_client.mjpeg import MjpegServer, MjpegServerError
from edge_client.outbox import OutboxStats, UploadStatus

logger = logging.getLogger(__name__)

_GREEN = (60, 200, 60)
_AMBER = (0, 190, 255)
_RED = (60, 60, 230)
_WHITE = (255, 255, 255)


def annotate(
    image: np.ndarray,
    gate: GateStatus,
    upload: UploadStatus | None,
    outbox: OutboxStats | None,
) -> np.ndarray:
    """A copy of ``image`` with the face box, a stability progress bar and upload status."""
    view = image.copy()
    height, width = view.shape[:2]
    colour = _GREEN if gate.state in (GateState.CAPTURED, GateState.COOLDOWN) else _AMBER
    if gate.face is not None:
        x1, y1, x2, y2 = (round(v) for v in gate.face.xyxy)
        cv2.rectangle(view, (x1, y1), (x2, y2), colour, 2)
    bar_w = max(1, width - 20)
    cv2.rectangle(view, (10, height - 28), (10 + bar_w, height - 14), _WHITE, 1)
    cv2.rectangle(view, (10, height - 28), (10 + round(bar_w * gate.progress), height - 14), colour, -1)
    cv2.putText(
        view, gate.state.value, (10, height - 34), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA
    )
    if upload is None:
        line, line_colour = "no upload yet", _WHITE
    elif upload.ok:
        line, line_colour = f"uploaded {upload.at:%H:%M:%S}Z", _GREEN
    else:
        line, line_colour = f"upload failed {upload.at:%H:%M:%S}Z, retry in {upload.retry_in_s:.0f}s", _RED
    if outbox is not None:
        line += f" | pending {outbox.pending} sent {outbox.uploaded} dropped {outbox.dropped}"
    cv2.putText(view, line, (10, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, line_colour, 1, cv2.LINE_AA)
    return view


class Preview(Protocol):
    """Where annotated frames go."""

    def show(self, image: np.ndarray) -> None:
        """Publish one annotated frame."""
        ...

    def close(self) -> None:
        """Release the window or the port."""
        ...


_PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>ClassSight cam1</title>
<style>body{margin:0;background:#111;color:#ddd;font-family:sans-serif}img{max-width:100%}</style>
</head><body><img src="/stream.mjpg" alt="cam1 preview"></body></html>"""


class WebPreview:
    """A page with the MJPEG stream, served on loopback by default.

    Args:
        host: address to listen on; keep loopback unless the network is trusted.
        port: TCP port (0 picks a free one; see ``url``).
        fps: most frames per second encoded and streamed.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8081, fps: float = 5.0) -> None:
        page = (200, "text/html; charset=utf-8", _PAGE)
        try:
            self._server = MjpegServer(
                host,
                port,
                stream_path="/stream.mjpg",
                max_fps=fps,
                jpeg_quality=80,
                pages={"/": lambda: page, "/index.html": lambda: page},
                name="cam1-preview",
            )
        except MjpegServerError as e:
            raise PreviewError(f"cannot serve the preview on {host}:{port}: {e}") from e
        self.url = f"{self._server.url}/"
        logger.info("preview at %s", self.url)

    def show(self, image: np.ndarray) -> None:
        """Encode and publish ``image`` unless the last one was published under a period ago."""
        self._server.publish(image)

    def close(self) -> None:
        """Stop serving and end open streams."""
        self._server.close()


class WindowPreview:
    """An OpenCV window. Raises ``PreviewError`` where there is no display."""

    def __init__(self, title: str = "ClassSight cam1") -> None:
        # Creating a window without a display aborts the process inside Qt; check first.
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise PreviewError("preview=window needs a display (DISPLAY is not set); use preview=web")
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as e:
            raise PreviewError(f"this OpenCV build has no GUI ({e}); use preview=web") from e
        self._title = title

    def show(self, image: np.ndarray) -> None:
        """Draw ``image`` and pump the GUI event loop."""
        cv2.imshow(self._title, image)
        cv2.waitKey(1)

    def close(self) -> None:
        """Close the window."""
        cv2.destroyWindow(self._title)
