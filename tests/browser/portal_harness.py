"""What the portal's browser tests share: a seeded campus, the portal and the API served on
127.0.0.1, a signed-in tab, and the checks every page gets (axe-core, no sideways scrolling on
a phone, screenshots at 1366×768 and 390×844 under ``var/artifacts/portal/``)."""

from __future__ import annotations

import functools
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from sqlalchemy.engine import Engine

from cloud_functions.api.app import create_app
from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.presence import PresenceConfirmation, confirm_presence
from cloud_functions.core.db.schema import attendance, course_rosters
from infra.seed import Person, Slot, seed_campus, seed_students, seed_teachers
from tests.browser.cdp import Browser
from tests.integration.test_api_helpers import TEACHERS, api_settings

ROOT = Path(__file__).resolve().parents[2]
PORTAL_DIR = ROOT / "frontend_static"
ARTIFACTS = ROOT / "var" / "artifacts" / "portal"
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ZONE = ZoneInfo("Asia/Kolkata")
HOSTILE_NAME = "<img src=x onerror=\"document.title='pwned'\">Eve"
SIZES = ((1366, 768), (390, 844))

# CS501's roster; the first five came in today (see Campus), the rest have no mark yet.
ROSTER = (
    Person("1MS21CS000", "Ada Lovelace", ()),
    Person("1MS21CS001", "Alan Turing", ()),
    Person("1MS21CS002", "Grace Hopper", ()),
    Person("1MS21CS003", "Katherine Johnson", ()),
    Person("1MS21CS004", "Edsger Dijkstra", ()),
    Person("1MS21CS005", "Barbara Liskov", ()),
    Person("1MS21CS006", "Donald Knuth", ()),
    Person("1MS21CS007", HOSTILE_NAME, ()),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Campus:
    """The seeded campus: today's CS501 class in R101 (Asia/Kolkata) and four past weeks of it."""

    engine: Engine
    today: date
    arrived_at: datetime  # Ada's door sighting today (UTC)
    past_days: tuple[date, ...]


def seed_portal_campus(engine: Engine) -> Campus:
    """CS501 in R101 from an hour ago to an hour from now (room time), CS502 later in R102.

    Today: Ada, Alan and Grace arrived and were confirmed, Katherine arrived late, Edsger arrived
    (not yet confirmed); three have no mark. The four previous weeks: Barbara was absent three
    times (25%, a shortage), everyone else present.
    """
    now = datetime.now(UTC)
    local = now.astimezone(ZONE)
    start = max(clock_time(0, 0), (local - timedelta(hours=1)).time().replace(second=0, microsecond=0))
    if (local - timedelta(hours=1)).date() != local.date():
        start = clock_time(0, 0)
    end_local = local + timedelta(hours=1)
    end = (
        clock_time(23, 59)
        if end_local.date() != local.date()
        else end_local.time().replace(second=0, microsecond=0)
    )
    slots = [Slot("CS501", "R101", local.weekday(), start, end)]
    if end < clock_time(22, 0):
        slots.append(Slot("CS502", "R102", local.weekday(), clock_time(22, 0), clock_time(23, 0)))
    seed_campus(engine, slots)
    seed_students(engine, ROSTER)
    seed_teachers(engine, TEACHERS)
    today = local.date()
    past = tuple(today - timedelta(days=7 * k) for k in range(1, 5))
    arrived_at = now - timedelta(minutes=40)
    with engine.begin() as connection:
        connection.execute(
            course_rosters.insert(),
            [{"course_code": "CS501", "usn": p.usn, "section": "A"} for p in ROSTER],
        )
        for i, (usn, status) in enumerate(
            [("1MS21CS000", "entered"), ("1MS21CS001", "entered"), ("1MS21CS002", "entered"),
             ("1MS21CS003", "late"), ("1MS21CS004", "entered")]
        ):  # fmt: skip
            seen = arrived_at + timedelta(minutes=i)
            record_door_sighting(
                connection,
                DoorSighting(
                    usn, "CS501", today, "R101", seen, status, "face", 0.70 - i * 0.08, f"cap-{usn}"
                ),  # type: ignore[arg-type]
            )
            if i < 3:
                confirm_presence(
                    connection,
                    PresenceConfirmation(usn, "CS501", today, "R101", seen + timedelta(minutes=12), "face"),
                )
        rows = []
        for k, day in enumerate(past):
            for p in ROSTER:
                status = "absent" if p.usn == "1MS21CS005" and k < 3 else "present"
                rows.append(
                    {
                        "usn": p.usn,
                        "course_code": "CS501",
                        "class_date": day,
                        "room_id": "R101",
                        "status": status,
                        "source": "face" if status == "present" else "manual",
                        "updated_at": now,
                    }
                )
        connection.execute(attendance.insert(), rows)
    return Campus(engine=engine, today=today, arrived_at=arrived_at, past_days=past)


class PortalHandler(SimpleHTTPRequestHandler):
    """``frontend_static/`` with the test's ``config.json`` and ``/__bootstrap.html``."""

    bootstrap: str = ""
    config: str = "{}"

    def do_GET(self) -> None:
        if self.path.startswith("/__bootstrap.html"):
            self._send(self.bootstrap, "text/html; charset=utf-8")
            return
        if self.path.split("?")[0] == "/config.json":
            self._send(self.config, "application/json")
            return
        super().do_GET()

    def _send(self, text: str, content_type: str) -> None:
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def running(engine: Engine, *, portal_port: int | None = None, **overrides: Any) -> Iterator[tuple[str, str]]:
    """(portal URL, API URL): the portal's static server and the API on uvicorn, stopped afterwards."""
    portal_port, api_port = portal_port or free_port(), free_port()
    portal_url, api_url = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{api_port}"
    settings = api_settings(str(engine.url), cors_origins=[portal_url], **overrides)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port, log_level="warning"))
    api_thread = threading.Thread(target=server.run, daemon=True)
    api_thread.start()
    PortalHandler.config = json.dumps({"apiBaseUrl": api_url})
    handler = functools.partial(PortalHandler, directory=str(PORTAL_DIR))
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


def signed_in_as(token: str, name: str, role: str, view: str) -> None:
    """Make ``/__bootstrap.html`` store a session for ``token`` (as signing in does), then open ``view``."""
    session = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        "refresh_token": None,
        "name": name,
        "role": role,
    }
    PortalHandler.bootstrap = (
        "<!doctype html><script>"
        f"sessionStorage.setItem('classsight.session', {json.dumps(json.dumps(session))});"
        f"location.replace({json.dumps('/index.html' + view)});"
        "</script>"
    )


class Tab:
    """One browser tab on the portal, with the per-page checks."""

    def __init__(self, browser: Browser, portal_url: str, artifacts: Path) -> None:
        self.browser = browser
        self.portal_url = portal_url
        self.artifacts = artifacts
        self.checked: list[str] = []

    def open(self, view: str, ready: str) -> None:
        """Open ``#/view`` and wait until ``ready`` (a JS expression) is true."""
        self.browser.evaluate(f"location.hash = {json.dumps(view)}; true")
        self.browser.wait_for(ready)

    def start(self, ready: str) -> None:
        self.browser.navigate(f"{self.portal_url}/__bootstrap.html")
        self.browser.wait_for(ready)

    def text(self, selector: str = "#view") -> str:
        return str(self.browser.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText ?? ''"))

    def check_page(self, name: str) -> None:
        """axe-core finds nothing serious or critical; at 390 px nothing scrolls sideways;
        screenshots at both sizes."""
        browser = self.browser
        if not browser.evaluate("typeof window.axe === 'object'"):
            browser.evaluate(AXE_JS.read_text() + "\n;true")
        for width, height in SIZES:
            browser.set_viewport(width, height)
            time.sleep(0.3)  # layout and charts settle at the new size
            overflow = browser.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth,"
                " [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right"
                " > window.innerWidth + 1 && getComputedStyle(e).position !== 'fixed')"
                ".slice(0, 5).map((e) => e.tagName + '.' + e.className)]"
            )
            scroll_width, inner_width, culprits = overflow
            assert scroll_width <= min(inner_width, width), (
                f"{name} at {width}px scrolls sideways: {culprits}"
            )
            browser.screenshot(self.artifacts / f"{name}-{width}x{height}.png")
            violations = browser.evaluate(
                """axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations
                    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                    .map((v) => v.id + ': ' + v.help + ' @ '
                        + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')))"""
            )
            assert violations == [], f"{name} at {width}px: {violations}"
        browser.set_viewport(*SIZES[0])
        assert browser.errors() == [], browser.errors()
        self.checked.append(name)

    def click(self, selector: str, text: str | None = None) -> None:
        """Click the first element matching ``selector`` (whose text contains ``text``)."""
        found = self.browser.evaluate(
            f"""(() => {{
                const el = [...document.querySelectorAll({json.dumps(selector)})]
                    .find((e) => {json.dumps(text)} === null || e.textContent.includes({json.dumps(text)}));
                if (!el) return false;
                el.click();
                return true;
            }})()"""
        )
        assert found, f"nothing to click: {selector} {text}"

    def fill(self, selector: str, value: str) -> None:
        """Set an input's value as typing would (fires input)."""
        ok = self.browser.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return false;
                el.value = {json.dumps(value)};
                el.dispatchEvent(new Event('input', {{bubbles: true}}));
                el.dispatchEvent(new Event('change', {{bubbles: true}}));
                return true;
            }})()"""
        )
        assert ok, f"no field {selector}"

    def focus(self, selector: str) -> None:
        assert self.browser.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " if (!el) return false; el.focus(); return true; })()"
        ), selector

    def active(self) -> str:
        """The focused element's accessible label (aria-label or text)."""
        return str(
            self.browser.evaluate(
                "(document.activeElement?.getAttribute('aria-label')"
                " || document.activeElement?.textContent || '')"
            )
        )
