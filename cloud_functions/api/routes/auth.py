"""Signing in with a name and password, keeping the session fresh, and signing out.

Sign-in and refresh need no token; they answer with the User Pool's access token, which every
other request carries as its bearer token. Session times use the real clock: tokens carry it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.engine import Engine

from cloud_functions.api.crud import audit, sessions
from cloud_functions.api.deps import (
    AccountsDep,
    ConnectionDep,
    CurrentUser,
    PeopleTokensDep,
    PersonTokenDep,
    get_engine,
)
from cloud_functions.api.errors import PermissionDeniedError
from cloud_functions.api.responses import AUTHENTICATED, WITH_BODY, documented
from cloud_functions.api.schemas import RefreshCreate, SessionPublic, SignInCreate

router = APIRouter(prefix="/auth", tags=["sign-in"])


def _client_address(request: Request) -> str:
    # The connection's peer: API Gateway's sourceIp behind Mangum. X-Forwarded-For is not read:
    # a client can write anything into it, and the limit would be theirs to choose.
    return request.client.host if request.client else "unknown"


@router.post(
    "/sign-in",
    response_model=SessionPublic,
    responses={**WITH_BODY, **documented(401, 429, 500, 503)},
)
def sign_in(
    body: SignInCreate,
    request: Request,
    engine: Annotated[Engine, Depends(get_engine)],
    accounts: AccountsDep,
    verifier: PeopleTokensDep,
) -> SessionPublic:
    """Sign in with a name and password. Wrong names and wrong passwords get the same 401; after
    too many failures for one name or from one address, 429 with Retry-After (seconds)."""
    return sessions.sign_in_person(
        engine,
        accounts,
        verifier,
        request.app.state.settings,
        username=body.username,
        password=body.password.get_secret_value(),
        client_address=_client_address(request),
        now=datetime.now(UTC),
    )


@router.post(
    "/refresh",
    response_model=SessionPublic,
    responses={**WITH_BODY, **documented(401, 500, 503)},
)
def refresh(
    body: RefreshCreate, connection: ConnectionDep, accounts: AccountsDep, verifier: PeopleTokensDep
) -> SessionPublic:
    """A new access token for the session of a refresh token (401 once signed out or disabled)."""
    return sessions.refresh_session(connection, accounts, verifier, body.refresh_token.get_secret_value())


@router.post(
    "/sign-out",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**AUTHENTICATED, **documented(403)},
)
def sign_out(
    _user: CurrentUser, person: PersonTokenDep, connection: ConnectionDep, accounts: AccountsDep
) -> Response:
    """End the caller's sessions: their access and refresh tokens stop working at once."""
    if person is None:
        raise PermissionDeniedError("only a signed-in person can sign out (this is a machine token)")
    username = person.principal.name
    sessions.end_sessions(connection, username, datetime.now(UTC))
    accounts.sign_out(username)
    audit.record(connection, actor=username, action="sign_out", entity="account", entity_id=username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
