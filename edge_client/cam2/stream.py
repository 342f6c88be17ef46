"""The room camera's operator view: annotated frames as MJPEG on ``/stream``, status on ``/health``.

Served by ``http.server`` in daemon threads, on loopback by default (the frames show people).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
import supervision as sv

from edge_client.cam2.errors import Cam2Error
from edge_client.cam2.tracks import DoorZone, tracker_ids

logger = logging.getLogger(__name__)

BOUNDARY = b"frame"


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
        self._quality = jpeg_quality
        self._period_s = 1.0 / max_fps
        self._jpeg: bytes | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._last_publish = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/stream":
                    self._stream()
                elif path == "/health":
                    health = {"status": "ok", **owner._health()}
                    body = json.dumps(health, default=str).encode()
                    self._send(200 if health["status"] == "ok" else 503, "application/json", body)
                elif path == "/snapshot.jpg":
                    jpeg = owner.latest()
                    if jpeg is None:
                        self.send_error(503, "no frame yet")
                    else:
                        self._send(200, "image/jpeg", jpeg)
                else:
                    self.send_error(404)

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                previous: bytes | None = None
                while True:
                    jpeg = owner.wait_for_new(previous, timeout_s=1.0)
                    if jpeg is None:
                        return
                    if jpeg is previous:
                        continue
                    previous = jpeg
                    head = b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % (
                        BOUNDARY,
                        len(jpeg),
                    )
                    try:
                        self.wfile.write(head + jpeg + b"\r\n")
                        self.wfile.flush()
                    except (BrokenPipeError, ConnectionResetError):
                        return

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("stream %s", format % args)

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            raise StreamError(f"cannot serve the stream on {host}:{port}: {e}") from e
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="cam2-stream", daemon=True)
        self._thread.start()
        logger.info("stream at %s/stream, health at %s/health", self.url, self.url)

    def latest(self) -> bytes | None:
        """The latest encoded frame."""
        with self._cond:
            return self._jpeg

    def wait_for_new(self, previous: bytes | None, timeout_s: float) -> bytes | None:
        """The latest frame once it differs from ``previous``; ``None`` once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._jpeg is not previous, timeout_s)
            return None if self._closed else self._jpeg

    def due(self) -> bool:
        """Whether a frame published now would be sent (skip annotating frames nobody will see)."""
        return time.monotonic() - self._last_publish >= self._period_s

    def publish(self, image: np.ndarray) -> None:
        """Encode and publish ``image``, unless one was published less than a frame period ago."""
        now = time.monotonic()
        if now - self._last_publish < self._period_s:
            return
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
        if not ok:
            logger.warning("stream frame could not be encoded")
            return
        self._last_publish = now
        with self._cond:
            self._jpeg = buffer.tobytes()
            self._cond.notify_all()

    def close(self) -> None:
        """Stop serving and end open streams."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)
