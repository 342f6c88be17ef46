"""What the portal needs of the API beyond the records: offline docs, camera health per room,
enrollment photo thumbnails."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine

from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.presence import PresenceReportRecord, insert_report
from cloud_functions.core.db.schema import recognition_events
from infra.local_stack import LocalStack
from tests.integration.test_api_helpers import (
    ADMIN,
    CS502_TEACHER,
    TEACHER,
    TUESDAY,
    Api,
    audit_entries,
    running_api,
    seed,
)


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    seed(engine)
    with running_api(engine, database_url) as api:
        yield api


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_every_asset_from_the_api_itself(api: Api, page: str) -> None:
    # GIVEN the API (no token: the docs are public)
    # WHEN the docs page is fetched
    response = api.client.get(page)
    assert response.status_code == 200
    html = response.text
    # THEN it names no other host: every script, style and icon is a relative URL the API serves
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: ?'([^']+)'", html)
    urls += re.findall(r"""spec-url=["']([^"']+)["']""", html)
    assert urls, html
    for url in urls:
        asset = api.client.get("/" + url.lstrip("/"))
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


def test_docs_assets_serve_only_the_shipped_files(api: Api) -> None:
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = api.client.get(f"/docs/assets/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(("text/javascript", "text/css"))
    # The licence texts and anything outside the folder are not served.
    assert api.client.get("/docs/assets/VERSIONS").status_code in (404, 422)
    assert api.client.get("/docs/assets/swagger-ui.license").status_code == 404
    assert api.client.get("/docs/assets/..%2Fapp.py").status_code in (404, 422)
    assert api.client.get("/docs/assets/../routes/docs.py").status_code == 404


def test_camera_health_says_when_each_camera_was_last_heard_from(api: Api) -> None:
    # GIVEN R101's door camera sent a capture 2 minutes ago and its room camera a report 30 minutes
    # ago (the app's clock is Tuesday 10:00 in Kolkata, during CS501 in R101); R102 sent nothing
    with api.engine.begin() as connection:
        connection.execute(
            recognition_events.insert().values(
                object_key="captures/faces/R101/2026-11-24/c1.jpg",
                capture_id="c1",
                camera_id="R101-door",
                room_id="R101",
                captured_at=TUESDAY - timedelta(minutes=2),
                outcome="recognised",
            )
        )
        insert_report(
            connection,
            PresenceReportRecord(
                object_key="presence/R101/r1.json",
                outcome="confirmed",
                room_id="R101",
                camera_id="R101-room",
                reported_at=TUESDAY - timedelta(minutes=30),
            ),
        )
    # WHEN an admin asks for camera health
    response = api.client.get("/cameras", headers=ADMIN)
    assert response.status_code == 200, response.text
    by_room = {room["room_id"]: room for room in response.json()}
    # THEN R101's door camera is recent, its room camera quiet (during a class), R102's never heard
    r101 = by_room["R101"]
    assert r101["in_session"] is True
    assert [(c["role"], c["camera_id"], c["state"]) for c in r101["cameras"]] == [
        ("door", "R101-door", "recent"),
        ("room", "R101-room", "quiet"),
    ]
    assert r101["cameras"][0]["last_seen_at"].startswith("2026-11-24T04:28")
    assert [c["state"] for c in by_room["R102"]["cameras"]] == ["never", "never"]
    assert by_room["R102"]["in_session"] is False
    # AND a teacher may not see it
    assert api.client.get("/cameras", headers=TEACHER).status_code == 403


def test_enrollment_photo_link_opens_the_stored_photo_and_is_audited(
    engine: Engine, database_url: str, local_stack: LocalStack
) -> None:
    # GIVEN a student's frontal photo in the bucket
    seed(engine)
    s3 = local_stack.client("s3")
    s3.put_object(
        Bucket=local_stack.bucket_name,
        Key="enrollment/1MS21CS000/frontal.jpg",
        Body=b"\xff\xd8jpeg-bytes",
        ContentType="image/jpeg",
    )
    with running_api(
        engine,
        database_url,
        aws_endpoint_url=local_stack.endpoint_url,
        aws_region=local_stack.region,
        bucket_name=local_stack.bucket_name,
    ) as api:
        # WHEN an admin asks for the frontal thumbnail, and for a pose with no photo
        response = api.client.get("/students/1MS21CS000/enrollment/frontal/photo", headers=ADMIN)
        missing = api.client.get("/students/1MS21CS000/enrollment/left/photo", headers=ADMIN)
        teacher = api.client.get("/students/1MS21CS000/enrollment/frontal/photo", headers=TEACHER)
        # THEN the link opens the photo, the missing pose is a 404 and a teacher is refused
        assert response.status_code == 200, response.text
        assert httpx.get(response.json()["url"]).content == b"\xff\xd8jpeg-bytes"
        assert missing.status_code == 404
        assert teacher.status_code == 403
        (entry,) = audit_entries(engine, "view_enrollment_photo")
        assert (entry["actor"], entry["entity_id"]) == ("Ada Admin", "1MS21CS000")


def test_door_photo_of_a_mark_opens_for_the_course_teacher_only_and_is_audited(
    engine: Engine, database_url: str, local_stack: LocalStack
) -> None:
    # GIVEN Ada marked for CS501 by a door capture whose crop is in the bucket, and Alan marked by hand
    seed(engine)
    key = f"captures/faces/R101/2026-11-24/{uuid.uuid4().hex}.jpg"
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket_name, Key=key, Body=b"\xff\xd8door-crop", ContentType="image/jpeg"
    )
    with engine.begin() as connection:
        record_door_sighting(
            connection,
            DoorSighting(
                "1MS21CS000", "CS501", TUESDAY.date(), "R101", TUESDAY, "entered", "face", 0.7, "cap-ada"
            ),
        )
        connection.execute(
            recognition_events.insert().values(
                object_key=key,
                capture_id="cap-ada",
                camera_id="R101-door",
                room_id="R101",
                captured_at=TUESDAY,
                outcome="recognised",
                usn="1MS21CS000",
                similarity=0.7,
            )
        )
    with running_api(
        engine,
        database_url,
        aws_endpoint_url=local_stack.endpoint_url,
        aws_region=local_stack.region,
        bucket_name=local_stack.bucket_name,
    ) as api:
        path = "/attendance/CS501/2026-11-24/{}/door-photo"
        # WHEN CS501's teacher asks for Ada's door photo, CS502's teacher too, and for Alan's
        mine = api.client.get(path.format("1MS21CS000"), headers=TEACHER)
        other = api.client.get(path.format("1MS21CS000"), headers=CS502_TEACHER)
        unmarked = api.client.get(path.format("1MS21CS001"), headers=TEACHER)
        # THEN only CS501's teacher gets a link, it opens the crop, and the viewing is audited
        assert mine.status_code == 200, mine.text
        assert httpx.get(mine.json()["url"]).content == b"\xff\xd8door-crop"
        assert other.status_code == 403
        assert unmarked.status_code == 404
        (entry,) = audit_entries(engine, "view_door_photo")
        assert (entry["actor"], entry["entity_id"]) == ("Tom Teacher", "1MS21CS000/CS501/2026-11-24")
