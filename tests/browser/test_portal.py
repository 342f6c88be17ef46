"""The portal in headless Chromium against the API on uvicorn, both on 127.0.0.1.

The portal is served from ``frontend_static/`` by a plain HTTP server; a bootstrap page of the
same origin puts the API URL and a token into sessionStorage (what the Connection form does)
and opens a view. ``--dump-dom`` after a virtual-time budget gives the DOM the view rendered from
the API's data. Skipped where Chromium is not installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import functools
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from cloud_functions.api.app import create_app
from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import recognition_events
from infra.migrations import upgrade
from infra.seed import Person
from tests.integration.test_api_helpers import TEACHER_TOKEN, api_settings, seed

PORTAL_DIR = Path(__file__).resolve().parents[2] / "frontend_static"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE_NAME = "<img src=x onerror=\"document.title='pwned'\">Eve"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _PortalHandler(SimpleHTTPRequestHandler):
    """``frontend_static/`` plus ``/__bootstrap.html?<api>&<token>&<view>`` for the test."""

    bootstrap: str = ""

    def do_GET(self) -> None:
        if self.path.startswith("/__bootstrap.html"):
            body = self.bootstrap.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def campus(tmp_path: Path) -> Iterator[Engine]:
    """A seeded SQLite campus: today's class in R101 with two arrivals and a recognition event."""
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(url)
    engine = create_engine(url)
    seed(engine, people=(Person("1MS21CS000", "Ada Lovelace", ()), Person("1MS21CS001", HOSTILE_NAME, ())))
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for usn in ("1MS21CS000", "1MS21CS001"):
            record_door_sighting(
                connection,
                DoorSighting(usn, "CS501", now.date(), "R101", now, "entered", "face", 0.8, f"cap-{usn}"),
            )
        connection.execute(
            recognition_events.insert().values(
                object_key="captures/faces/R101/x/live-1.jpg",
                capture_id="live-1",
                camera_id="R101-door",
                room_id="R101",
                captured_at=now - timedelta(seconds=5),
                outcome="matched",
                usn="1MS21CS000",
                similarity=0.81,
                created_at=now,
            )
        )
    yield engine
    engine.dispose()


@pytest.fixture
def servers(campus: Engine) -> Iterator[tuple[str, str]]:
    """(portal URL, API URL): the portal's static server and the API on uvicorn, stopped afterwards."""
    portal_port, api_port = _free_port(), _free_port()
    portal_url, api_url = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{api_port}"
    settings = api_settings(str(campus.url), cors_origins=[portal_url])
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_level="warning"))
    api_thread = threading.Thread(target=server.run, daemon=True)
    api_thread.start()
    handler = functools.partial(_PortalHandler, directory=str(PORTAL_DIR))
    portal = ThreadingHTTPServer(("127.0.0.1", portal_port), handler)
    portal_thread = threading.Thread(target=portal.serve_forever, daemon=True)
    portal_thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield portal_url, api_url
    finally:
        server.should_exit = True
        portal.shutdown()
        portal.server_close()
        api_thread.join(timeout=10)
        app.state.engine.dispose()


def _dump_dom(portal_url: str, api_url: str, view: str, tmp_path: Path) -> str:
    """The DOM of ``view`` after the portal loaded it with a teacher's token."""
    _PortalHandler.bootstrap = (
        "<!doctype html><script>"
        f"sessionStorage.setItem('classsight.apiBase', {json.dumps(api_url)});"
        f"sessionStorage.setItem('classsight.apiToken', {json.dumps(TEACHER_TOKEN)});"
        f"location.replace({json.dumps('/index.html' + view)});"
        "</script>"
    )
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--virtual-time-budget=8000",
            "--dump-dom",
            f"{portal_url}/__bootstrap.html",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_todays_classes_show_seeded_timetable(servers: tuple[str, str], tmp_path: Path) -> None:
    # GIVEN the seeded campus and the portal signed in as a teacher
    # WHEN the attendance page of today's CS501 class is opened
    portal_url, api_url = servers
    today = datetime.now(UTC).date().isoformat()
    dom = _dump_dom(portal_url, api_url, f"#/attendance?course=CS501&date={today}", tmp_path)
    # THEN both students are listed, the hostile name as text (escaped), never as an element
    assert "Computer Vision" in dom
    assert "Ada Lovelace" in dom
    assert "&lt;img src=x onerror=" in dom
    assert "<img src" not in dom
    assert "Tom Teacher" in dom


def test_live_room_lists_recent_recognitions(servers: tuple[str, str], tmp_path: Path) -> None:
    portal_url, api_url = servers
    dom = _dump_dom(portal_url, api_url, "#/live?room=R101", tmp_path)
    assert "R101-door" in dom
    assert "matched" in dom
    assert "0.810" in dom


def test_students_view_lists_students_with_consent(servers: tuple[str, str], tmp_path: Path) -> None:
    portal_url, api_url = servers
    dom = _dump_dom(portal_url, api_url, "#/students?usn=1MS21CS000", tmp_path)
    assert "1MS21CS000" in dom
    assert "consent recorded" in dom
    assert "frontal" in dom
