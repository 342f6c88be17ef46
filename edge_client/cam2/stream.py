"""The room camera's operator view: annotated frames as MJPEG on ``/stream``, status on ``/health``.

Served by ``http.server`` in daemon threads, on loopback by default (the frames show people).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import supervision as sv

from edge_client.cam2.errors import Cam2Error
from edge_client.cam2.tracks import DoorZone, tracker_ids
from edge_client.mjpeg import MjpegServer, MjpegServerError

logger = logging.getLogger(__name__)


class StreamError(Cam2Error):
    """The stream server cannot listen (port taken, bad address)."""


class FrameAnnotator:
    """Draws boxes, track ids with USN labels, the door zone and the frame rate on a copy of a frame."""

    def __init__(self, door: DoorZone) -> None:
        self.door = door
        self._boxes = sv.BoxAnnotator(thickness=2, color_lookup=sv.ColorLookup.TRACK)
        self._labels = sv.LabelAnnotator(
            text_scale=0.45,
            text_padding=3,
            color_lookup=sv.ColorLookup.TRACK,
            text_position=sv.Position.TOP_LEFT,
            smart_position=True,  # keeps labels of people walking side by side apart
        )

    def annotate(
        self, frame: np.ndarray, detections: sv.Detections, fps: float, pending_handoffs: int
    ) -> np.ndarray:
        """The annotated copy of ``frame``; ``detections`` carry ``tracker_id`` and ``data["usn"]``."""
        view = frame.copy()
        if self.door.defined:
            view = sv.draw_polygon(
                view, self.door.polygon.astype(np.int64), color=sv.Color.YELLOW, thickness=2
            )
            x, y = self.door.polygon.min(axis=0)
            cv2.putText(
                view, "door", (int(x) + 4, int(y) + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1
            )
        if len(detections) and detections.tracker_id is not None:
            usns = detections.data.get("usn", [""] * len(detections))
            labels = [
                f"#{t} {u}" if u else f"#{t}" for t, u in zip(tracker_ids(detections), usns, strict=True)
            ]
            view = self._boxes.annotate(view, detections)
            view = self._labels.annotate(view, detections, labels=labels)
        status = f"{fps:4.1f} fps | {len(detections)} tracked | {pending_handoffs} handoff(s) pending"
        cv2.putText(view, status, (10, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(view, status, (10, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        return view


class StreamServer:
    """MJPEG on ``/stream`` (also ``/snapshot.jpg``) and JSON status on ``/health``.

    Args:
        host: address to listen on; keep loopback unless the network is trusted.
        port: TCP port (0 picks a free one; see ``url``).
        health: returns the status dictionary served on ``/health``; a ``status`` other than
            "ok" is served with HTTP 503 so that a supervisor can restart the client.
        jpeg_quality: JPEG quality of the frames; higher costs bandwidth and CPU.
        max_fps: most frames per second encoded; the camera loop is never slowed by viewers.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8082,
        health: Callable[[], dict[str, Any]] | None = None,
        jpeg_quality: int = 75,
        max_fps: float = 10.0,
    ) -> None:
        self._health = health or (lambda: {})
        try:
            self._server = MjpegServer(
                host,
                port,
                stream_path="/stream",
                max_fps=max_fps,
                jpeg_quality=jpeg_quality,
                pages={"/health": self._health_page},
                name="cam2-stream",
            )
        except MjpegServerError as e:
            raise StreamError(f"cannot serve the stream on {host}:{port}: {e}") from e
        self.url = self._server.url
        logger.info("stream at %s/stream, health at %s/health", self.url, self.url)

    def _health_page(self) -> tuple[int, str, bytes]:
        health = {"status": "ok", **self._health()}
        return (
            200 if health["status"] == "ok" else 503,
            "application/json",
            json.dumps(health, default=str).encode(),
        )

    def latest(self) -> bytes | None:
        """The latest encoded frame."""
        return self._server.latest()

    def due(self) -> bool:
        """Whether a frame published now would be sent (skip annotating frames nobody will see)."""
        return self._server.due()

    def publish(self, image: np.ndarray) -> None:
        """Encode and publish ``image``, unless one was published less than a frame period ago."""
        self._server.publish(image)

    def close(self) -> None:
        """Stop serving and end open streams."""
        self._server.close()
