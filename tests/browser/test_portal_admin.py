"""An admin sets a campus up in the portal, in headless Chromium against the API and the local
stack's bucket: add a room, a course, a teacher and a timetable slot (bad input answered in plain
words next to its field), import a roster with one bad row, add a student with consent, upload
several enrollment photos at once, delete the face data and read the receipt; camera health and
the offline API docs. Every page passes axe-core and is saved as screenshots at both sizes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import course_rosters, courses, rooms, teachers
from infra.local_stack import LocalStack
from infra.migrations import upgrade
from tests.browser.cdp import Browser
from tests.browser.portal_harness import (
    ARTIFACTS,
    CHROMIUM,
    Campus,
    Tab,
    free_port,
    running,
    seed_portal_campus,
    signed_in_as,
)
from tests.conftest import DATA_DIR
from tests.integration.test_api_helpers import ADMIN_TOKEN
from tests.local_stack_fixtures import LocalStackFactory

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

LFW_PERSON = DATA_DIR / "faces" / "lfw_subset" / "known" / "Colin_Powell"
# Raw validation text and ids the pages must never show.
RAW_WORDS = (
    "String should match",
    "Value error",
    "pattern",
    "loc",
    "value_error",
    "overlaps timetable entries",
)


@pytest.fixture
def campus(tmp_path: Path) -> Iterator[Campus]:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(url)
    engine: Engine = create_engine(url)
    yield seed_portal_campus(engine)
    engine.dispose()


@pytest.fixture
def stack(local_stack_factory: LocalStackFactory) -> LocalStack:
    return local_stack_factory()


@pytest.fixture
def admin(campus: Campus, stack: LocalStack, tmp_path: Path) -> Iterator[tuple[Tab, str]]:
    """Ada Admin signed in, with a bucket that lets the portal's origin POST photos (CORS)."""
    portal_port = free_port()
    stack.client("s3").put_bucket_cors(
        Bucket=stack.bucket_name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [f"http://127.0.0.1:{portal_port}"],
                    "AllowedMethods": ["POST", "GET"],
                    "AllowedHeaders": ["*"],
                }
            ]
        },
    )
    assert CHROMIUM is not None
    with running(
        campus.engine,
        portal_port=portal_port,
        aws_endpoint_url=stack.endpoint_url,
        aws_region=stack.region,
        bucket_name=stack.bucket_name,
    ) as (portal_url, api_url):
        signed_in_as(ADMIN_TOKEN, "Ada Admin", "admin", "#/rooms")
        with Browser(CHROMIUM, tmp_path / "cdp") as browser:
            tab = Tab(browser, portal_url, ARTIFACTS / "admin")
            tab.start("document.querySelector('form [name=room_id]') !== null")
            yield tab, api_url


def _no_raw_text(tab: Tab) -> None:
    text = tab.text()
    for word in RAW_WORDS:
        assert word not in text, f"raw text {word!r} on the page: {text[:500]}"


def _field_error(tab: Tab, name: str) -> str:
    return str(
        tab.browser.evaluate(
            f"document.getElementById(document.querySelector('[name={name}]').id + '-error').textContent"
        )
    )


def test_admin_adds_room_course_teacher_and_slot(admin: tuple[Tab, str], campus: Campus) -> None:
    tab, browser = admin[0], admin[0].browser
    tab.check_page("rooms")
    # WHEN the admin adds a room with a space in its id
    tab.fill("form [name=room_id]", "R 201")
    tab.fill("form [name=name]", "Room 201")
    tab.fill("form [name=cam1_id]", "R201-door")
    tab.fill("form [name=cam2_id]", "R201-door")
    tab.click("form button[type=submit]", "Add room")
    # THEN each problem is said in plain words next to its field, and focus goes to the first
    browser.wait_for("document.querySelector('[aria-invalid=true]') !== null")
    assert "no spaces" in _field_error(tab, "room_id")
    _no_raw_text(tab)
    tab.check_page("rooms-error")
    # WHEN it is fixed (and the cameras told apart): the room is added
    tab.fill("form [name=room_id]", "R201")
    tab.click("form button[type=submit]", "Add room")
    browser.wait_for("document.querySelector('[name=cam2_id]').getAttribute('aria-invalid') === 'true'")
    assert _field_error(tab, "cam2_id") == "The door camera and the room camera need different names."
    tab.fill("form [name=cam2_id]", "R201-room")
    tab.click("form button[type=submit]", "Add room")
    browser.wait_for("document.body.innerText.includes('R201-room')")
    with campus.engine.connect() as connection:
        assert (
            connection.execute(sa.select(rooms.c.name).where(rooms.c.room_id == "R201")).scalar()
            == "Room 201"
        )

    # WHEN a course is added
    tab.open("#/courses", "document.querySelector('#course-list table') !== null")
    tab.click("details.card summary")
    tab.fill("form [name=course_code]", "CS601")
    tab.fill("form [name=title]", "Deep Learning")
    tab.click("form button[type=submit]", "Add course")
    browser.wait_for("document.querySelector('#course-list').textContent.includes('CS601 Deep Learning')")
    tab.check_page("courses-admin")

    # WHEN a teacher is added who teaches it
    tab.open("#/teachers", "document.querySelector('form [name=username]') !== null")
    tab.fill("form [name=username]", "grace")
    tab.fill("form [name=name]", "Grace Teacher")
    tab.click("#teach-CS601")
    tab.click("form button[type=submit]", "Add teacher")
    browser.wait_for("document.body.innerText.includes('Grace Teacher')")
    browser.wait_for(
        "[...document.querySelectorAll('tbody tr')]"
        ".some((tr) => tr.textContent.includes('Grace Teacher') && tr.textContent.includes('CS601'))"
    )
    tab.check_page("teachers")
    with campus.engine.connect() as connection:
        assert (
            connection.execute(sa.select(teachers.c.name).where(teachers.c.username == "grace")).scalar()
            == "Grace Teacher"
        )

    # WHEN a slot is added whose end is before its start, then one that clashes with CS501
    tab.open("#/timetable", "document.querySelector('details.card') !== null")
    tab.click("details.card summary")
    tab.fill("form [name=course_code]", "CS601")
    tab.fill("form [name=room_id]", "R201")
    tab.fill("form [name=start_time]", "11:00")
    tab.fill("form [name=end_time]", "10:00")
    tab.click("form button[type=submit]", "Add to timetable")
    browser.wait_for("document.querySelector('[aria-invalid=true]') !== null")
    assert _field_error(tab, "end_time") == "The end time must be after the start time."
    _no_raw_text(tab)
    tab.check_page("timetable-error")
    tab.fill("form [name=end_time]", "12:00")
    tab.click("form button[type=submit]", "Add to timetable")
    browser.wait_for(
        "document.body.innerText.includes('CS601 Deep Learning')"
        " && document.querySelectorAll('[aria-invalid=true]').length === 0"
    )
    with campus.engine.connect() as connection:
        assert (
            connection.execute(sa.select(courses.c.title).where(courses.c.course_code == "CS601")).scalar()
            == "Deep Learning"
        )


def test_admin_imports_a_roster_with_one_bad_row(
    admin: tuple[Tab, str], campus: Campus, tmp_path: Path
) -> None:
    tab, browser = admin[0], admin[0].browser
    roster = tmp_path / "cs502.csv"
    roster.write_text("usn,course_code,section\n1MS21CS000,CS502,A\n1MS21CS001,CS999,A\n1MS21CS002,CS502,A\n")
    tab.open("#/imports", "document.querySelector('#import-file') !== null")
    tab.check_page("import")
    # WHEN the admin previews a roster whose second student names an unknown course
    browser.set_file_input("#import-file", roster)
    tab.click("form button[type=submit]", "Preview")
    browser.wait_for("document.querySelector('#import-problems') !== null")
    # THEN the problem is listed by row and column, and nothing was imported
    problems = tab.text("#import-problems")
    assert "3" in problems and "course_code" in problems and "Unknown course CS999" in problems
    assert browser.evaluate("document.querySelector('#import-result h2').textContent").startswith("1 problem")
    assert browser.evaluate(
        "[...document.querySelectorAll('button')].find((b) => b.textContent === 'Import').disabled"
    )
    tab.check_page("import-problems")
    with campus.engine.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count())
                .select_from(course_rosters)
                .where(course_rosters.c.course_code == "CS502")
            ).scalar()
            == 0
        )
    # WHEN the row is fixed, previewed and imported
    fixed = tmp_path / "cs502_fixed.csv"
    fixed.write_text("usn,course_code,section\n1MS21CS000,CS502,A\n1MS21CS001,CS502,A\n1MS21CS002,CS502,A\n")
    browser.set_file_input("#import-file", fixed)
    tab.click("form button[type=submit]", "Preview")
    browser.wait_for("document.querySelector('#import-result').textContent.includes('no problems')")
    assert "3 rows: 3 new" in tab.text("#import-result")
    tab.click("button", "Import")
    browser.wait_for("document.querySelector('#import-result h2')?.textContent.startsWith('Imported')")
    with campus.engine.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count())
                .select_from(course_rosters)
                .where(course_rosters.c.course_code == "CS502")
            ).scalar()
            == 3
        )


def test_admin_enrolls_with_photos_then_deletes_the_face_data(
    admin: tuple[Tab, str], stack: LocalStack, tmp_path: Path
) -> None:
    tab, browser = admin[0], admin[0].browser
    tab.open("#/students", "document.querySelector('details.card form [name=usn]') !== null")
    # WHEN the admin adds a student and records consent
    tab.click("details.card summary")
    tab.fill("details.card form [name=usn]", "1MS21CS777")
    tab.fill("details.card form [name=name]", "Mary Jackson")
    tab.click("details.card form button[type=submit]", "Add student")
    browser.wait_for("document.querySelector('#student-detail h2')?.textContent === 'Mary Jackson'")
    tab.check_page("student-no-consent")
    tab.fill("#student-detail [name=given_by]", "signed form #7")
    tab.click("#student-detail button[type=submit]", "Record consent")
    browser.wait_for("document.querySelector('#student-detail .drop-zone') !== null")
    # AND drops three photos at once: each goes to the pose its file name says
    photos = []
    for number, pose in enumerate(("front", "left", "right"), start=1):
        photo = tmp_path / f"mary_{pose}.jpg"
        photo.write_bytes((LFW_PERSON / f"Colin_Powell_000{number}.jpg").read_bytes())
        photos.append(photo)
    browser.set_file_input("#student-detail input[type=file]", photos)
    browser.wait_for("document.querySelectorAll('.drop-list li').length === 3")
    poses = browser.evaluate("[...document.querySelectorAll('.drop-list select')].map((s) => s.value)")
    assert poses == ["frontal", "left", "right"]
    tab.check_page("enrollment-chosen")
    tab.click("#student-detail button", "Upload photos")
    browser.wait_for("document.querySelectorAll('.upload-result li.ok').length === 3")
    s3 = stack.client("s3")
    for pose, photo in zip(("frontal", "left", "right"), photos, strict=True):
        stored = s3.get_object(Bucket=stack.bucket_name, Key=f"enrollment/1MS21CS777/{pose}.jpg")
        assert stored["Body"].read() == photo.read_bytes()
    # THEN the pose thumbnails show the stored photos
    browser.wait_for(
        "[...document.querySelectorAll('#student-detail .poses img')]"
        ".filter((i) => i.naturalWidth > 0).length === 3",
        timeout_s=15,
    )
    assert "Uploaded, waiting to be checked" in tab.text("#student-detail")
    tab.check_page("enrollment-uploaded")
    # WHEN the face data is deleted (confirmed inline)
    tab.click("#student-detail button", "Delete face data of Mary Jackson")
    browser.wait_for("document.querySelector('.danger-zone .confirm') !== null")
    assert tab.active().startswith("Yes, delete the face data of Mary Jackson")
    browser.press("Enter")
    # THEN the receipt is a page that stays, with what was deleted and a fresh check
    browser.wait_for("location.hash.startsWith('#/receipt') && document.querySelector('.receipt') !== null")
    receipt = tab.text()
    assert "Photos deleted from storage\n3" in receipt or "Photos deleted from storage 3" in receipt.replace(
        "\n", " "
    )
    assert "Nothing of this student's face data is left." in receipt
    tab.check_page("receipt")
    assert s3.list_objects_v2(Bucket=stack.bucket_name, Prefix="enrollment/1MS21CS777/").get("KeyCount") == 0


def test_admin_sees_camera_health_and_the_offline_docs(admin: tuple[Tab, str]) -> None:
    tab, browser = admin[0], admin[0].browser
    api_url = admin[1]
    tab.open("#/cameras", "document.querySelector('.camera-grid') !== null")
    text = tab.text()
    assert "Door camera" in text and "Room camera" in text and "Never heard from" in text
    tab.check_page("cameras")
    # The API's docs render in a browser that reaches nothing but the API (no CDN).
    browser.navigate(f"{api_url}/docs")
    browser.wait_for(
        "document.querySelector('.swagger-ui .info .title')?.textContent.includes('ClassSight API')"
    )
    browser.screenshot(tab.artifacts / "api-docs.png")
    browser.navigate(f"{api_url}/redoc")
    browser.wait_for(
        "document.body.innerText.includes('ClassSight API') && document.querySelector('h1') !== null",
        timeout_s=30,
    )
    browser.screenshot(tab.artifacts / "api-redoc.png")
    assert json.loads(json.dumps(browser.errors())) == []
