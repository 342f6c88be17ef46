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
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine

from cloud_functions.api.app import create_app
from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import recognition_events
from infra.migrations import upgrade
from infra.seed import Person
from tests.browser.cdp import Browser
from tests.integration.test_api_helpers import ADMIN_TOKEN, TEACHER_TOKEN, api_settings, audit_entries, seed
from tests.local_stack_fixtures import LocalStackFactory

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
                outcome="recognised",
                usn="1MS21CS000",
                similarity=0.81,
                created_at=now,
            )
        )
    yield engine
    engine.dispose()


@contextmanager
def _running(
    engine: Engine, *, portal_port: int | None = None, **overrides: Any
) -> Iterator[tuple[str, str]]:
    """(portal URL, API URL): the portal's static server and the API on uvicorn, stopped afterwards."""
    portal_port, api_port = portal_port or _free_port(), _free_port()
    portal_url, api_url = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{api_port}"
    settings = api_settings(str(engine.url), cors_origins=[portal_url], **overrides)
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


@pytest.fixture
def servers(campus: Engine) -> Iterator[tuple[str, str]]:
    """The portal and the API on the seeded campus (no bucket behind the API)."""
    with _running(campus) as urls:
        yield urls


def _sign_in(api_url: str, token: str, view: str) -> None:
    """Make ``/__bootstrap.html`` store the connection as the Connection form does, then open ``view``."""
    _PortalHandler.bootstrap = (
        "<!doctype html><script>"
        f"sessionStorage.setItem('classsight.apiBase', {json.dumps(api_url)});"
        f"sessionStorage.setItem('classsight.apiToken', {json.dumps(token)});"
        f"location.replace({json.dumps('/index.html' + view)});"
        "</script>"
    )


def _dump_dom(portal_url: str, api_url: str, view: str, tmp_path: Path) -> str:
    """The DOM of ``view`` after the portal loaded it with a teacher's token."""
    _sign_in(api_url, TEACHER_TOKEN, view)
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
    assert "recognised" in dom
    assert "0.810" in dom


def test_students_view_lists_students_with_consent(servers: tuple[str, str], tmp_path: Path) -> None:
    portal_url, api_url = servers
    dom = _dump_dom(portal_url, api_url, "#/students?usn=1MS21CS000", tmp_path)
    assert "1MS21CS000" in dom
    assert "consent recorded" in dom
    assert "frontal" in dom


def test_teacher_corrects_attendance_through_the_form(
    servers: tuple[str, str], campus: Engine, tmp_path: Path
) -> None:
    # GIVEN a teacher on today's CS501 attendance page
    portal_url, api_url = servers
    today = datetime.now(UTC).date().isoformat()
    _sign_in(api_url, TEACHER_TOKEN, f"#/attendance?course=CS501&date={today}")
    assert CHROMIUM is not None
    with Browser(CHROMIUM, tmp_path / "cdp") as browser:
        browser.navigate(f"{portal_url}/__bootstrap.html")
        browser.wait_for("document.querySelectorAll('#attendance-report tbody tr').length === 2")
        # WHEN the teacher excuses Ada with a reason and submits
        browser.evaluate(
            """(() => {
                const row = [...document.querySelectorAll('#attendance-report tbody tr')]
                    .find((r) => r.textContent.includes('1MS21CS000'));
                const form = row.querySelector('form');
                form.querySelector('select[name=status]').value = 'excused';
                form.querySelector('input[name=reason]').value = "doctor's note";
                form.requestSubmit();
                return true;
            })()"""
        )
        # THEN the page shows the new status and the hostile name never ran as markup
        browser.wait_for(
            "document.querySelector('#attendance-report .chip-excused')?.textContent === 'excused: 1'"
        )
        assert browser.evaluate("document.title") == "ClassSight portal"
        assert browser.evaluate("document.querySelectorAll('#attendance-report img').length") == 0
    # AND the API stored it as a manual change by the teacher, with the reason
    (entry,) = audit_entries(campus, "override")
    detail = json.loads(entry["detail"])
    assert (entry["actor"], detail["reason"], detail["after"]["status"]) == (
        "Tom Teacher",
        "doctor's note",
        "excused",
    )


def test_admin_adds_a_student_and_records_consent(
    servers: tuple[str, str], campus: Engine, tmp_path: Path
) -> None:
    # GIVEN an admin on the students page
    portal_url, api_url = servers
    _sign_in(api_url, ADMIN_TOKEN, "#/students")
    assert CHROMIUM is not None
    with Browser(CHROMIUM, tmp_path / "cdp") as browser:
        browser.navigate(f"{portal_url}/__bootstrap.html")
        browser.wait_for("document.querySelector('details.card form') !== null")
        # WHEN the admin adds a student, then records consent on the student's panel
        browser.evaluate(
            """(() => {
                const form = document.querySelector('details.card form');
                form.querySelector('input[name=usn]').value = '1MS21CS777';
                form.querySelector('input[name=name]').value = 'Katherine Johnson';
                form.requestSubmit();
                return true;
            })()"""
        )
        browser.wait_for("document.querySelector('#student-detail h2')?.textContent.includes('1MS21CS777')")
        browser.evaluate(
            """(() => {
                const input = document.querySelector('#student-detail input[name=given_by]');
                input.value = 'signed form #7';
                input.form.requestSubmit();
                return true;
            })()"""
        )
        # THEN the panel shows the consent and photo uploads become available
        browser.wait_for(
            "document.querySelector('#student-detail')?.textContent.includes('consent recorded')"
        )
        assert browser.evaluate("document.querySelectorAll('#student-detail input[type=file]').length") == 5
    (consent,) = audit_entries(campus, "consent")
    assert (consent["actor"], consent["entity_id"]) == ("Ada Admin", "1MS21CS777")


def test_admin_uploads_an_enrollment_photo_straight_to_the_bucket(
    campus: Engine, local_stack_factory: LocalStackFactory, tmp_path: Path
) -> None:
    # GIVEN a bucket of its own that lets the portal's origin POST (a browser upload needs CORS)
    stack = local_stack_factory()
    portal_port = _free_port()
    s3 = stack.client("s3")
    s3.put_bucket_cors(
        Bucket=stack.bucket_name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [f"http://127.0.0.1:{portal_port}"],
                    "AllowedMethods": ["POST"],
                    "AllowedHeaders": ["*"],
                }
            ]
        },
    )
    photo = tmp_path / "frontal.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"photo" * 100)
    with _running(
        campus,
        portal_port=portal_port,
        aws_endpoint_url=stack.endpoint_url,
        aws_region=stack.region,
        bucket_name=stack.bucket_name,
    ) as (portal_url, api_url):
        # AND an admin on the panel of a student with consent
        _sign_in(api_url, ADMIN_TOKEN, "#/students?usn=1MS21CS000")
        assert CHROMIUM is not None
        with Browser(CHROMIUM, tmp_path / "cdp") as browser:
            browser.navigate(f"{portal_url}/__bootstrap.html")
            browser.wait_for("document.querySelectorAll('#student-detail input[type=file]').length === 5")
            # WHEN the admin picks a photo for the frontal pose
            browser.set_file_input("#student-detail input[type=file]", photo)
            # THEN the portal reports the upload and the photo is at the enrollment key
            browser.wait_for("document.getElementById('toast').textContent.startsWith('Uploaded frontal')")
    stored = s3.get_object(Bucket=stack.bucket_name, Key="enrollment/1MS21CS000/frontal.jpg")
    assert stored["Body"].read() == photo.read_bytes()
    assert stored["ContentType"] == "image/jpeg"
