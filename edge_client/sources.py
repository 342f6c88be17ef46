"""Frame sources for the edge cameras: webcam, RTSP/HTTP stream, video file, folder of images.

One entry point, :func:`open_source`, turns a source spec into a :class:`FrameSource` that yields
:class:`Frame` objects (BGR ``uint8`` image, running index, seconds since the source started).
Every failure the caller can act on is a :class:`SourceError` with a message that names the
source (with any credentials in a URL scrubbed) and what went wrong.

- ``0``, ``"1"``: a local camera by index. Live: frames are timed by the wall clock, and a reader
  thread keeps only the newest frame, so a slow consumer never falls behind the camera.
- ``rtsp://...``, ``http(s)://...``, ``rtmp://...``, ``udp://...``: a network stream. Live; when
  the stream drops, the source reopens it with exponential backoff.
- a video file: frames are timed by the file's own frame rate (or ``fps`` when given).
- a folder of images (``.jpg .jpeg .png .bmp .webp``, natural sort order): replayed at ``fps``.

File and folder sources are *replays*: with ``realtime=False`` (the default) they run as fast as the
consumer reads and carry media timestamps (``index / fps``), so tests and benchmarks are
deterministic; with ``realtime=True`` they are paced to the wall clock like a camera.

Example::

    with open_source("rtsp://cam.local/stream", fps=10) as source:
        for frame in source:
            handle(frame.image, frame.timestamp_s)
"""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
DEFAULT_REPLAY_FPS = 10.0
# Containers that do not report a frame rate still need media timestamps.
FALLBACK_VIDEO_FPS = 25.0


class SourceError(Exception):
    """A frame source cannot be opened, has dropped for good, or delivered a corrupt frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame from a source.

    Attributes:
        image: BGR ``uint8`` array of shape ``(height, width, 3)``.
        index: 0-based position in the sequence this source delivered.
        timestamp_s: seconds since the source started: media time for replays, monotonic wall
            time for live sources. Use it for durations (stability windows, cooldowns).
        captured_at: UTC wall-clock time of the frame: when it was read from a live source;
            when it was due in a real-time replay (a slow reader does not make it later, as a
            camera's clock would not); when it was read in a full-speed replay.
    """

    image: np.ndarray
    index: int
    timestamp_s: float
    captured_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How a live source reopens a dropped stream.

    Attributes:
        initial_delay_s: wait before the first reopen attempt.
        max_delay_s: cap on the wait; the delay doubles after each failed attempt.
        max_attempts: consecutive failed reopen attempts before giving up with ``SourceError``;
            ``None`` retries forever (a service camera that may be off for hours).
    """

    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_attempts: int | None = 10

    def delays(self) -> Iterator[float]:
        """Successive waits between attempts: initial, doubled each time, capped."""
        delay = self.initial_delay_s
        attempt = 0
        while self.max_attempts is None or attempt < self.max_attempts:
            yield delay
            delay = min(delay * 2.0, self.max_delay_s)
            attempt += 1


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced, safe to log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def validate_image(image: Any, where: str) -> np.ndarray:
    """Return ``image`` if it is a non-empty BGR ``uint8`` frame, else raise ``SourceError``."""
    if not isinstance(image, np.ndarray):
        raise SourceError(f"corrupt frame from {where}: not an image array")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise SourceError(
            f"corrupt frame from {where}: expected HxWx3 uint8 BGR, got shape {image.shape} {image.dtype}"
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise SourceError(f"corrupt frame from {where}: empty image")
    return image


class FrameSource(ABC):
    """An iterable of :class:`Frame`; a context manager that releases the device or file.

    Iterate once. ``close()`` may be called from another thread (e.g. a signal handler) to end
    the iteration after the current frame.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self._closed = threading.Event()
        self.dropped_frames = 0
        """Frames skipped because the consumer fell behind (live and real-time sources)."""

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has been called."""
        return self._closed.is_set()

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        """Yield frames until the source ends, is closed, or fails with ``SourceError``."""

    def close(self) -> None:
        """Stop the iteration and release the underlying device or file."""
        self._closed.set()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description})"


class _Pacer:
    """Sleeps so that replayed frames come out at ``fps`` on the wall clock."""

    def __init__(self, fps: float, closed: threading.Event) -> None:
        self._period_s = 1.0 / fps
        self._closed = closed
        self._start = time.monotonic()
        self._wall_start = datetime.now(UTC)

    def due_at(self, index: int) -> datetime:
        """Wall-clock time at which frame ``index`` is due."""
        return self._wall_start + timedelta(seconds=index * self._period_s)

    def wait_for(self, index: int) -> None:
        due = self._start + index * self._period_s
        delay = due - time.monotonic()
        if delay > 0:
            self._closed.wait(delay)

    def stale(self, index: int) -> bool:
        """Frame ``index`` is stale: the next one is already due (a consumer fell behind).

        A real camera does not wait for a slow reader; it has moved on. Skipping stale frames
        keeps a replay's media time on the wall clock, as a live source's newest-frame-wins does.
        """
        return time.monotonic() >= self._start + (index + 1) * self._period_s


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ImageFolderSource(FrameSource):
    """Images of a folder, in natural name order, replayed at ``fps``.

    A file that does not decode raises ``SourceError`` naming it: a replay is a test fixture or an
    evidence trail, and a silently skipped frame would change what the gate sees.
    """

    def __init__(
        self,
        folder: Path,
        fps: float = DEFAULT_REPLAY_FPS,
        *,
        realtime: bool = False,
        drop_late: bool = False,
    ) -> None:
        super().__init__(f"image folder {folder} at {fps:g} fps")
        if not folder.is_dir():
            raise SourceError(f"{folder} is not a folder")
        if fps <= 0:
            raise SourceError(f"replay fps must be positive, got {fps}")
        self.paths = sorted(
            (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
            key=_natural_key,
        )
        if not self.paths:
            raise SourceError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.fps = fps
        self._realtime = realtime
        self._drop_late = drop_late

    def __iter__(self) -> Iterator[Frame]:
        pacer = _Pacer(self.fps, self._closed) if self._realtime else None
        last = len(self.paths) - 1
        for index, path in enumerate(self.paths):
            if self.closed:
                return
            if pacer is not None:
                if self._drop_late and index < last and pacer.stale(index):
                    self.dropped_frames += 1
                    continue
                pacer.wait_for(index)
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise SourceError(f"corrupt or unreadable image {path} (frame {index} of {self.description})")
            frame = validate_image(image, str(path))
            if pacer is not None:
                yield Frame(frame, index, index / self.fps, pacer.due_at(index))
            else:
                yield Frame(frame, index, index / self.fps)


class VideoFileSource(FrameSource):
    """Frames of a video file, timed by its frame rate (or ``fps`` when given)."""

    def __init__(
        self, path: Path, fps: float | None = None, *, realtime: bool = False, drop_late: bool = False
    ) -> None:
        super().__init__(f"video file {path}")
        if not path.is_file():
            raise SourceError(f"no such video file: {path}")
        self.path = path
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"cannot open video file {path}: not a video, or corrupt/truncated")
        native_fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if fps else (native_fps if native_fps > 0 else FALLBACK_VIDEO_FPS)
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._realtime = realtime
        self._drop_late = drop_late

    def __iter__(self) -> Iterator[Frame]:
        pacer = _Pacer(self.fps, self._closed) if self._realtime else None
        index = 0
        try:
            while not self.closed:
                if pacer is not None:
                    if self._drop_late and index > 0 and pacer.stale(index) and self._capture.grab():
                        self.dropped_frames += 1  # read past it without decoding
                        index += 1
                        continue
                    pacer.wait_for(index)
                ok, image = self._capture.read()
                if not ok:
                    if index == 0:
                        raise SourceError(f"cannot decode any frame of {self.path}: corrupt video")
                    return
                frame = validate_image(image, f"{self.path} frame {index}")
                if pacer is not None:
                    yield Frame(frame, index, index / self.fps, pacer.due_at(index))
                else:
                    yield Frame(frame, index, index / self.fps)
                index += 1
        finally:
            self._capture.release()

    def close(self) -> None:
        """Stop the iteration; the file is released when the iteration unwinds."""
        super().close()


CaptureOpener = Callable[[], Any]
"""Returns an object with ``isOpened()``, ``read()`` and ``release()`` like ``cv2.VideoCapture``."""


class LiveSource(FrameSource):
    """A camera or network stream; reopens it with exponential backoff when it drops.

    A reader thread drains the device continuously and keeps only the newest frame, so a consumer
    slower than the camera always gets a fresh frame instead of an ever older backlog (the frames
    it had no time for are counted in ``dropped_frames``). With ``fps`` set, at most that many
    frames per second are delivered.
    """

    def __init__(
        self,
        description: str,
        opener: CaptureOpener,
        fps: float | None = None,
        reconnect: ReconnectPolicy | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(description)
        self.fps = fps
        self.reconnect = reconnect or ReconnectPolicy()
        self.reconnects = 0
        self.dropped_frames = 0
        self._opener = opener
        self._sleep = sleep or (lambda seconds: self._closed.wait(seconds) and None)
        self._cond = threading.Condition()
        self._latest: tuple[Any, float] | None = None
        self._sequence = 0
        self._error: SourceError | None = None
        self._reader_done = False
        self._reader: threading.Thread | None = None
        self._capture: Any = None
        self._capture = self._open_with_backoff(first=True)

    def _try_open(self) -> Any:
        capture = self._opener()
        if capture is not None and capture.isOpened():
            return capture
        if capture is not None:
            capture.release()
        return None

    def _open_with_backoff(self, *, first: bool) -> Any:
        capture = self._try_open()
        if capture is not None:
            return capture
        attempts = 0
        for delay in self.reconnect.delays():
            if self.closed:
                return None
            attempts += 1
            logger.warning(
                "%s %s; retrying in %.1f s (attempt %d)",
                self.description,
                "cannot be opened" if first else "dropped",
                delay,
                attempts,
            )
            self._sleep(delay)
            if self.closed:
                return None
            capture = self._try_open()
            if capture is not None:
                if not first:
                    self.reconnects += 1
                    logger.info("%s reconnected after %d attempt(s)", self.description, attempts)
                return capture
        raise SourceError(
            f"cannot {'open' if first else 'reopen'} {self.description} after {attempts} attempt(s)"
        )

    def _read_loop(self) -> None:
        """Reader thread: read, reconnect on failure, publish the newest frame."""
        try:
            while not self.closed:
                ok, image = self._capture.read() if self._capture is not None else (False, None)
                if not ok:
                    if self.closed:
                        return
                    if self._capture is not None:
                        self._capture.release()
                    self._capture = None
                    self._capture = self._open_with_backoff(first=False)
                    continue
                with self._cond:
                    self._latest = (image, time.monotonic())
                    self._sequence += 1
                    self._cond.notify_all()
        except SourceError as e:
            with self._cond:
                self._error = e
        finally:
            if self._capture is not None:
                self._capture.release()
                self._capture = None
            with self._cond:
                self._reader_done = True
                self._cond.notify_all()

    def close(self) -> None:
        """Stop the iteration; release the device at once if it was never iterated."""
        super().close()
        if self._reader is None and self._capture is not None:
            self._capture.release()
            self._capture = None

    def _next_latest(self, after: int) -> tuple[Any, float, int] | None:
        """The newest frame with a sequence number above ``after``; ``None`` when the reader ended."""
        with self._cond:
            while self._sequence == after and self._error is None and not self._reader_done:
                self._cond.wait(0.5)
            if self._error is not None:
                raise self._error
            if self._sequence == after or self._latest is None:
                return None
            image, read_at = self._latest
            return image, read_at, self._sequence

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        min_period_s = 1.0 / self.fps if self.fps else 0.0
        next_due = start
        sequence = 0
        index = 0
        self._reader = threading.Thread(
            target=self._read_loop, name=f"source-{self.description}", daemon=True
        )
        self._reader.start()
        try:
            while not self.closed:
                if min_period_s:
                    delay = next_due - time.monotonic()
                    if delay > 0 and self._closed.wait(delay):
                        return
                latest = self._next_latest(sequence)
                if latest is None:
                    return
                image, read_at, newest = latest
                self.dropped_frames += newest - sequence - 1
                sequence = newest
                next_due = time.monotonic() + min_period_s
                yield Frame(
                    validate_image(image, f"{self.description} frame {index}"), index, read_at - start
                )
                index += 1
        finally:
            self._closed.set()
            # A stream read blocks for up to STREAM_READ_TIMEOUT_MS; do not wait much longer.
            self._reader.join(STREAM_READ_TIMEOUT_MS / 1000 + 1.0)


def _parse_spec(spec: str | int | Path) -> tuple[str, str | int | Path]:
    """Classify ``spec`` as ``webcam``, ``stream``, ``folder`` or ``video``."""
    if isinstance(spec, int):
        return "webcam", spec
    if isinstance(spec, Path):
        return ("folder" if spec.is_dir() else "video"), spec
    text = spec.strip()
    if not text:
        raise SourceError("empty source spec")
    if text.isdigit():
        return "webcam", int(text)
    if text.lower().startswith(STREAM_SCHEMES):
        return "stream", text
    if "://" in text:
        raise SourceError(f"unsupported stream scheme in {redact_url(text)!r}")
    path = Path(text).expanduser()
    if path.is_dir():
        return "folder", path
    if path.is_file():
        return "video", path
    raise SourceError(f"source {text!r} is not a camera index, a stream URL, a file or a folder")


def open_source(
    spec: str | int | Path,
    fps: float | None = None,
    *,
    realtime: bool = False,
    drop_late: bool = False,
    reconnect: ReconnectPolicy | None = None,
) -> FrameSource:
    """Open a frame source from a spec (camera index, stream URL, video file or image folder).

    Args:
        spec: ``0`` / ``"0"`` for a webcam, ``rtsp://``/``http://`` URL for a stream, a path to a
            video file or to a folder of images.
        fps: for a folder, the replay rate (default 10); for a video file, overrides the file's
            own rate for timestamps; for live sources, the most frames per second delivered
            (extra frames are dropped). ``None``: the source's natural rate.
        realtime: pace file and folder replays to the wall clock (live sources always are).
        drop_late: with ``realtime``, skip replay frames the consumer had no time for.
        reconnect: backoff for live sources that fail to open or drop.

    Raises:
        SourceError: the spec names nothing readable, or a live source stays down.
    """
    if fps is not None and fps <= 0:
        raise SourceError(f"fps must be positive, got {fps}")
    kind, target = _parse_spec(spec)
    if kind == "folder":
        assert isinstance(target, Path)
        return ImageFolderSource(target, fps or DEFAULT_REPLAY_FPS, realtime=realtime, drop_late=drop_late)
    if kind == "video":
        assert isinstance(target, Path)
        return VideoFileSource(target, fps, realtime=realtime, drop_late=drop_late)
    if kind == "webcam":
        assert isinstance(target, int)
        index = target
        return LiveSource(f"camera {index}", lambda: cv2.VideoCapture(index), fps, reconnect)
    assert isinstance(target, str)
    url = target
    return LiveSource(f"stream {redact_url(url)}", lambda: _open_stream(url), fps, reconnect)


# A dead host must not hang the client: FFmpeg's own defaults wait far longer.
STREAM_OPEN_TIMEOUT_MS = 5000
STREAM_READ_TIMEOUT_MS = 5000


def _open_stream(url: str) -> cv2.VideoCapture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        STREAM_OPEN_TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        STREAM_READ_TIMEOUT_MS,
    ]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
