"""Flags in the portal, in headless Chromium against the API: a teacher sees the flags of their
course in plain words, and judges one with a reason (kept, with who and when). The page passes
axe-core, does not scroll sideways at 390 px, and is saved as screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.flags import NewFlag, raise_flag
from cloud_functions.core.db.schema import flags
from infra.migrations import upgrade
from tests.browser.cdp import Browser
from tests.browser.portal_harness import (
    ARTIFACTS,
    CHROMIUM,
    Campus,
    Tab,
    running,
    seed_portal_campus,
    signed_in_as,
)
from tests.integration.test_api_helpers import TEACHER_TOKEN, audit_entries

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


@pytest.fixture
def campus(tmp_path: Path) -> Iterator[Campus]:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(url)
    engine: Engine = create_engine(url)
    campus = seed_portal_campus(engine)
    with engine.begin() as connection:
        raise_flag(
            connection,
            NewFlag(
                kind="not_confirmed",
                dedupe_key="not_confirmed:cap-1MS21CS004",
                usn="1MS21CS004",
                room_id="R101",
                course_code="CS501",
                class_date=campus.today,
                capture_id="cap-1MS21CS004",
                evidence={
                    "capture_id": "cap-1MS21CS004",
                    "seen_at": campus.arrived_at,
                    "entry_window_s": 30.0,
                },
            ),
        )
        # A flag of another teacher's course, which Tom must not see
        raise_flag(
            connection,
            NewFlag(
                kind="two_rooms",
                dedupe_key="two_rooms:1MS21CS000:R102",
                usn="1MS21CS000",
                room_id="R102",
                course_code="CS502",
                class_date=campus.today,
                capture_id=None,
                evidence={"rooms": ["R101", "R102"]},
            ),
        )
    yield campus
    engine.dispose()


def test_a_teacher_judges_a_flag_of_their_course_with_a_reason(campus: Campus, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    with running(campus.engine) as (portal_url, _api_url):
        # GIVEN Tom (teaches CS501) on the flags page
        signed_in_as(TEACHER_TOKEN, "Tom Teacher", "teacher", "#/flags")
        with Browser(CHROMIUM, tmp_path / "cdp") as browser:
            tab = Tab(browser, portal_url, ARTIFACTS / "teacher")
            tab.start("document.querySelector('.flag-card') !== null")
            # THEN he sees CS501's flag in plain words, and not CS502's
            text = tab.text("#flag-list")
            assert "Recognised at the door, never walked in" in text
            assert "saw nobody walk in with that name within 30 seconds" in text
            assert "two rooms" not in text.lower() and "not_confirmed" not in text
            tab.check_page("flags")
            # WHEN he saves without choosing, then chooses "really them" and gives a reason
            tab.click(".resolve-form button[type=submit]")
            browser.wait_for("document.querySelector('.resolve-form .form-error:not([hidden])') !== null")
            assert "Choose whether it was really" in tab.text(".resolve-form .form-error")
            tab.click(".resolve-form input[value=genuine]")
            tab.fill(".resolve-form input[name=reason]", "I saw him in class; the room camera missed him")
            tab.click(".resolve-form button[type=submit]")
            browser.wait_for("document.querySelector('.flag-card .resolution') !== null")
            # THEN the card says who judged it, how and why, and focus moves to its heading
            assert "Judged by Tom Teacher" in tab.text(".flag-card .resolution")
            assert "It was really them" in tab.text(".flag-card .resolution")
            assert browser.evaluate("document.activeElement.tagName") == "H2"
    # AND the judgement is stored and audited
    with campus.engine.connect() as connection:
        row = connection.execute(sa.select(flags).where(flags.c.usn == "1MS21CS004")).one()
    assert (row.status, row.resolution, row.resolved_by) == ("resolved", "genuine", "Tom Teacher")
    [entry] = audit_entries(campus.engine, "resolve_flag")
    assert entry["actor"] == "Tom Teacher" and "the room camera missed him" in (entry["detail"] or "")
