"""Operator view: annotation and the local MJPEG page, read back through the real stream source."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest

from edge_client.cam1.errors import PreviewError
from edge_client.cam1.gate import GateState, GateStatus
from edge_client.cam1.preview import WebPreview, WindowPreview, annotate
from edge_client.outbox import OutboxStats, UploadStatus
from edge_client.sources import ReconnectPolicy, open_source
from vision.faces import DetectedFace


def test_annotate_draws_box_progress_and_status_on_a_copy() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    status = GateStatus(GateState.STABILISING, DetectedFace((200, 100, 300, 220), 0.9), 0.5, 1)
    upload = UploadStatus(False, "captures/faces/R101/d/x.jpg", datetime.now(UTC), "endpoint down", 4.0)
    view = annotate(frame, status, upload, OutboxStats(pending=3, uploaded=7, dropped=0))
    assert not frame.any()  # the source frame is untouched
    assert view[100, 250].any()  # top edge of the face box
    assert view[460, 20].any() and not view[460, 600].any()  # progress bar half full
    assert view[5:25, 10:300].any()  # upload status line


@pytest.mark.parametrize("state", list(GateState))
def test_annotate_handles_every_gate_state(state: GateState) -> None:
    view = annotate(np.zeros((240, 320, 3), np.uint8), GateStatus(state), None, None)
    assert view.shape == (240, 320, 3)


def test_web_preview_serves_an_mjpeg_stream_readable_as_a_source() -> None:
    preview = WebPreview("127.0.0.1", 0, fps=30)
    try:
        frame = np.full((240, 320, 3), 128, np.uint8)
        cv2.rectangle(frame, (40, 40), (120, 120), (0, 0, 255), -1)
        preview.show(frame)
        # WHEN the page's stream is opened like any camera URL
        with open_source(f"{preview.url}stream.mjpg", reconnect=ReconnectPolicy(max_attempts=1)) as source:
            received = next(iter(source))
        # THEN the frame comes back (JPEG-lossy)
        assert received.image.shape == frame.shape
        assert np.abs(received.image.astype(int) - frame.astype(int)).mean() < 3
    finally:
        preview.close()


def test_web_preview_on_a_taken_port_is_a_clear_error() -> None:
    first = WebPreview("127.0.0.1", 0)
    try:
        port = int(first.url.rsplit(":", 1)[1].strip("/"))
        with pytest.raises(PreviewError, match=f"127.0.0.1:{port}"):
            WebPreview("127.0.0.1", port)
    finally:
        first.close()


def test_window_preview_without_a_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(PreviewError, match="needs a display"):
        WindowPreview()
