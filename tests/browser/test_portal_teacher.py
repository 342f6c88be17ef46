"""A teacher's day in the portal, in headless Chromium against the API: find today's class, see
who is absent, correct one with a reason (by keyboard), export the register, print it, open a
student and the course. Every page passes axe-core (nothing serious or critical), does not
scroll sideways at 390 px, and is saved as screenshots at 1366×768 and 390×844."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import attendance_corrections, face_negatives
from infra.migrations import upgrade
from tests.browser.cdp import Browser
from tests.browser.portal_harness import (
    ARTIFACTS,
    CHROMIUM,
    HOSTILE_NAME,
    ZONE,
    Campus,
    Tab,
    running,
    seed_portal_campus,
    signed_in_as,
)
from tests.integration.test_api_helpers import TEACHER_TOKEN

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


@pytest.fixture
def campus(tmp_path: Path) -> Iterator[Campus]:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(url)
    engine: Engine = create_engine(url)
    yield seed_portal_campus(engine)
    engine.dispose()


@pytest.fixture
def teacher_tab(campus: Campus, tmp_path: Path) -> Iterator[Tab]:
    """Tom Teacher (teaches CS501) signed in, on the home page."""
    assert CHROMIUM is not None
    with running(campus.engine) as (portal_url, _api_url):
        signed_in_as(TEACHER_TOKEN, "Tom Teacher", "teacher", "#/home")
        with Browser(CHROMIUM, tmp_path / "cdp") as browser:
            tab = Tab(browser, portal_url, ARTIFACTS / "teacher")
            tab.start("document.querySelector('#todays-classes .class-item') !== null")
            yield tab


def test_teacher_finds_todays_class_with_its_counts(teacher_tab: Tab, campus: Campus) -> None:
    tab = teacher_tab
    # GIVEN the home page of a teacher with CS501 on now
    text = tab.text()
    # THEN the class is listed with its roster counts in plain words, and it is the class on now
    assert "My classes today" in text
    assert "CS501 Computer Vision" in text
    assert "4 present · 1 late · 0 absent · 3 not marked of 8" in text
    assert "In class now: CS501 Computer Vision" in text
    # AND the next class after today is named, from the term's sessions: a week from today
    next_week = campus.today + timedelta(days=7)
    assert f"Next class: CS501 on {next_week.strftime('%a')}, {next_week.day} " in text
    tab.check_page("home")


def test_teacher_marks_corrects_exports_and_prints_the_register(
    teacher_tab: Tab, campus: Campus, tmp_path: Path
) -> None:
    tab, browser = teacher_tab, teacher_tab.browser
    # GIVEN the teacher opens today's register from the home page, by keyboard
    tab.focus("#todays-classes .class-links a")
    browser.press("Enter")
    browser.wait_for("document.querySelectorAll('#register tbody tr').length === 8")
    text = tab.text()
    # THEN the register is on the room's day, times in the room's zone and labelled
    assert f"{campus.today:%a}, {campus.today.day} " in text and str(campus.today.year) in text
    assert re.search(r"times in (IST|GMT\+5:30) \(Asia/Kolkata\)", text), text
    arrived = campus.arrived_at.astimezone(ZONE).strftime("%H:%M")
    assert re.search(rf"Arrived \(door camera\) {arrived} (IST|GMT\+5:30)", text), text
    assert "Confirmed in room" in text and "Match confidence: high" in text
    assert "similarity" not in text.lower() and "0.7" not in text
    # AND every control of a row names its student
    unnamed = browser.evaluate(
        """[...document.querySelectorAll('#register tbody tr')].flatMap((tr) => {
            const name = tr.querySelector('td a').textContent;
            return [...tr.querySelectorAll('button, input, select')]
                .filter((c) => !(c.getAttribute('aria-label') || c.textContent).includes(name))
                .map((c) => name + ': ' + (c.getAttribute('aria-label') || c.textContent));
        })"""
    )
    assert unnamed == []
    # AND the hostile name is text, never markup
    assert HOSTILE_NAME in text
    assert browser.evaluate("document.querySelectorAll('#register img').length") == 0
    tab.check_page("register")

    # WHEN the teacher marks everyone still without a mark absent (asked inline, not by a dialog)
    tab.click(".bulk button", "Mark all remaining absent")
    browser.wait_for("document.querySelector('.confirm') !== null")
    tab.check_page("register-confirm-all-absent")
    assert tab.active().startswith("Yes, mark 3 absent")
    browser.press("Enter")
    # THEN the three are absent
    browser.wait_for("document.querySelector('#register-counts').textContent.includes('3 absent')")

    # WHEN the teacher excuses Barbara Liskov, by keyboard, giving the reason inline
    tab.focus("#mark-1MS21CS005-excused")
    browser.press("Enter")
    browser.wait_for("document.activeElement && document.activeElement.name === 'reason'")
    assert "Barbara Liskov" in tab.active()
    tab.check_page("register-reason")
    browser.press("Enter")  # no reason given: asked for one next to the field
    browser.wait_for("document.querySelector('.reason-form .field-error:not([hidden])') !== null")
    assert "Say why the mark changes" in tab.text(".reason-form")
    browser.type_text("doctor's note")
    browser.press("Enter")
    # THEN the mark is saved, and focus moves on to the next student's first mark
    browser.wait_for(
        "document.querySelector('#mark-1MS21CS005-excused')?.getAttribute('aria-pressed') === 'true'"
    )
    assert browser.evaluate("document.activeElement.closest('tr')?.dataset.usn") != "1MS21CS005"
    with campus.engine.connect() as connection:
        corrections = connection.execute(
            sa.select(
                attendance_corrections.c.old_status,
                attendance_corrections.c.new_status,
                attendance_corrections.c.reason,
                attendance_corrections.c.corrected_by,
            )
            .where(
                attendance_corrections.c.usn == "1MS21CS005",
                attendance_corrections.c.class_date == campus.today,
            )
            .order_by(attendance_corrections.c.id)
        ).all()
    assert [tuple(c) for c in corrections] == [
        (None, "absent", "marked all remaining absent in the register", "Tom Teacher"),
        ("absent", "excused", "doctor's note", "Tom Teacher"),
    ]
    # AND the register shows the correction with its reason beside the mark
    barbara = tab.text("#register tr[data-usn='1MS21CS005']")
    assert (
        "Corrected by Tom Teacher" in barbara and "Absent → Excused" in barbara and "doctor's note" in barbara
    )

    # WHEN the teacher marks a door-recognised student absent, saying the door took someone else
    usn = "1MS21CS004"
    tab.focus(f"#mark-{usn}-absent")
    browser.press("Enter")
    browser.wait_for(f"!!document.querySelector('#wrong-person-{usn}')")
    assert "The door camera took someone else for" in tab.text(".reason-form")
    tab.check_page("register-wrong-person")
    browser.evaluate(f"document.querySelector('#wrong-person-{usn}').click()")
    tab.focus(f"#reason-{usn}")
    browser.type_text("not our student at the door")
    browser.press("Enter")
    # THEN the mark is absent and that door capture is queued as a negative for the student
    browser.wait_for(f"document.querySelector('#mark-{usn}-absent')?.getAttribute('aria-pressed') === 'true'")
    with campus.engine.connect() as connection:
        negatives = connection.execute(
            sa.select(face_negatives.c.usn, face_negatives.c.capture_id, face_negatives.c.status)
        ).all()
    assert [tuple(n) for n in negatives] == [(usn, f"cap-{usn}", "pending")]
    # AND a mark that came from no door capture offers no such choice
    tab.focus("#mark-1MS21CS005-absent")
    browser.press("Enter")
    browser.wait_for("document.activeElement && document.activeElement.name === 'reason'")
    assert browser.evaluate("document.querySelector('#wrong-person-1MS21CS005') === null")
    tab.click(".reason-form button", "Cancel")

    # WHEN the register is exported as CSV
    downloads = tmp_path / "downloads"
    browser.allow_downloads(downloads)
    tab.click("button", "Export CSV")
    for _ in range(100):
        if list(downloads.glob("*.csv")):
            break
        time.sleep(0.1)
    files = sorted(downloads.glob("*.csv"))
    assert len(files) == 1, files
    csv_file = files[0]
    assert csv_file.name == f"register_CS501_{campus.today.isoformat()}.csv"
    assert "Barbara Liskov" in csv_file.read_text()

    # WHEN it is printed: the register alone, without the controls
    browser.command("Emulation.setEmulatedMedia", {"media": "print"}, session=True)
    assert browser.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "none"
    assert (
        browser.evaluate("getComputedStyle(document.querySelector('#register .marks').parentElement).display")
        == "none"
    )
    assert "Asia/Kolkata" in browser.evaluate("document.querySelector('.print-only').textContent")
    browser.screenshot(tab.artifacts / "register-print.png")
    browser.command("Emulation.setEmulatedMedia", {"media": ""}, session=True)


def test_teacher_opens_a_student_and_the_course(teacher_tab: Tab, tmp_path: Path) -> None:
    tab, browser = teacher_tab, teacher_tab.browser
    # GIVEN the course page of CS501
    tab.open("#/course?code=CS501", "document.querySelector('#shortage-h') !== null")
    # THEN Barbara Liskov (absent 3 of 4 past weeks) is on the shortage list; charts are drawn
    shortage = tab.text(".shortage")
    assert "Shortage: 1 student under 75%" in shortage and "Barbara Liskov" in shortage
    assert "2026 Odd Semester" in tab.text()
    assert browser.evaluate("document.querySelectorAll('canvas').length") == 2
    tab.check_page("course")
    # WHEN the term register is exported as a spreadsheet
    downloads = tmp_path / "downloads"
    browser.allow_downloads(downloads)
    tab.click("button", "Term register (XLSX)")
    for _ in range(100):
        if list(downloads.glob("*.xlsx")):
            break
        time.sleep(0.1)
    (xlsx,) = downloads.glob("*.xlsx")
    assert xlsx.name == "register_CS501_2026_Odd_Semester.xlsx"
    assert xlsx.read_bytes()[:2] == b"PK"  # a workbook is a zip
    # WHEN the teacher finds a student by part of the name and opens them
    tab.open("#/students", "document.querySelector('input[name=student]') !== null")
    tab.focus("input[name=student]")
    browser.type_text("lisk")
    browser.wait_for("document.querySelectorAll('.picker-results li').length === 1")
    tab.check_page("students-search")
    browser.press("ArrowDown")
    browser.press("Enter")
    browser.wait_for("location.hash.includes('usn=1MS21CS005')")
    tab.open("#/student?usn=1MS21CS005", "document.querySelector('#history-h') !== null")
    text = tab.text()
    # THEN the student's page shows their per-course percentage and history in plain words
    assert "Barbara Liskov" in text and "shortage" in text
    assert "No arrival recorded by the end of class" in text or "Marked by a teacher" in text
    tab.check_page("student")
    for view, ready, name in (
        ("#/courses", "document.querySelector('#course-list table') !== null", "courses"),
        ("#/timetable", "document.querySelector('h2') !== null", "timetable"),
        (
            "#/live?room=R101",
            "document.querySelector('#live-events table, #live-events .empty') !== null",
            "live",
        ),
        ("#/glossary", "document.querySelector('.glossary') !== null", "glossary"),
    ):
        tab.open(view, ready)
        tab.check_page(name)
