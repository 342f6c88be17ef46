"""A small MJPEG server for the edge clients' operator views.

The camera loop publishes its newest annotated frame; viewers get a ``multipart/x-mixed-replace``
stream of whatever is newest when they are ready, so a slow viewer never slows the camera.
Served by ``http.server`` in daemon threads, on loopback by default (the frames show people).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

logger = logging.getLogger(__name__)

BOUNDARY = b"frame"

Page = Callable[[], tuple[int, str, bytes]]
"""A route besides the stream: returns (HTTP status, content type, body)."""


class MjpegServerError(Exception):
    """The server cannot listen (port taken, bad address)."""


class MjpegServer:
    """The newest published frame as MJPEG on ``stream_path`` and as ``/snapshot.jpg``.

    Args:
        host: address to listen on; keep loopback unless the network is trusted.
        port: TCP port (0 picks a free one; see ``url``).
        stream_path: path of the MJPEG stream.
        max_fps: most frames per second encoded; higher costs CPU in the camera loop.
        jpeg_quality: JPEG quality of the frames; higher costs bandwidth and CPU.
        pages: further routes, e.g. an HTML page or a health check.
        name: thread name and log prefix.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        stream_path: str = "/stream",
        max_fps: float = 10.0,
        jpeg_quality: int = 75,
        pages: Mapping[str, Page] | None = None,
        name: str = "mjpeg",
    ) -> None:
        self._period_s = 1.0 / max_fps
        self._quality = jpeg_quality
        self._jpeg: bytes | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._last_publish = 0.0
        routes: dict[str, Page] = {"/snapshot.jpg": self._snapshot, **(pages or {})}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == stream_path:
                    self._stream()
                elif path in routes:
                    status, content_type, body = routes[path]()
                    self._send(status, content_type, body)
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
                logger.debug("%s %s", name, format % args)

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            raise MjpegServerError(f"cannot serve {name} on {host}:{port}: {e}") from e
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def _snapshot(self) -> tuple[int, str, bytes]:
        jpeg = self.latest()
        if jpeg is None:
            return 503, "text/plain; charset=utf-8", b"no frame yet"
        return 200, "image/jpeg", jpeg

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
        if not self.due():
            return
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
        if not ok:
            logger.warning("frame could not be encoded")
            return
        self._last_publish = time.monotonic()
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
