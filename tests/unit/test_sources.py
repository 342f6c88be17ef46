"""Frame sources: spec parsing, replays of real footage, corrupt input, stream reconnects."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_client.sources import (
    ImageFolderSource,
    LiveSource,
    ReconnectPolicy,
    SourceError,
    VideoFileSource,
    open_source,
    redact_url,
    validate_image,
)
from tests.conftest import DATA_DIR

HAMILTON_CLIP = DATA_DIR / "faces" / "face_recognition_examples" / "extra" / "short_hamilton_clip.mp4"
LFW_KNOWN = DATA_DIR / "faces" / "lfw_subset" / "known"


@pytest.fixture
def lfw_folder(tmp_path: Path) -> Path:
    """Twelve real LFW photos named so that natural and lexical order differ (img2 < img10)."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for number, person in enumerate(sorted(LFW_KNOWN.iterdir()), start=1):
        shutil.copy(sorted(person.glob("*.jpg"))[0], folder / f"img{number}.jpg")
    return folder


@pytest.mark.parametrize(
    ("spec", "expected_type"),
    [
        (str(HAMILTON_CLIP), VideoFileSource),
        (HAMILTON_CLIP, VideoFileSource),
    ],
)
def test_open_source_picks_the_source_kind_from_the_spec(spec: str | Path, expected_type: type) -> None:
    # GIVEN a spec naming a real video file WHEN it is opened THEN the matching source is built
    with open_source(spec) as source:
        assert isinstance(source, expected_type)


def test_open_source_on_a_folder_replays_its_images(lfw_folder: Path) -> None:
    with open_source(lfw_folder, fps=4) as source:
        assert isinstance(source, ImageFolderSource)
        frames = list(source)
    # THEN every image comes out once, in natural order, timed by the replay rate
    assert [f.index for f in frames] == list(range(12))
    assert [f.timestamp_s for f in frames] == pytest.approx([i / 4 for i in range(12)])
    assert [p.name for p in source.paths][:3] == ["img1.jpg", "img2.jpg", "img3.jpg"]
    expected_first = cv2.imread(str(lfw_folder / "img1.jpg"))
    assert expected_first is not None
    assert np.array_equal(frames[0].image, expected_first)


def test_video_file_is_timed_by_its_own_frame_rate() -> None:
    with open_source(HAMILTON_CLIP) as source:
        assert isinstance(source, VideoFileSource)
        frames = [f for _, f in zip(range(30), source, strict=False)]
    assert source.fps > 0
    assert frames[-1].timestamp_s == pytest.approx(29 / source.fps)
    assert frames[0].image.dtype == np.uint8 and frames[0].image.shape[2] == 3


def test_realtime_replay_is_paced_to_the_wall_clock(lfw_folder: Path) -> None:
    # GIVEN a 12-image folder replayed at 40 fps in real time
    start = time.monotonic()
    with open_source(lfw_folder, fps=40, realtime=True) as source:
        count = sum(1 for _ in source)
    # THEN the last frame is not delivered before its due time (11 periods after the first)
    assert count == 12
    assert time.monotonic() - start >= 11 / 40


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/no/such/place.mp4", "is not a camera index, a stream URL, a file or a folder"),
        ("", "empty source spec"),
        ("ftp://user:secret@cam/stream", "unsupported stream scheme"),
    ],
)
def test_unusable_specs_raise_a_clear_source_error(spec: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        open_source(spec)
    assert "secret" not in str(info.value)


def test_a_corrupt_image_in_a_folder_names_the_file(lfw_folder: Path) -> None:
    # GIVEN a replay folder where one image is garbage bytes
    (lfw_folder / "img5.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with open_source(lfw_folder) as source:
        frames = []
        # WHEN it is replayed THEN the frames before it come out and then a clear error names it
        with pytest.raises(SourceError, match=r"corrupt or unreadable image .*img5\.jpg"):
            for frame in source:
                frames.append(frame)
    assert len(frames) == 4


def test_a_truncated_video_is_a_clear_error(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(HAMILTON_CLIP.read_bytes()[:4096])
    with pytest.raises(SourceError, match="corrupt"), open_source(truncated) as source:
        list(source)


def test_a_folder_without_images_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no frames here")
    with pytest.raises(SourceError, match="holds no images"):
        open_source(tmp_path)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (None, "not an image array"),
        (np.zeros((48, 64), np.uint8), "expected HxWx3 uint8"),
        (np.zeros((48, 64, 3), np.float32), "expected HxWx3 uint8"),
        (np.zeros((0, 64, 3), np.uint8), "empty image"),
    ],
)
def test_validate_image_rejects_corrupt_frames(image: object, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        validate_image(image, "camera 0 frame 7")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://***@10.0.0.5:554/live"),
        ("rtsp://10.0.0.5/live", "rtsp://10.0.0.5/live"),
        ("http://viewer@cam.local/mjpg", "http://***@cam.local/mjpg"),
    ],
)
def test_redact_url_hides_credentials(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (ReconnectPolicy(initial_delay_s=0.5, max_delay_s=3.0, max_attempts=5), [0.5, 1.0, 2.0, 3.0, 3.0]),
        (ReconnectPolicy(initial_delay_s=1.0, max_delay_s=30.0, max_attempts=0), []),
    ],
)
def test_reconnect_delays_double_up_to_the_cap(policy: ReconnectPolicy, expected: list[float]) -> None:
    assert list(policy.delays()) == expected


class _MjpegServer:
    """A real MJPEG-over-HTTP camera that drops each connection after a few frames and then
    answers 503 for a while, like a camera rebooting."""

    def __init__(self, frames_per_connection: int, down_s: float) -> None:
        self.connections = 0
        self._down_until = 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.connections += 1
                if time.monotonic() < owner._down_until:
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for i in range(frames_per_connection):
                    ok, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), 20 * i, np.uint8))
                    assert ok
                    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                    try:
                        self.wfile.write(part + jpeg.tobytes() + b"\r\n")
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    time.sleep(0.02)
                owner._down_until = time.monotonic() + down_s

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stream.mjpg"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def mjpeg_server() -> Iterator[_MjpegServer]:
    server = _MjpegServer(frames_per_connection=5, down_s=0.5)
    yield server
    server.stop()


def test_a_dropped_stream_is_reopened_with_backoff(mjpeg_server: _MjpegServer) -> None:
    # GIVEN a stream that drops after 5 frames and refuses connections for 0.5 s
    policy = ReconnectPolicy(initial_delay_s=0.2, max_delay_s=1.0, max_attempts=6)
    with open_source(mjpeg_server.url, reconnect=policy) as source:
        assert isinstance(source, LiveSource)
        # WHEN 12 frames are read
        frames = [f for _, f in zip(range(12), source, strict=False)]
    # THEN they all arrive, in order, across at least two reconnects
    assert [f.index for f in frames] == list(range(12))
    assert source.reconnects >= 2
    assert all(b.timestamp_s >= a.timestamp_s for a, b in itertools.pairwise(frames))


def test_a_stream_that_never_comes_up_gives_up_with_a_clear_error() -> None:
    # GIVEN a URL on a port where nothing listens
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]
    policy = ReconnectPolicy(initial_delay_s=0.01, max_delay_s=0.02, max_attempts=2)
    # WHEN it is opened THEN it fails after the allowed attempts, with credentials scrubbed
    with pytest.raises(SourceError, match=r"cannot open stream http://\*\*\*@127\.0\.0\.1.* after 2 attempt"):
        open_source(f"http://user:pw@127.0.0.1:{port}/x.mjpg", reconnect=policy)


def test_a_live_source_with_fps_delivers_fresh_frames_at_that_rate() -> None:
    # GIVEN a camera sending ~50 frames per second
    server = _MjpegServer(frames_per_connection=200, down_s=0.0)
    delivered_at: list[float] = []
    try:
        with open_source(server.url, fps=10) as source:
            # WHEN it is read with fps=10
            for _, _frame in zip(range(6), source, strict=False):
                delivered_at.append(time.monotonic())
    finally:
        server.stop()
    # THEN frames come out a tenth of a second apart and the ones in between are skipped
    gaps = [b - a for a, b in itertools.pairwise(delivered_at)]
    assert min(gaps) >= 0.1 - 0.005
    assert isinstance(source, LiveSource) and source.dropped_frames > 0
