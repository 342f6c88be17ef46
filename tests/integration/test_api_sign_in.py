"""People sign in with a name and password against the local stack's User Pool (moto's cognito-idp).

The app runs on each database (SQLite, MariaDB) with the pool and portal client the local stack
created from template.yaml; tokens are the endpoint's real RS256 JWTs, verified against the JWKS
it serves. Accounts are made through the API by an admin holding a machine token, as the first
admin is on a fresh campus.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from infra.local_stack import LocalStack
from tests.integration.test_api_helpers import ADMIN, TEACHER, Api, audit_entries, running_api

PASSWORD = "correct horse battery"


def pool_settings(local_stack: LocalStack) -> dict[str, Any]:
    """The settings that point the API at the local stack's pool and endpoint."""
    env = local_stack.env("ApiFunction")
    return {
        "aws_endpoint_url": local_stack.endpoint_url,
        "aws_region": local_stack.region,
        "cognito_user_pool_id": env["CLASSSIGHT_COGNITO_USER_POOL_ID"],
        "cognito_client_id": env["CLASSSIGHT_COGNITO_CLIENT_ID"],
    }


@pytest.fixture
def api(engine: Engine, database_url: str, local_stack: LocalStack) -> Iterator[Api]:
    with running_api(engine, database_url, **pool_settings(local_stack)) as running:
        yield running


def new_username() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def create_account(api: Api, role: str = "teacher", password: str = PASSWORD) -> str:
    username = new_username()
    response = api.client.post(
        "/accounts", json={"username": username, "role": role, "password": password}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return username


def sign_in(api: Api, username: str, password: str = PASSWORD) -> httpx.Response:
    return api.client.post("/auth/sign-in", json={"username": username, "password": password})


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def test_a_teacher_made_by_an_admin_signs_in_and_is_named_by_the_token(api: Api) -> None:
    # GIVEN a teacher account an admin created
    username = create_account(api, "teacher")
    # WHEN the teacher signs in with name and password
    response = sign_in(api, username.upper())
    # THEN a session comes back, and its access token names the teacher on every request
    assert response.status_code == 200, response.text
    session = response.json()
    assert (session["name"], session["role"], session["token_type"]) == (username, "teacher", "Bearer")
    assert session["refresh_token"]
    assert api.client.get("/me", headers=bearer(session)).json() == {"name": username, "role": "teacher"}
    # AND a teacher's token does not reach the admin's routes
    assert api.client.get("/accounts", headers=bearer(session)).status_code == 403
    assert [e.entity_id for e in audit_entries(api.engine, "create_account")] == [username]
    assert [e.actor for e in audit_entries(api.engine, "sign_in")] == [username]


def test_an_admin_account_lists_accounts(api: Api) -> None:
    admin = create_account(api, "admin")
    teacher = create_account(api, "teacher")
    session = sign_in(api, admin).json()
    listed = api.client.get("/accounts", headers=bearer(session))
    assert listed.status_code == 200
    roles = {account["username"]: (account["role"], account["enabled"]) for account in listed.json()}
    assert roles[admin] == ("admin", True) and roles[teacher] == ("teacher", True)


def test_wrong_password_and_unknown_name_get_the_same_answer(api: Api) -> None:
    username = create_account(api)
    wrong = sign_in(api, username, "not the password at all")
    unknown = sign_in(api, new_username(), "not the password at all")
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "wrong username or password"}


def test_failed_sign_ins_for_one_name_are_limited_with_retry_after(
    engine: Engine, database_url: str, local_stack: LocalStack
) -> None:
    with running_api(
        engine, database_url, sign_in_max_failures_per_username=3, **pool_settings(local_stack)
    ) as api:
        username = create_account(api)
        # GIVEN three wrong passwords for one name
        statuses = [sign_in(api, username, f"guess number {n}").status_code for n in range(3)]
        assert statuses == [401, 401, 401]
        # WHEN even the right password comes next
        limited = sign_in(api, username)
        # THEN it is refused with 429 and how long to wait, without the password being tried
        assert limited.status_code == 429
        assert 0 < int(limited.headers["Retry-After"]) <= api.settings.sign_in_failure_window_s
        assert limited.json() == {"detail": "too many failed sign-ins; wait before trying again"}
        # AND another name from the same address still signs in
        other = create_account(api)
        assert sign_in(api, other).status_code == 200


def test_failed_sign_ins_from_one_address_are_limited_across_names(
    engine: Engine, database_url: str, local_stack: LocalStack
) -> None:
    with running_api(
        engine, database_url, sign_in_max_failures_per_address=4, **pool_settings(local_stack)
    ) as api:
        username = create_account(api)
        # GIVEN one address trying four different names (a password spray)
        assert {sign_in(api, new_username(), "spring2026!!").status_code for _ in range(4)} == {401}
        # THEN the address is refused, even for a real name and password
        assert sign_in(api, username).status_code == 429


def test_a_correct_password_clears_the_names_failures(
    engine: Engine, database_url: str, local_stack: LocalStack
) -> None:
    with running_api(
        engine, database_url, sign_in_max_failures_per_username=3, **pool_settings(local_stack)
    ) as api:
        username = create_account(api)
        for _ in range(2):
            assert sign_in(api, username, "typo in the password").status_code == 401
        assert sign_in(api, username).status_code == 200
        for _ in range(2):
            assert sign_in(api, username, "another typo here").status_code == 401
        assert sign_in(api, username).status_code == 200


def test_sign_out_ends_the_access_and_refresh_tokens_at_once(api: Api) -> None:
    username = create_account(api)
    session = sign_in(api, username).json()
    # GIVEN a refreshed session
    refreshed = api.client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert api.client.get("/me", headers=bearer(refreshed.json())).status_code == 200
    # WHEN the person signs out
    assert api.client.post("/auth/sign-out", headers=bearer(session)).status_code == 204
    # THEN neither the old nor the refreshed access token works, and the refresh token is dead
    for token in (session, refreshed.json()):
        answer = api.client.get("/me", headers=bearer(token))
        assert answer.status_code == 401
        assert answer.json() == {"detail": "the session has ended; sign in again"}
    again = api.client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert again.status_code == 401
    # AND signing in again starts a new session
    assert api.client.get("/me", headers=bearer(sign_in(api, username).json())).status_code == 200


def test_a_machine_token_cannot_sign_out(api: Api) -> None:
    assert api.client.post("/auth/sign-out", headers=TEACHER).status_code == 403
    assert api.client.post("/auth/sign-out").status_code == 401


def test_disabling_an_account_ends_its_sessions_and_its_sign_in(api: Api) -> None:
    username = create_account(api)
    session = sign_in(api, username).json()
    # WHEN an admin disables the account
    disabled = api.client.patch(f"/accounts/{username}", json={"enabled": False}, headers=ADMIN)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    # THEN its token stops at once and its password no longer signs in
    assert api.client.get("/me", headers=bearer(session)).status_code == 401
    assert sign_in(api, username).json() == {"detail": "wrong username or password"}
    # AND enabled again, it signs in
    assert api.client.patch(f"/accounts/{username}", json={"enabled": True}, headers=ADMIN).status_code == 200
    assert sign_in(api, username).status_code == 200
    assert len(audit_entries(api.engine, "disable_account")) == 1


def test_a_password_reset_replaces_the_password_and_ends_sessions(api: Api) -> None:
    username = create_account(api)
    session = sign_in(api, username).json()
    new_password = "a much longer new passphrase"
    reset = api.client.put(f"/accounts/{username}/password", json={"password": new_password}, headers=ADMIN)
    assert reset.status_code == 204
    assert api.client.get("/me", headers=bearer(session)).status_code == 401
    assert sign_in(api, username).status_code == 401
    assert sign_in(api, username, new_password).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({"role": "teacher", "password": "Xq7#pw"}, 422, ["body", "password"]),
        ({"role": "student", "password": PASSWORD}, 422, ["body", "role"]),
        ({"role": "teacher", "password": PASSWORD, "username": "has space"}, 422, ["body", "username"]),
    ],
    ids=["short-password", "unknown-role", "bad-username"],
)
def test_bad_account_requests_name_their_field(
    api: Api, body: dict[str, Any], status: int, loc: list[str]
) -> None:
    response = api.client.post("/accounts", json={"username": new_username(), **body}, headers=ADMIN)
    assert response.status_code == status
    assert response.json()["detail"][0]["loc"] == loc
    # AND the rejected password is not echoed back
    assert body["password"] not in response.text


def test_an_existing_username_conflicts_and_an_unknown_one_is_not_found(api: Api) -> None:
    username = create_account(api)
    again = api.client.post(
        "/accounts", json={"username": username, "role": "admin", "password": PASSWORD}, headers=ADMIN
    )
    assert again.status_code == 409
    assert api.client.get(f"/accounts/{new_username()}", headers=ADMIN).status_code == 404
    assert api.client.get(f"/accounts/{username}", headers=ADMIN).json()["role"] == "teacher"


def test_machine_tokens_keep_working_beside_people_tokens(api: Api) -> None:
    assert api.client.get("/me", headers=ADMIN).json() == {"name": "Ada Admin", "role": "admin"}


def test_no_password_or_token_is_ever_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN every log record at every level captured
    caplog.set_level(logging.DEBUG)
    username = create_account(api)
    # WHEN a person fails, signs in, refreshes, is reset and signs out
    sign_in(api, username, "a wrong password typed")
    session = sign_in(api, username).json()
    refreshed = api.client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]}).json()
    api.client.put(f"/accounts/{username}/password", json={"password": PASSWORD + "!"}, headers=ADMIN)
    api.client.post("/auth/sign-out", headers=bearer(session))
    # THEN the log holds none of the passwords or tokens
    text = caplog.text
    assert "signed in" in text  # the flow did log
    secrets = [PASSWORD, PASSWORD + "!", "a wrong password typed", session["refresh_token"]]
    secrets += [session["access_token"], refreshed["access_token"]]
    secrets += [token.split(".")[2] for token in (session["access_token"], refreshed["access_token"])]
    assert [secret for secret in secrets if secret in text] == []


def test_without_a_pool_sign_in_answers_503(engine: Engine, database_url: str) -> None:
    with running_api(engine, database_url) as api:
        response = sign_in(api, "someone")
        assert response.status_code == 503


def test_sign_in_through_the_local_http_api_limits_by_the_callers_address(
    engine: Engine, database_url: str, local_stack: LocalStack
) -> None:
    # GIVEN the API served as the local stack serves it (API Gateway payload 2.0, Mangum)
    from mangum import Mangum

    from cloud_functions.api.app import create_app
    from tests.integration.test_api_helpers import api_settings

    app = create_app(
        api_settings(database_url, sign_in_max_failures_per_address=2, **pool_settings(local_stack))
    )
    gateway = local_stack.http_api({"ApiFunction": Mangum(app, lifespan="off")}).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=30) as http:
            username = new_username()
            created = http.post(
                "/accounts",
                json={"username": username, "role": "teacher", "password": PASSWORD},
                headers=ADMIN,
            )
            assert created.status_code == 201
            session = http.post("/auth/sign-in", json={"username": username, "password": PASSWORD}).json()
            assert http.get("/me", headers=bearer(session)).json()["name"] == username
            # WHEN one address fails twice with other names
            for _ in range(2):
                wrong = http.post("/auth/sign-in", json={"username": new_username(), "password": "x" * 12})
                assert wrong.status_code == 401
            # THEN the gateway's sourceIp is the address limited, for every name
            limited = http.post("/auth/sign-in", json={"username": username, "password": PASSWORD})
            assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    finally:
        gateway.stop()
        app.state.engine.dispose()
