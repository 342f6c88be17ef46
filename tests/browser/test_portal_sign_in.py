"""Signing in to the portal with a name and password against the local stack's User Pool, the
API's address from the portal's config.json (never typed), signing out, and a session that ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import create_engine
from infra.local_stack import LocalStack
from infra.migrations import upgrade
from tests.browser.cdp import Browser
from tests.browser.portal_harness import (
    ARTIFACTS,
    CHROMIUM,
    PortalHandler,
    Tab,
    running,
    seed_portal_campus,
    signed_in_as,
)
from tests.integration.test_api_helpers import ADMIN
from tests.integration.test_api_sign_in import pool_settings

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

PASSWORD = "correct horse battery staple"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    upgrade(url)
    engine = create_engine(url)
    seed_portal_campus(engine)
    yield engine
    engine.dispose()


def test_a_teacher_signs_in_with_name_and_password_and_signs_out(
    engine: Engine, local_stack: LocalStack, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    with running(engine, **pool_settings(local_stack)) as (portal_url, api_url):
        # GIVEN a teacher account an admin made
        username = f"tom{tmp_path.name[-6:].lower().replace('_', '')}"
        created = httpx.post(
            f"{api_url}/accounts",
            json={"username": username, "role": "teacher", "password": PASSWORD},
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        with Browser(CHROMIUM, tmp_path / "cdp") as browser:
            tab = Tab(browser, portal_url, ARTIFACTS / "sign-in")
            browser.navigate(f"{portal_url}/index.html")
            browser.wait_for("document.querySelector('form [name=username]') !== null")
            # THEN the sign-in page asks for a name and password only: no address, no token
            assert browser.evaluate("[...document.querySelectorAll('#view input')].map((i) => i.name)") == [
                "username",
                "password",
            ]
            tab.check_page("sign-in")
            # WHEN the password is wrong
            tab.fill("[name=username]", username)
            tab.fill("[name=password]", "not the password at all")
            tab.click("form button[type=submit]", "Sign in")
            # THEN it says so next to the password, in plain words
            browser.wait_for(
                "document.querySelector('[name=password]').getAttribute('aria-invalid') === 'true'"
            )
            assert "do not match an account" in tab.text("form")
            tab.check_page("sign-in-wrong-password")
            # WHEN the right one is given
            tab.fill("[name=password]", PASSWORD)
            tab.click("form button[type=submit]", "Sign in")
            # THEN the teacher's home opens, named by the session
            browser.wait_for("document.querySelector('h1')?.textContent === 'My classes today'")
            assert username in tab.text(".account")
            stored = browser.evaluate("JSON.parse(sessionStorage.getItem('classsight.session'))")
            assert stored["role"] == "teacher" and stored["refresh_token"]
            token = stored["access_token"]
            assert httpx.get(f"{api_url}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            # WHEN the teacher signs out
            tab.click(".account button", "Sign out")
            browser.wait_for("document.querySelector('form [name=username]') !== null")
            # THEN the sign-in page says so, the tab forgot the session, and the token is dead
            assert "You have signed out." in tab.text()
            assert browser.evaluate("sessionStorage.getItem('classsight.session')") is None
            assert httpx.get(f"{api_url}/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_session_that_ended_returns_to_sign_in_with_a_plain_message(engine: Engine, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    with running(engine) as (portal_url, _api_url):
        # GIVEN a tab whose stored session the API no longer accepts
        signed_in_as("a-token-that-expired", "Tom Teacher", "teacher", "#/home")
        with Browser(CHROMIUM, tmp_path / "cdp") as browser:
            browser.navigate(f"{portal_url}/__bootstrap.html")
            # THEN the portal goes back to sign-in and says why, instead of an error page
            browser.wait_for("document.querySelector('form [name=username]') !== null")
            assert "Your session has ended. Please sign in again." in str(
                browser.evaluate("document.querySelector('#view').innerText")
            )
            assert browser.evaluate("sessionStorage.getItem('classsight.session')") is None


def test_an_unreachable_api_is_said_plainly(engine: Engine, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    with running(engine) as (portal_url, _api_url):
        # GIVEN a config.json that points at a port where nothing listens
        PortalHandler.config = '{"apiBaseUrl": "http://127.0.0.1:9"}'
        with Browser(CHROMIUM, tmp_path / "cdp") as browser:
            browser.navigate(f"{portal_url}/index.html")
            browser.wait_for("document.querySelector('form [name=username]') !== null")
            browser.evaluate(
                "document.querySelector('[name=username]').value = 'tom';"
                "document.querySelector('[name=password]').value = 'whatever it is';"
                "document.querySelector('form').requestSubmit(); true"
            )
            # THEN the form says the server cannot be reached (no 'saved' message, no raw error)
            browser.wait_for("document.querySelector('.form-error:not([hidden])') !== null")
            assert "cannot be reached" in str(
                browser.evaluate("document.querySelector('.form-error').textContent")
            )
